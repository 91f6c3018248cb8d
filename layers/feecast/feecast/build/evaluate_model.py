"""Evaluate The Model: the backtest forecasts -> every model on the same windows -> the gate.

The batch transform forecast every backtest origin (feecast.backtest) with the candidate, and
with the model in production when there is a comparable one. Here, on exactly the same windows:
- the naive forecast (feecast.baseline.naive_forecast) from the history before each origin;
- the robust baseline (feecast.baseline.RobustBaseline), fitted on the candidate's training
  part, forecasting each origin from the history before it;
- every model's pooled mean wQL and 90% interval coverage, and the candidate against each
  other model: the pooled ratio with its 95% block-bootstrap interval, the median per-window
  ratio, the share of windows won and the ratio without the worst 1% (feecast.stats);
- the gate (feecast.threshold.gate) and the alarm threshold the model earns from its own
  rolling pooled loss (feecast.backtest.alarm_calibration).
DeepAR's own test metrics (test:mean_wQuantileLoss over its test quantiles, one window) are
copied from the training job when it reports them; they are informative only.

evaluation.json (schema "feecast.evaluation/2", docs/build.md) has a `regression_metrics`
section in SageMaker's model-quality shape ({"name": {"value": x, "standard_deviation": s}}),
so the model registry shows the numbers, and a `feecast` section with everything else.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from feecast.adapters.errors import NotFound
from feecast.backtest import (
    AlarmCalibration,
    BacktestPlan,
    BacktestResult,
    actual_windows,
    alarm_calibration,
    evaluate_backtest,
    naive_verdict,
    plan_backtest,
)
from feecast.baseline import RobustBaseline, naive_forecast
from feecast.build.settings import EvaluateSettings
from feecast.config import ValidationConfig
from feecast.deepar import Forecast, from_record, parse_batch_output, quantile_key
from feecast.series import MINUTE, MinuteSeries
from feecast.stats import Comparison
from feecast.threshold import GateDecision, gate

from .comparison import RatioSummary
from .layout import BuildLayout
from .ports import ArtifactStore
from .production import ProductionModel
from .window import DataWindow

__all__ = [
    "EVALUATION_SCHEMA",
    "EvaluateRequest",
    "EvaluateSettings",
    "EvaluationError",
    "EvaluationResult",
    "compose_evaluation",
    "evaluate_model",
]

EVALUATION_SCHEMA = "feecast.evaluation/2"
CANDIDATE, NAIVE, ROBUST, PRODUCTION = "candidate", "naive", "robust", "production"
_ISO = "%Y-%m-%dT%H:%M:%SZ"


class EvaluationError(RuntimeError):
    """The forecasts or the history cannot be scored (missing object, wrong shape)."""


class EvaluateData(BaseModel):
    """The part of Prepare The Data's result the evaluation needs."""

    execution_name: str
    prediction_length: int = Field(ge=1)
    quantiles: list[str] = Field(min_length=1)
    target_col: str
    dynamic_features: list[str] = Field(default_factory=list)
    backtest: dict[str, Any]
    production: ProductionModel = Field(
        default_factory=lambda: ProductionModel(present=False, reason="not looked up")
    )
    window: DataWindow


class EvaluateRequest(BaseModel):
    execution_arn: str
    trigger: str = "manual"
    training_job_name: str
    data: EvaluateData


class EvaluationResult(BaseModel):
    """What the state machine keeps in $.evaluation (the gate's Choice reads `passed`)."""

    passed: bool
    reason: str
    reasons: list[str]
    mean_wql: float | None  # the candidate's pooled backtest loss
    baseline_wql: float | None  # the naive forecast's, same windows
    robust_wql: float | None
    production_wql: float | None
    vs_naive: RatioSummary | None
    vs_robust: RatioSummary | None
    vs_production: RatioSummary | None
    coverage: float | None  # share of actual minutes inside the candidate's central interval
    naive_verdict: str
    alarm_threshold: float | None
    windows: int
    backtest_start: str | None
    backtest_end: str | None
    deepar_test_wql: float | None
    evaluation_uri: str
    summary: str  # one line for notifications


def _summary(c: Comparison | None) -> RatioSummary | None:
    if c is None or c.ratio is None or c.ci95 is None or not math.isfinite(c.ci95[1]):
        return None
    return RatioSummary(
        ratio=round(c.ratio, 5),
        ci_low=round(c.ci95[0], 5),
        ci_high=round(c.ci95[1], 5),
        std=None if c.std is None else round(c.std, 5),
        median_window_ratio=None
        if c.median_window_ratio is None
        else round(c.median_window_ratio, 5),
        windows_won=None if c.windows_won is None else round(c.windows_won, 4),
        ratio_without_worst=None
        if c.ratio_without_worst is None
        else round(c.ratio_without_worst, 5),
        windows=c.windows,
    )


def _fmt(value: float | None, digits: int = 4) -> str:
    return "undefined" if value is None else f"{value:.{digits}f}"


def _regression_metrics(result: BacktestResult, alarm: AlarmCalibration | None) -> dict[str, Any]:
    """SageMaker's model-quality statistics shape; undefined values are left out."""
    out: dict[str, dict[str, float]] = {}
    prefixes = {CANDIDATE: "", NAIVE: "naive_", ROBUST: "robust_", PRODUCTION: "production_"}
    for name, prefix in prefixes.items():
        if name not in result.scores:
            continue
        scores = result.scores[name]
        pooled, coverage = scores.pooled(), scores.coverage()
        if pooled is not None:
            out[f"{prefix}mean_wQuantileLoss"] = {"value": round(pooled, 6)}
        if coverage is not None:
            out[f"{prefix}interval_coverage"] = {"value": round(coverage, 4)}
    for other, c in result.comparisons.items():
        summary = _summary(c)
        if summary is None:
            continue
        entry: dict[str, float] = {"value": summary.ratio}
        if summary.std is not None:
            entry["standard_deviation"] = summary.std
        out[f"ratio_to_{other}"] = entry
        out[f"ratio_to_{other}_ci95_low"] = {"value": summary.ci_low}
        out[f"ratio_to_{other}_ci95_high"] = {"value": summary.ci_high}
        if summary.windows_won is not None:
            out[f"windows_won_vs_{other}"] = {"value": summary.windows_won}
        if summary.median_window_ratio is not None:
            out[f"median_window_ratio_to_{other}"] = {"value": summary.median_window_ratio}
        if summary.ratio_without_worst is not None:
            out[f"ratio_to_{other}_without_worst_1pct"] = {"value": summary.ratio_without_worst}
    if alarm is not None:
        out["alarm_threshold"] = {"value": round(alarm.threshold, 6)}
    return out


def compose_evaluation(
    *,
    series: MinuteSeries,
    plan: BacktestPlan,
    forecasts: Mapping[str, list[Forecast]],
    quantiles: list[str],
    validation: ValidationConfig,
    production: ProductionModel,
    deepar_metrics: Mapping[str, float],
    facts: Mapping[str, Any],
) -> tuple[dict[str, Any], GateDecision, BacktestResult, AlarmCalibration | None]:
    """Score every model on the backtest windows, decide, build evaluation.json (pure).

    `forecasts` holds the transform's forecasts: "candidate" (required) and "production".
    The naive and robust baselines are computed here from `series`.
    """
    keys = [quantile_key(q) for q in quantiles]
    pl = plan.prediction_length
    for name, got in forecasts.items():
        if len(got) != len(plan.origins):
            raise EvaluationError(
                f"the {name} transform returned {len(got)} forecasts for {len(plan.origins)} "
                "backtest origins: the output does not match the input"
            )
        for i, forecast in enumerate(got):
            if len(forecast) != pl:
                raise EvaluationError(
                    f"{name} forecast {i} has {len(forecast)} points, expected {pl}: "
                    "prediction_length changed between training and evaluation?"
                )
            missing_q = [k for k in keys if k not in forecast.quantiles]
            if missing_q:
                raise EvaluationError(
                    f"{name} forecast {i} lacks quantiles {missing_q} (has "
                    f"{list(forecast.quantiles)}): check DEEPAR_INFERENCE_CONFIG"
                )
    values = series.values
    all_forecasts: dict[str, list[Forecast]] = {CANDIDATE: list(forecasts[CANDIDATE])}
    notes: list[str] = []
    try:
        all_forecasts[NAIVE] = [naive_forecast(values[:o], pl, keys) for o in plan.origins]
    except ValueError as exc:
        notes.append(f"naive forecast unavailable: {exc}")
    try:
        robust = RobustBaseline.fit(series, pl, keys, fit_end=plan.first)
        all_forecasts[ROBUST] = robust.forecasts(series, list(plan.origins))
    except ValueError as exc:
        notes.append(f"robust baseline unavailable: {exc}")
    if PRODUCTION in forecasts:
        all_forecasts[PRODUCTION] = list(forecasts[PRODUCTION])

    spacing = int(validation.origin_spacing_minutes)
    block = max(1, round(validation.bootstrap_block_hours * 60 / spacing))
    result = evaluate_backtest(
        actual_windows(values, plan.origins, pl),
        all_forecasts,
        quantiles=keys,
        subject=CANDIDATE,
        block=block,
        resamples=validation.bootstrap_resamples,
        origins=plan.origins,
    )
    loss = result.pooled(CANDIDATE)
    production_note = None if production.present else production.reason
    decision = gate(
        loss=loss,
        vs_naive=result.ratio(NAIVE),
        vs_production=result.ratio(PRODUCTION),
        vs_robust=result.ratio(ROBUST),
        naive_margin=validation.naive_margin,
        production_tolerance=validation.production_tolerance,
        robust_tolerance=validation.robust_tolerance,
        max_loss=validation.max_loss,
        production_note=production_note,
    )
    alarm: AlarmCalibration | None = None
    try:
        alarm = alarm_calibration(
            result.scores[CANDIDATE],
            spacing_minutes=spacing,
            alarm_window_hours=validation.alarm_window_hours,
            quantile=validation.threshold_quantile,
        )
    except ValueError as exc:
        notes.append(f"no alarm threshold: {exc}")

    origin_times = [f"{series.start + o * MINUTE:{_ISO}}" for o in plan.origins]
    per_window = result.per_window()
    document = {
        "schema": EVALUATION_SCHEMA,
        "regression_metrics": _regression_metrics(result, alarm),
        "feecast": {
            **facts,
            "quantiles": keys,
            "prediction_length": pl,
            "backtest": {
                **plan.to_dict(series.start),
                "block_hours": validation.bootstrap_block_hours,
                **result.to_dict(),
            },
            "naive_verdict": naive_verdict(result.ratio(NAIVE)),
            "production": production.model_dump(),
            "gate": decision.to_dict(),
            "alarm": alarm.to_dict() if alarm is not None else None,
            "notes": notes,
            "deepar_training_metrics": dict(deepar_metrics),
            "windows": [
                {"origin": t, **{name: per_window[name][i] for name in per_window}}
                for i, t in enumerate(origin_times)
            ],
        },
    }
    return document, decision, result, alarm


def evaluate_model(
    request: EvaluateRequest,
    settings: EvaluateSettings,
    *,
    validation: ValidationConfig,
    store: ArtifactStore,
    training_metrics: Callable[[str], Mapping[str, float]],
    now: datetime | None = None,
) -> EvaluationResult:
    """Read the history and the forecasts; write evaluation.json; return the decision."""
    data = request.data
    layout = BuildLayout(store.bucket, data.execution_name)
    try:
        series = from_record(json.loads(store.get_text(layout.series_key)))
        forecasts = {CANDIDATE: parse_batch_output(store.get_text(layout.transform_output_key))}
        if data.production.present:
            forecasts[PRODUCTION] = parse_batch_output(store.get_text(layout.production_output_key))
    except NotFound as exc:
        raise EvaluationError(f"{exc}: did the transform job write its output?") from exc
    bt = data.backtest
    try:
        plan = plan_backtest(
            series,
            holdout=len(series) - int(bt["first_index"]),
            spacing=int(bt["spacing_steps"]),
            prediction_length=data.prediction_length,
            context=int(bt["context_steps"]),
        )
    except (KeyError, ValueError) as exc:
        raise EvaluationError(f"the backtest plan cannot be rebuilt: {exc}") from exc
    if len(plan.origins) != int(bt.get("origins", -1)):
        raise EvaluationError(
            f"Prepare The Data planned {bt.get('origins')} origins, the history now gives "
            f"{len(plan.origins)}: data/series.json changed?"
        )

    deepar_metrics = dict(training_metrics(request.training_job_name))
    facts = {
        "execution_arn": request.execution_arn,
        "execution_name": data.execution_name,
        "trigger": request.trigger,
        "training_job": request.training_job_name,
        "target_col": data.target_col,
        "dynamic_features": list(data.dynamic_features),
        "window": data.window.model_dump(),
        "evaluated_at": f"{(now or datetime.now(UTC)):%Y-%m-%dT%H:%M:%SZ}",
    }
    document, decision, result, alarm = compose_evaluation(
        series=series,
        plan=plan,
        forecasts=forecasts,
        quantiles=data.quantiles,
        validation=validation,
        production=data.production,
        deepar_metrics=deepar_metrics,
        facts=facts,
    )
    uri = store.put_text(layout.evaluation_key, json.dumps(document, indent=1, allow_nan=False))

    deepar_wql = deepar_metrics.get("test:mean_wQuantileLoss")
    vs_naive, vs_robust, vs_production = (
        _summary(result.ratio(NAIVE)),
        _summary(result.ratio(ROBUST)),
        _summary(result.ratio(PRODUCTION)),
    )
    verdict = naive_verdict(result.ratio(NAIVE))
    start = series.start + plan.first * MINUTE
    end = series.start + (plan.origins[-1] + plan.prediction_length) * MINUTE
    parts = [
        f"backtest of {len(plan.origins)} windows of {plan.prediction_length} min from "
        f"{start:{_ISO}} to {end:{_ISO}}: candidate mean wQL {_fmt(result.pooled(CANDIDATE))}, "
        f"{verdict}"
    ]
    for label, summary in (
        ("naive", vs_naive),
        ("robust baseline", vs_robust),
        ("production", vs_production),
    ):
        if summary is not None:
            parts.append(
                f"vs {label} {summary.ratio:.3f} (95% CI {summary.ci_low:.3f}-"
                f"{summary.ci_high:.3f}, wins {summary.windows_won or 0:.0%} of windows)"
            )
    coverage = result.scores[CANDIDATE].coverage()
    parts.append(f"90% interval coverage {_fmt(coverage, 3)}")
    if alarm is not None:
        parts.append(f"alarm threshold {alarm.threshold:.4f}")
    return EvaluationResult(
        passed=decision.passed,
        reason=decision.reason,
        reasons=decision.reasons,
        mean_wql=result.pooled(CANDIDATE),
        baseline_wql=result.pooled(NAIVE) if NAIVE in result.scores else None,
        robust_wql=result.pooled(ROBUST) if ROBUST in result.scores else None,
        production_wql=result.pooled(PRODUCTION) if PRODUCTION in result.scores else None,
        vs_naive=vs_naive,
        vs_robust=vs_robust,
        vs_production=vs_production,
        coverage=coverage,
        naive_verdict=verdict,
        alarm_threshold=None if alarm is None else alarm.threshold,
        windows=len(plan.origins),
        backtest_start=f"{start:{_ISO}}",
        backtest_end=f"{end:{_ISO}}",
        deepar_test_wql=deepar_wql,
        evaluation_uri=uri,
        summary="; ".join(parts),
    )


def final_metrics(description: Mapping[str, Any]) -> dict[str, float]:
    """{metric name: value} from a DescribeTrainingJob response's FinalMetricDataList."""
    out: dict[str, float] = {}
    for item in description.get("FinalMetricDataList") or []:
        try:
            value = float(item["Value"])
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(value):
            out[str(item["MetricName"])] = value
    return out
