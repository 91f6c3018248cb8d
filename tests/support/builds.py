"""A build's requests as the state machine passes them between steps, for tests of several suites."""

from __future__ import annotations

from typing import Any

from feecast.build.register_model import RegisterRequest

EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:feecast-model-build:manual-x"
WINDOW = {
    "requested_start": "2026-01-03T12:00:00Z",
    "requested_end": "2026-01-05T12:00:00Z",
    "first_minute": "2026-01-03T12:00:00Z",
    "last_minute": "2026-01-05T11:59:00Z",
    "holdout_start": "2026-01-05T11:30:00Z",
    "points": 2880,
    "observed": 2875,
    "missing": 5,
    "gap_count": 2,
    "longest_gap_minutes": 3,
    "offline_points": 2860,
    "online_points": 15,
    "offline_last_minute": "2026-01-05T11:44:00Z",
}


def register_request(**evaluation: Any) -> RegisterRequest:
    ratio = {"ratio": 0.8, "ci_low": 0.72, "ci_high": 0.9, "windows_won": 0.7, "windows": 144}
    ev = {
        "mean_wql": 0.2,
        "baseline_wql": 0.25,
        "robust_wql": 0.19,
        "production_wql": None,
        "vs_naive": ratio,
        "vs_robust": {**ratio, "ratio": 1.05, "ci_low": 0.98, "ci_high": 1.12},
        "vs_production": None,
        "coverage": 0.87,
        "naive_verdict": "beats naive (20% lower loss)",
        "alarm_threshold": 0.31,
        "windows": 144,
        "backtest_start": "2026-01-02T12:00:00Z",
        "backtest_end": "2026-01-05T12:00:00Z",
        "deepar_test_wql": None,
        "evaluation_uri": "s3://artifacts/builds/manual-x/evaluation.json",
        "reason": "passed: naive: upper 95% bound 0.900 < 1.000 (1 - naive_margin 0)",
    }
    ev.update(evaluation)
    """What "Register The Model" receives for a passing build; `evaluation` overrides its fields."""
    return RegisterRequest.model_validate(
        {
            "execution_arn": EXECUTION,
            "trigger": "manual",
            "image": "224300973850.dkr.ecr.eu-west-1.amazonaws.com/forecasting-deepar:1",
            "model_data_url": "s3://artifacts/builds/manual-x/model/job/output/model.tar.gz",
            "training_job_name": "feecast-manual-x-1234abcd",
            "data": {
                "execution_name": "manual-x",
                "target_col": "avg_fee_1min",
                "prediction_length": 30,
                "quantiles": ["0.05", "0.5", "0.95"],
                "window": WINDOW,
            },
            "evaluation": ev,
        }
    )
