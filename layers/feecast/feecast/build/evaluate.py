"""Evaluate The Model: the batch forecast of the held-out window -> evaluation.json + the gate.

Model loss: mean weighted quantile loss (feecast.metrics) of the transform's forecast against
the held-out minutes, per quantile too (the validation quantiles, e.g. 0.05 / 0.5 / 0.95).
Baseline: feecast.baseline.naive_forecast from the same training context, scored the same way.
DeepAR's own test metrics (test:mean_wQuantileLoss over its test quantiles) are copied from the
training job when it reports them; they are informative, the gate uses our loss.

evaluation.json (schema "feecast.evaluation/1", see docs/build.md) has a `regression_metrics`
section in SageMaker's model-quality shape ({"name": {"value": x}}), so the model registry
shows it, and a `feecast` section with everything else.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from feecast.baseline import naive_forecast
from feecast.config import ValidationConfig
from feecast.deepar import Forecast, from_jsonl, from_record, parse_batch_output, quantile_key
from feecast.metrics import LossResult, wql_from_forecasts
from feecast.series import MinuteSeries
from feecast.settings import BaseSettings
from feecast.threshold import GateDecision, gate

from .artifacts import ArtifactStore
from .layout import BuildLayout
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

EVALUATION_SCHEMA = "feecast.evaluation/1"


class EvaluationError(RuntimeError):
    """The forecast or the actuals cannot be scored (missing object, wrong shape)."""


class EvaluateSettings(BaseSettings):
    artifact_bucket: str


class EvaluateData(BaseModel):
    """The part of Prepare The Data's result the evaluation needs."""

    execution_name: str
    prediction_length: int = Field(ge=1)
    quantiles: list[str] = Field(min_length=1)
    target_col: str
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
    mean_wql: float | None
    baseline_wql: float | None
    per_quantile: dict[str, float | None]
    threshold: float
    baseline_margin: float | None
    deepar_test_wql: float | None
    evaluation_uri: str
    summary: str  # one line for notifications


def _metric_entries(prefix: str, loss: LossResult) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    if loss.mean is not None:
        out[f"{prefix}mean_wQuantileLoss"] = {"value": loss.mean}
    for key, value in loss.per_quantile.items():
        if value is not None:
            out[f"{prefix}wQuantileLoss[{key}]"] = {"value": value}
    return out


def point_errors(actual: MinuteSeries, forecast: Forecast) -> dict[str, float]:
    """MAE and RMSE of the mean forecast on the observed held-out minutes ({} if none)."""
    observed = ~np.isnan(actual.values)
    if not observed.any():
        return {}
    err = forecast.mean[observed] - actual.values[observed]
    return {"mae": float(np.mean(np.abs(err))), "rmse": float(math.sqrt(np.mean(err**2)))}


def compose_evaluation(
    *,
    actuals: MinuteSeries,
    context: MinuteSeries,
    forecast: Forecast,
    quantiles: list[str],
    validation: ValidationConfig,
    deepar_metrics: Mapping[str, float],
    facts: Mapping[str, Any],
) -> tuple[dict[str, Any], GateDecision, LossResult, LossResult | None, str | None]:
    """Score the model and the naive baseline, decide the gate, build evaluation.json (pure).

    Returns (document, decision, model loss, baseline loss or None, why no baseline).
    """
    if len(forecast) != len(actuals):
        raise EvaluationError(
            f"the forecast has {len(forecast)} points but the held-out window has "
            f"{len(actuals)}: prediction_length changed between training and evaluation?"
        )
    keys = [quantile_key(q) for q in quantiles]
    missing_q = [k for k in keys if k not in forecast.quantiles]
    if missing_q:
        raise EvaluationError(
            f"the forecast lacks quantiles {missing_q} (has {list(forecast.quantiles)}): "
            "check DEEPAR_INFERENCE_CONFIG of the transform job"
        )
    model_loss = wql_from_forecasts(actuals.values, [forecast], keys)
    baseline_loss: LossResult | None = None
    baseline_note: str | None = None
    try:
        naive = naive_forecast(context, len(actuals), keys)
        baseline_loss = wql_from_forecasts(actuals.values, [naive], keys)
    except ValueError as exc:
        baseline_note = f"naive baseline unavailable: {exc}"
    baseline_value = baseline_loss.mean if baseline_loss is not None else None
    decision = gate(
        model_loss,
        validation.threshold,
        baseline_loss=baseline_value,
        baseline_margin=validation.baseline_margin,
    )

    regression: dict[str, dict[str, float]] = _metric_entries("", model_loss)
    if baseline_loss is not None:
        regression.update(_metric_entries("baseline_", baseline_loss))
    regression.update({k: {"value": v} for k, v in point_errors(actuals, forecast).items()})
    document = {
        "schema": EVALUATION_SCHEMA,
        "regression_metrics": regression,
        "feecast": {
            **facts,
            "quantiles": keys,
            "prediction_length": len(actuals),
            "model": model_loss.to_dict(),
            "baseline": (
                baseline_loss.to_dict()
                if baseline_loss is not None
                else {"defined": False, "reason": baseline_note}
            ),
            "deepar_training_metrics": dict(deepar_metrics),
            "gate": decision.to_dict(),
            "actuals": {
                "start": f"{actuals.start:%Y-%m-%dT%H:%M:%SZ}",
                "values": _jsonable(actuals),
            },
            "forecast": forecast.to_dict(),
        },
    }
    return document, decision, model_loss, baseline_loss, baseline_note


def _jsonable(series: MinuteSeries) -> list[float | None]:
    return [None if math.isnan(v) else v for v in series.values.tolist()]


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4f}"


def evaluate_model(
    request: EvaluateRequest,
    settings: EvaluateSettings,
    *,
    validation: ValidationConfig,
    store: ArtifactStore,
    training_metrics: Callable[[str], Mapping[str, float]],
    now: datetime | None = None,
) -> EvaluationResult:
    """Read the forecast, actuals and context; write evaluation.json; return the decision."""
    data = request.data
    layout = BuildLayout(store.bucket, data.execution_name)
    try:
        forecasts = parse_batch_output(store.get_text(layout.transform_output_key))
        actuals = from_record(json.loads(store.get_text(layout.actuals_key)))
        contexts = from_jsonl(store.get_text(layout.transform_input_key))
    except FileNotFoundError as exc:
        raise EvaluationError(f"{exc}: did the transform job write its output?") from exc
    if len(forecasts) != 1 or len(contexts) != 1:
        raise EvaluationError(
            f"expected one forecast for one series, got {len(forecasts)} forecasts for "
            f"{len(contexts)} input series"
        )
    if len(actuals) != data.prediction_length:
        raise EvaluationError(
            f"held-out window has {len(actuals)} minutes, expected {data.prediction_length}"
        )

    deepar_metrics = dict(training_metrics(request.training_job_name))
    facts = {
        "execution_arn": request.execution_arn,
        "execution_name": data.execution_name,
        "trigger": request.trigger,
        "training_job": request.training_job_name,
        "target_col": data.target_col,
        "window": data.window.model_dump(),
        "evaluated_at": f"{(now or datetime.now(UTC)):%Y-%m-%dT%H:%M:%SZ}",
    }
    document, decision, model_loss, baseline_loss, _ = compose_evaluation(
        actuals=actuals,
        context=contexts[0],
        forecast=forecasts[0],
        quantiles=data.quantiles,
        validation=validation,
        deepar_metrics=deepar_metrics,
        facts=facts,
    )
    uri = store.put_text(layout.evaluation_key, json.dumps(document, indent=2, allow_nan=False))

    deepar_wql = deepar_metrics.get("test:mean_wQuantileLoss")
    baseline_value = baseline_loss.mean if baseline_loss is not None else None
    per_q = ", ".join(f"{k}: {_fmt(v)}" for k, v in model_loss.per_quantile.items())
    summary = (
        f"mean wQL {_fmt(model_loss.mean)} (per quantile {per_q}); naive baseline "
        f"{_fmt(baseline_value)}; threshold {decision.threshold:.4f}; DeepAR "
        f"test:mean_wQuantileLoss {_fmt(deepar_wql)}; held-out window from "
        f"{data.window.holdout_start} ({model_loss.evaluated} observed minutes)"
    )
    return EvaluationResult(
        passed=decision.passed,
        reason=decision.reason,
        mean_wql=model_loss.mean,
        baseline_wql=baseline_value,
        per_quantile=dict(model_loss.per_quantile),
        threshold=decision.threshold,
        baseline_margin=decision.baseline_margin,
        deepar_test_wql=deepar_wql,
        evaluation_uri=uri,
        summary=summary,
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
