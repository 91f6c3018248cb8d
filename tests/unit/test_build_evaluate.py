"""Evaluate The Model: losses, baseline, gate and evaluation.json composition."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest
from feecast.build.artifacts import MemoryStore
from feecast.build.evaluate import (
    EVALUATION_SCHEMA,
    EvaluateRequest,
    EvaluateSettings,
    EvaluationError,
    compose_evaluation,
    evaluate_model,
    final_metrics,
)
from feecast.build.layout import BuildLayout
from feecast.config import ValidationConfig
from feecast.deepar import Forecast, to_jsonl, to_record
from feecast.series import MinuteSeries

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
Q = ["0.05", "0.5", "0.95"]


def context_series(n: int = 600) -> MinuteSeries:
    rng = np.random.default_rng(3)
    return MinuteSeries(START, 20 + np.cumsum(rng.normal(0, 0.3, n)).clip(-15, None))


def actuals_after(context: MinuteSeries, n: int = 4) -> MinuteSeries:
    return MinuteSeries(context.end, np.array([10.0, 20.0, np.nan, 30.0][:n]))


def forecast(n: int = 4) -> Forecast:
    return Forecast(
        mean=np.array([11.0, 19.0, 15.0, 29.0][:n]),
        quantiles={
            "0.05": np.array([8.0, 15.0, 1.0, 25.0][:n]),
            "0.5": np.array([11.0, 19.0, 15.0, 29.0][:n]),
            "0.95": np.array([14.0, 25.0, 40.0, 35.0][:n]),
        },
    )


def hand_wql(y: list[float], q: list[float], tau: float) -> float:
    num = sum((1 - tau) * (f - a) if f > a else tau * (a - f) for a, f in zip(y, q, strict=True))
    return 2 * num / sum(abs(a) for a in y)


def test_given_a_forecast_then_losses_match_the_definition_on_observed_minutes() -> None:
    ctx = context_series()
    doc, decision, model, baseline, note = compose_evaluation(
        actuals=actuals_after(ctx),
        context=ctx,
        forecast=forecast(),
        quantiles=Q,
        validation=ValidationConfig(threshold=0.5),
        deepar_metrics={"test:mean_wQuantileLoss": 0.12},
        facts={"training_job": "job"},
    )
    y = [10.0, 20.0, 30.0]  # the NaN minute is skipped
    expected = {
        "0.05": hand_wql(y, [8.0, 15.0, 25.0], 0.05),
        "0.5": hand_wql(y, [11.0, 19.0, 29.0], 0.5),
        "0.95": hand_wql(y, [14.0, 25.0, 35.0], 0.95),
    }
    assert model.per_quantile == pytest.approx(expected)
    assert model.mean == pytest.approx(sum(expected.values()) / 3)
    assert baseline is not None and baseline.defined and note is None
    assert decision.passed and decision.loss == pytest.approx(model.mean)
    assert decision.baseline_loss == pytest.approx(baseline.mean)
    rm = doc["regression_metrics"]
    assert rm["mean_wQuantileLoss"]["value"] == pytest.approx(model.mean)
    assert rm["wQuantileLoss[0.5]"]["value"] == pytest.approx(expected["0.5"])
    assert rm["baseline_mean_wQuantileLoss"]["value"] == pytest.approx(baseline.mean)
    assert rm["mae"]["value"] == pytest.approx(1.0)
    assert doc["schema"] == EVALUATION_SCHEMA
    assert doc["feecast"]["deepar_training_metrics"] == {"test:mean_wQuantileLoss": 0.12}
    assert doc["feecast"]["gate"]["passed"] is True
    assert doc["feecast"]["actuals"]["values"][2] is None
    json.dumps(doc, allow_nan=False)  # valid JSON for the model registry


def test_given_a_tiny_threshold_then_the_gate_fails_with_both_numbers_in_the_reason() -> None:
    ctx = context_series()
    _, decision, model, baseline, _ = compose_evaluation(
        actuals=actuals_after(ctx),
        context=ctx,
        forecast=forecast(),
        quantiles=Q,
        validation=ValidationConfig(threshold=0.001),
        deepar_metrics={},
        facts={},
    )
    assert not decision.passed
    assert f"{model.mean:.4f} > threshold 0.0010" in decision.reason
    assert baseline is not None and f"naive baseline {baseline.mean:.4f}" in decision.reason


def test_given_a_baseline_margin_the_model_must_beat_the_baseline() -> None:
    ctx = context_series()
    bad = Forecast(mean=np.full(4, 100.0), quantiles={q: np.full(4, 100.0) for q in Q})
    _, decision, *_ = compose_evaluation(
        actuals=actuals_after(ctx),
        context=ctx,
        forecast=bad,
        quantiles=Q,
        validation=ValidationConfig(threshold=100.0, baseline_margin=0.0),
        deepar_metrics={},
        facts={},
    )
    assert not decision.passed and "naive baseline" in decision.reason


def test_given_too_little_context_for_the_baseline_then_it_is_reported_unavailable() -> None:
    ctx = context_series(20)
    doc, decision, _, baseline, note = compose_evaluation(
        actuals=actuals_after(ctx),
        context=ctx,
        forecast=forecast(),
        quantiles=Q,
        validation=ValidationConfig(threshold=0.5),
        deepar_metrics={},
        facts={},
    )
    assert baseline is None and note and "too little history" in note
    assert doc["feecast"]["baseline"]["defined"] is False
    assert decision.passed  # no margin configured: the baseline is informative only


def test_given_a_forecast_of_the_wrong_length_or_quantiles_then_evaluation_errors() -> None:
    ctx = context_series()
    with pytest.raises(EvaluationError, match="forecast has 3 points"):
        compose_evaluation(
            actuals=actuals_after(ctx), context=ctx, forecast=forecast(3), quantiles=Q,
            validation=ValidationConfig(), deepar_metrics={}, facts={},
        )  # fmt: skip
    with pytest.raises(EvaluationError, match=r"lacks quantiles \['0.25'\]"):
        compose_evaluation(
            actuals=actuals_after(ctx), context=ctx, forecast=forecast(), quantiles=["0.25"],
            validation=ValidationConfig(), deepar_metrics={}, facts={},
        )  # fmt: skip


# -- the whole step with a memory store -------------------------------------------------------
WINDOW = {
    "requested_start": "2026-01-04T00:00:00Z",
    "requested_end": "2026-01-05T10:04:00Z",
    "first_minute": "2026-01-05T00:00:00Z",
    "last_minute": "2026-01-05T10:03:00Z",
    "holdout_start": "2026-01-05T10:00:00Z",
    "points": 604,
    "observed": 603,
    "missing": 1,
    "gap_count": 1,
    "longest_gap_minutes": 1,
    "offline_points": 600,
    "online_points": 3,
    "offline_last_minute": "2026-01-05T09:59:00Z",
}


def stored_build(store: MemoryStore) -> EvaluateRequest:
    ctx = context_series()
    layout = BuildLayout(store.bucket, "manual-x")
    store.put_text(layout.transform_input_key, to_jsonl([ctx]))
    store.put_text(layout.actuals_key, json.dumps(to_record(actuals_after(ctx))))
    store.put_text(layout.transform_output_key, json.dumps(forecast().to_dict()) + "\n")
    return EvaluateRequest.model_validate(
        {
            "execution_arn": "arn:aws:states:eu-west-1:1:execution:sm:manual-x",
            "trigger": "manual",
            "training_job_name": "feecast-manual-x-12345678",
            "data": {
                "execution_name": "manual-x",
                "prediction_length": 4,
                "quantiles": Q,
                "target_col": "avg_fee_1min",
                "window": WINDOW,
            },
        }
    )


def test_given_stored_forecast_and_actuals_then_evaluation_json_is_written() -> None:
    store = MemoryStore("artifacts")
    req = stored_build(store)
    result = evaluate_model(
        req,
        EvaluateSettings(
            project_name="feecast", ssm_prefix="/feecast", artifact_bucket="artifacts"
        ),
        validation=ValidationConfig(threshold=0.5),
        store=store,
        training_metrics=lambda job: (
            {"test:mean_wQuantileLoss": 0.2} if job == req.training_job_name else {}
        ),
        now=datetime(2026, 1, 5, 10, 30, tzinfo=UTC),
    )
    doc = json.loads(store.objects["builds/manual-x/evaluation.json"])
    assert result.evaluation_uri == "s3://artifacts/builds/manual-x/evaluation.json"
    assert result.passed and result.mean_wql == pytest.approx(
        doc["regression_metrics"]["mean_wQuantileLoss"]["value"]
    )
    assert result.deepar_test_wql == 0.2 and result.baseline_wql is not None
    assert "naive baseline" in result.summary and "0.2000" in result.summary
    assert doc["feecast"]["window"]["holdout_start"] == "2026-01-05T10:00:00Z"
    assert doc["feecast"]["evaluated_at"] == "2026-01-05T10:30:00Z"


def test_given_no_transform_output_then_the_error_says_so() -> None:
    store = MemoryStore("artifacts")
    req = stored_build(store)
    del store.objects[BuildLayout("artifacts", "manual-x").transform_output_key]
    with pytest.raises(EvaluationError, match="did the transform job write its output"):
        evaluate_model(
            req,
            EvaluateSettings(project_name="f", ssm_prefix="/f", artifact_bucket="artifacts"),
            validation=ValidationConfig(),
            store=store,
            training_metrics=lambda job: {},
        )


def test_final_metrics_keeps_finite_named_values() -> None:
    desc = {
        "FinalMetricDataList": [
            {"MetricName": "test:mean_wQuantileLoss", "Value": 0.21, "Timestamp": START},
            {"MetricName": "test:RMSE", "Value": float("nan")},
            {"MetricName": "train:final_loss", "Value": 1.5},
        ]
    }
    assert final_metrics(desc) == {"test:mean_wQuantileLoss": 0.21, "train:final_loss": 1.5}
    assert final_metrics({}) == {}
