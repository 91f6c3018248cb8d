"""Evaluate The Model: every model on the same backtest windows, intervals, gate, evaluation.json."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest
from feecast.backtest import plan_backtest
from feecast.baseline import naive_forecast
from feecast.build.evaluate_model import (
    EVALUATION_SCHEMA,
    EvaluateRequest,
    EvaluationError,
    compose_evaluation,
    evaluate_model,
    final_metrics,
)
from feecast.build.layout import BuildLayout
from feecast.build.production import ProductionModel
from feecast.build.settings import EvaluateSettings
from feecast.config import ValidationConfig
from feecast.deepar import Forecast, to_record
from feecast.metrics import weighted_quantile_loss
from feecast.series import MinuteSeries

from feecast_testing.artifacts import MemoryStore

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
Q = ["0.05", "0.5", "0.95"]
PL = 30


def fee_series(n: int = 1000, seed: int = 3) -> MinuteSeries:
    """A positive random walk with minute noise: the naive forecast follows the noise."""
    rng = np.random.default_rng(seed)
    level = 20 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return MinuteSeries(START, level * rng.lognormal(0, 0.3, n))


SERIES = fee_series()
PLAN = plan_backtest(SERIES, holdout=360, spacing=30, prediction_length=PL, context=1440)
NO_PRODUCTION = ProductionModel(present=False, reason="no model in production yet")


def around(series: MinuteSeries, origins: tuple[int, ...], factor: float = 1.0) -> list[Forecast]:
    """A good model: quantiles around the smoothed truth (what the noise cannot take away)."""
    out = []
    smooth = np.convolve(series.values, np.ones(15) / 15, mode="same")
    for o in origins:
        centre = smooth[o : o + PL] * factor
        out.append(
            Forecast(
                mean=centre,
                quantiles={"0.05": centre * 0.62, "0.5": centre, "0.95": centre * 1.6},
            )
        )
    return out


def constant(origins: tuple[int, ...], value: float) -> list[Forecast]:
    flat = np.full(PL, value)
    return [Forecast(mean=flat, quantiles={q: flat for q in Q}) for _ in origins]


def compose(forecasts: dict[str, list[Forecast]], **validation: object):
    return compose_evaluation(
        series=SERIES,
        plan=PLAN,
        forecasts=forecasts,
        quantiles=Q,
        validation=ValidationConfig(**validation),  # type: ignore[arg-type]
        production=NO_PRODUCTION,
        deepar_metrics={"test:mean_wQuantileLoss": 0.12},
        facts={"training_job": "job"},
    )


def test_every_model_is_scored_on_the_same_windows_as_feecast_metrics_defines() -> None:
    candidate = around(SERIES, PLAN.origins)
    doc, decision, result, alarm = compose({"candidate": candidate})
    actual = np.stack([SERIES.values[o : o + PL] for o in PLAN.origins])
    stacked = {q: np.stack([f.quantiles[q] for f in candidate]) for q in Q}
    assert result.pooled("candidate") == pytest.approx(weighted_quantile_loss(actual, stacked).mean)
    naive = [naive_forecast(SERIES.values[:o], PL, Q) for o in PLAN.origins]
    naive_stacked = {q: np.stack([f.quantiles[q] for f in naive]) for q in Q}
    assert result.pooled("naive") == pytest.approx(
        weighted_quantile_loss(actual, naive_stacked).mean
    )
    assert set(result.scores) == {"candidate", "naive", "robust"}
    assert all(len(s) == 12 for s in result.scores.values())
    vs_naive = result.ratio("naive")
    assert vs_naive is not None and vs_naive.ci95 is not None
    assert vs_naive.ratio == pytest.approx(result.pooled("candidate") / result.pooled("naive"))
    assert vs_naive.ci95[0] <= vs_naive.ratio <= vs_naive.ci95[1] < 1
    assert decision.passed, decision.reason
    assert alarm is not None and alarm.pools == 2  # 6-hour pools of hourly windows: 12 - 10
    rm = doc["regression_metrics"]
    assert doc["schema"] == EVALUATION_SCHEMA == "feecast.evaluation/2"
    assert rm["mean_wQuantileLoss"]["value"] == pytest.approx(result.pooled("candidate"), abs=1e-6)
    assert rm["ratio_to_naive"]["value"] == pytest.approx(vs_naive.ratio, abs=1e-5)
    assert rm["ratio_to_naive"]["standard_deviation"] > 0
    assert rm["ratio_to_naive_ci95_high"]["value"] == pytest.approx(vs_naive.ci95[1], abs=1e-5)
    assert "windows_won_vs_robust" in rm and "naive_interval_coverage" in rm
    windows = doc["feecast"]["windows"]
    assert len(windows) == 12 and windows[0]["origin"] == "2026-01-05T10:40:00Z"
    assert set(windows[0]) == {"origin", "candidate", "naive", "robust"}
    assert doc["feecast"]["backtest"]["origins"] == 12
    assert doc["feecast"]["gate"]["passed"] is True


def test_a_model_no_better_than_naive_is_rejected_by_the_naive_rule_with_numbers() -> None:
    flat = float(np.nanmean(SERIES.values[:640]))
    _, decision, result, _ = compose({"candidate": constant(PLAN.origins, flat * 1.3)})
    assert decision.passed is False
    assert [c.rule for c in decision.failed] == ["naive"]
    upper = result.ratio("naive").ci95[1]  # type: ignore[union-attr]
    assert f"upper 95% bound {upper:.3f} >= 1.200 (1 - naive_margin -0.2)" in decision.reason


def test_the_sanity_cap_rejects_on_the_same_quantiles() -> None:
    _, decision, result, _ = compose({"candidate": around(SERIES, PLAN.origins)}, max_loss=0.01)
    assert decision.passed is False
    assert decision.reasons == [
        f"sanity cap: backtest mean wQL {result.pooled('candidate'):.4f} > max_loss 0.01"
    ]


def test_the_production_model_is_compared_on_the_same_windows() -> None:
    good = around(SERIES, PLAN.origins)
    _, worse_prod, result, _ = compose(
        {"candidate": good, "production": around(SERIES, PLAN.origins, 1.4)}
    )
    assert worse_prod.passed and result.ratio("production").ratio < 1  # type: ignore[union-attr]
    _, better_prod, _, _ = compose(
        {"candidate": around(SERIES, PLAN.origins, 1.15), "production": good}
    )
    assert [c.rule for c in better_prod.failed] == ["production"]


@pytest.mark.parametrize(
    ("forecasts", "message"),
    [
        (lambda: around(SERIES, PLAN.origins)[:5], "returned 5 forecasts for 12 backtest origins"),
        (
            lambda: [
                Forecast(mean=f.mean[:10], quantiles={k: v[:10] for k, v in f.quantiles.items()})
                for f in around(SERIES, PLAN.origins)
            ],
            "has 10 points, expected 30",
        ),
        (
            lambda: [
                Forecast(mean=f.mean, quantiles={"0.5": f.quantiles["0.5"]})
                for f in around(SERIES, PLAN.origins)
            ],
            "lacks quantiles",
        ),
    ],
)
def test_forecasts_that_do_not_match_the_plan_are_an_evaluation_error(forecasts, message) -> None:
    with pytest.raises(EvaluationError, match=message):
        compose({"candidate": forecasts()})


# -- the step, with objects in a fake S3 -----------------------------------------------------
def batch_output(forecasts: list[Forecast]) -> str:
    return "".join(json.dumps(f.to_dict()) + "\n" for f in forecasts)


def stored_build(store: MemoryStore, *, production: bool = False) -> EvaluateRequest:
    layout = BuildLayout("artifacts", "manual-x")
    store.put_text(layout.series_key, json.dumps(to_record(SERIES)))
    store.put_text(layout.transform_output_key, batch_output(around(SERIES, PLAN.origins)))
    if production:
        store.put_text(
            layout.production_output_key, batch_output(around(SERIES, PLAN.origins, 1.2))
        )
    return EvaluateRequest.model_validate(
        {
            "execution_arn": "arn:aws:states:eu-west-1:1:execution:sm:manual-x",
            "training_job_name": "feecast-manual-x-1234abcd",
            "data": {
                "execution_name": "manual-x",
                "prediction_length": PL,
                "quantiles": Q,
                "target_col": "avg_fee_1min",
                "backtest": PLAN.to_dict(SERIES.start),
                "production": {"present": production, "version": 2 if production else None},
                "window": {
                    "requested_start": "2026-01-04T00:00:00Z",
                    "requested_end": "2026-01-05T16:40:00Z",
                    "first_minute": "2026-01-05T00:00:00Z",
                    "last_minute": "2026-01-05T16:39:00Z",
                    "holdout_start": "2026-01-05T10:40:00Z",
                    "points": 1000,
                    "observed": 1000,
                    "missing": 0,
                    "gap_count": 0,
                    "longest_gap_minutes": 0,
                    "offline_points": 1000,
                    "online_points": 0,
                    "offline_last_minute": None,
                },
            },
        }
    )


SETTINGS = EvaluateSettings(
    project_name="feecast", ssm_prefix="/feecast", artifact_bucket="artifacts"
)


def test_given_the_transform_outputs_then_evaluation_json_and_the_decision_are_written() -> None:
    store = MemoryStore("artifacts")
    req = stored_build(store, production=True)
    result = evaluate_model(
        req,
        SETTINGS,
        validation=ValidationConfig(),
        store=store,
        training_metrics=lambda job: (
            {"test:mean_wQuantileLoss": 0.2} if job == req.training_job_name else {}
        ),
        now=datetime(2026, 1, 5, 17, 0, tzinfo=UTC),
    )
    doc = json.loads(store.objects["builds/manual-x/evaluation.json"])
    assert result.evaluation_uri == "s3://artifacts/builds/manual-x/evaluation.json"
    assert result.passed, result.reason
    assert result.mean_wql == pytest.approx(
        doc["regression_metrics"]["mean_wQuantileLoss"]["value"], abs=1e-6
    )
    assert result.windows == 12 and result.vs_naive is not None and result.vs_production is not None
    assert result.vs_production.ratio < 1 and result.production_wql is not None
    assert result.alarm_threshold == pytest.approx(doc["feecast"]["alarm"]["threshold"])
    assert result.backtest_start == "2026-01-05T10:40:00Z"
    assert result.backtest_end == "2026-01-05T16:40:00Z"
    assert result.deepar_test_wql == 0.2
    assert "backtest of 12 windows" in result.summary and "vs naive" in result.summary
    assert "beats naive" in result.naive_verdict
    assert doc["feecast"]["evaluated_at"] == "2026-01-05T17:00:00Z"
    assert set(doc["feecast"]["windows"][0]) == {
        "origin",
        "candidate",
        "naive",
        "robust",
        "production",
    }
    json.dumps(result.model_dump(mode="json"))  # what the state machine keeps is plain JSON


def test_given_no_transform_output_then_the_error_says_so() -> None:
    store = MemoryStore("artifacts")
    req = stored_build(store)
    del store.objects[BuildLayout("artifacts", "manual-x").transform_output_key]
    with pytest.raises(EvaluationError, match="did the transform job write its output"):
        evaluate_model(
            req, SETTINGS, validation=ValidationConfig(), store=store, training_metrics=lambda j: {}
        )


def test_given_a_production_model_without_its_output_then_the_error_says_so() -> None:
    store = MemoryStore("artifacts")
    req = stored_build(store)
    req = req.model_copy(
        update={"data": req.data.model_copy(update={"production": ProductionModel(present=True)})}
    )
    with pytest.raises(EvaluationError, match=r"transform/production/backtest\.json\.out"):
        evaluate_model(
            req, SETTINGS, validation=ValidationConfig(), store=store, training_metrics=lambda j: {}
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
