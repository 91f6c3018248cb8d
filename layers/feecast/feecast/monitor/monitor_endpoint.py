"""The hourly monitoring run of one endpoint (MonitorEndpointFunction calls `monitor_endpoint`).

At the scheduled time T (the schedule's, not the wall clock's: a replayed run computes the same
thing), for the stage's endpoint:
1. score the forecast made at the previous run (origin T-1h) on the minutes [T-60, T-30) that
   have now happened, and the naive baseline on the same minutes (window.py). The stored
   forecast is used when it exists and was made by the endpoint's current model; otherwise
   (first hour, a missed run, a new model deployed since) the endpoint is asked now for the same
   window with the same history before T-60, so a new model is scored from its first hour;
2. ask the endpoint for the next forecast (history up to T) and store it for the next run;
3. keep the window's score (SCORE#<endpoint>/WINDOW#<origin>) and pool it with the previous
   windows of the same model over the last `alarm_window_hours` (rolling.py); the pooled loss
   is published only when every hour of the pool was scored for the current model;
4. publish WeightedQuantileLoss, BaselineWeightedQuantileLoss (the window's), the rolling
   RollingWeightedQuantileLoss (what the alarm watches), RollingBaselineWeightedQuantileLoss
   and ModelToNaiveRatio (each only when defined) and Threshold, timestamped T, with
   dimensions Stage and EndpointName.
Publishing comes last, so a run that fails before it publishes nothing and its retry starts
clean; `monitor_endpoint` runs this once per (endpoint, T).

The schedules are always enabled (template.yaml owns their state): when the stage's endpoint
does not exist the run reads nothing, publishes nothing and says "skipped".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from feecast.adapters.errors import AwsThrottled, NoAnswer
from feecast.config import FeecastConfig, freq_minutes
from feecast.deepar import Forecast, FormatError, inference_request, parse_endpoint_response
from feecast.monitor.events import MonitorRunRequest, normalise_status
from feecast.monitor.names import (
    BASELINE_METRIC,
    FORECAST_FAILURES,
    LOSS_METRIC,
    MISSING_ACTUAL_MINUTES,
    MONITORING_RUNS,
    RATIO_METRIC,
    ROLLING_BASELINE_METRIC,
    ROLLING_LOSS_METRIC,
    THRESHOLD_METRIC,
    endpoint_name,
    metric_dimensions,
)
from feecast.monitor.ports import Endpoints, MetricSink, MonitorState
from feecast.monitor.records import (
    EndpointState,
    ForecastStore,
    ScoreStore,
    StoredForecast,
    endpoint_state,
)
from feecast.monitor.rolling import HOUR, RollingScore, WindowRecord, rolling_score
from feecast.monitor.settings import RunSettings
from feecast.monitor.window import (
    EvaluationWindow,
    WindowScore,
    context_before,
    evaluation_window,
    score_window,
)
from feecast.observability import logger, metrics
from feecast.ports import Forecaster, Once, RecentMinutes
from feecast.series import MINUTE, MinuteSeries, floor_minute
from feecast.times import iso

__all__ = ["MonitorRunResult", "RunPorts", "monitor_endpoint", "run_hour"]

# An updating endpoint keeps serving its previous variant, so it can still be asked.
_SERVING = {"IN_SERVICE", "UPDATING", "SYSTEM_UPDATING", "ROLLING_BACK", "UPDATE_ROLLBACK_FAILED"}
# CloudWatch refuses datapoints older than two weeks: replaying an older hour has no effect.
REPLAY_GUARD = timedelta(days=14)


class MonitorRunResult(BaseModel):
    """What one run scored and published (a skipped run: `skipped` and nothing published)."""

    stage: str
    endpoint_name: str
    scheduled_time: str
    published: list[str]  # the metric names published for the hour
    skipped: str | None = None  # why nothing was read or published
    forecast_source: str | None = None  # stored | recomputed | none
    threshold: float | None = None
    # the scored window (window.EvaluationWindow.to_dict: start, end, minutes)
    window: dict[str, Any] | None = None
    loss: float | None = None
    baseline_loss: float | None = None
    evaluated_minutes: int | None = None
    missing_minutes: int | None = None
    missing_at: list[str] = Field(default_factory=list)
    weight: float | None = None
    model: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    notes: list[str] = Field(default_factory=list)
    rolling: dict[str, Any] | None = None  # rolling.RollingScore.to_dict
    next_forecast: dict[str, Any] | None = None  # origin, stored and why not
    forecast_failures: list[str] = Field(default_factory=list)
    replayed: bool = False  # a repeat of the hour answered with the first run's result


@dataclass
class RunPorts:
    """What a run needs from AWS (`from_adapters` puts it on the adapters; tests pass fakes)."""

    read_minutes: Callable[[datetime, datetime], MinuteSeries]
    describe_endpoint: Callable[[str], EndpointState | None]
    # (endpoint, request body) -> the parsed forecasts; NoAnswer, AwsThrottled or FormatError
    # when none came back
    invoke: Callable[[str, dict[str, Any]], list[Forecast]]
    # (namespace, stage, endpoint, scheduled hour, values)
    publish: Callable[[str, str, str, datetime, dict[str, float]], None]
    get_forecast: Callable[[str, datetime], StoredForecast | None] | None = None
    put_forecast: Callable[[StoredForecast], bool] | None = None
    # (endpoint, since, until) -> the scored windows with origins in [since, until]
    get_windows: Callable[[str, datetime, datetime], list[WindowRecord]] | None = None
    put_window: Callable[[str, WindowRecord, RollingScore, datetime], None] | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @classmethod
    def from_adapters(
        cls,
        settings: RunSettings,
        config: FeecastConfig,
        *,
        state: MonitorState,
        endpoints: Endpoints,
        forecaster: Forecaster,
        metric_sink: MetricSink,
        history: RecentMinutes,
    ) -> RunPorts:
        store, scores = ForecastStore(state), ScoreStore(state)

        def read_minutes(start: datetime, end: datetime) -> MinuteSeries:
            return history.read_minutes(
                settings.feature_group_name, start, end, config.target.target_col
            )

        def publish(
            namespace: str, stage: str, endpoint: str, at: datetime, values: dict[str, float]
        ) -> None:
            # The scheduled hour as the timestamp: a replayed or late run lands on its hour.
            metric_sink.put(namespace, metric_dimensions(stage, endpoint), at, values)

        return cls(
            read_minutes=read_minutes,
            describe_endpoint=lambda name: endpoint_state(endpoints.describe_endpoint(name)),
            invoke=lambda name, body: parse_endpoint_response(forecaster.invoke(name, body)),
            publish=publish,
            get_forecast=store.get,
            put_forecast=store.put,
            get_windows=scores.window_records,
            put_window=scores.put,
        )


@dataclass
class _Forecaster:
    """Asks the endpoint for a forecast starting at an origin, from the history before it."""

    ports: RunPorts
    endpoint: str
    quantiles: list[str]
    history_minutes: int
    prediction_length: int
    num_samples: int
    failures: list[str] = field(default_factory=list)

    def at(self, history: MinuteSeries, origin: datetime) -> Forecast | None:
        context = context_before(history, origin, self.history_minutes)
        if context.observed_count == 0:
            self.failures.append(f"no observed minute before {iso(origin)} to forecast from")
            return None
        body = inference_request([context], num_samples=self.num_samples, quantiles=self.quantiles)
        try:
            forecasts = self.ports.invoke(self.endpoint, body)
        except (NoAnswer, AwsThrottled, FormatError) as exc:
            self.failures.append(f"endpoint {self.endpoint} did not forecast: {exc}")
            return None
        if len(forecasts) != 1 or len(forecasts[0]) < self.prediction_length:
            self.failures.append(
                f"endpoint {self.endpoint} answered {len(forecasts)} forecast(s), "
                f"expected one of {self.prediction_length} steps"
            )
            return None
        missing = [q for q in self.quantiles if q not in forecasts[0].quantiles]
        if missing:
            self.failures.append(f"endpoint {self.endpoint} omitted quantiles {missing}")
            return None
        return forecasts[0]


def _has_quantiles(forecast: Forecast, quantiles: list[str]) -> bool:
    return all(q in forecast.quantiles for q in quantiles)


def run_hour(
    request: MonitorRunRequest,
    config: FeecastConfig,
    ports: RunPorts,
    *,
    namespace: str,
    history_minutes: int = 1440,
    num_samples: int = 100,
) -> MonitorRunResult:
    """Score, forecast, store and publish for one endpoint and one scheduled hour."""
    target = config.target
    if freq_minutes(target.freq) != 1:
        raise ValueError(f"monitoring compares minutes; target freq {target.freq!r} is not 1min")
    horizon = target.prediction_length
    quantiles = list(config.validation.quantiles)
    threshold = config.validation.threshold
    scheduled = floor_minute(request.scheduled_time)
    endpoint = request.endpoint_name
    window: EvaluationWindow = evaluation_window(scheduled, horizon)
    history_len = max(history_minutes, config.hyperparameters.effective_context_length(horizon))

    state = ports.describe_endpoint(endpoint)
    # 1a. the forecast stored by the previous run (a deleted endpoint's last one is still scored)
    stored = ports.get_forecast(endpoint, window.origin) if ports.get_forecast else None
    if state is None and stored is None:
        # No endpoint and nothing left to score (before the first deployment, after a teardown):
        # the alarm treats the missing hour as not breaching.
        logger.info("monitoring run skipped", extra={"endpoint": endpoint, "reason": "absent"})
        return MonitorRunResult(
            stage=request.stage,
            endpoint_name=endpoint,
            scheduled_time=iso(scheduled),
            skipped=f"endpoint {endpoint} does not exist",
            published=[],
        )
    # One read covers the history before the window's origin, the window and the minutes up to T.
    history = ports.read_minutes(window.origin - history_len * MINUTE, scheduled)
    serving = state is not None and normalise_status(state.status) in _SERVING
    forecaster = _Forecaster(ports, endpoint, quantiles, history_len, horizon, num_samples)

    # 1. the forecast to score: stored by the previous run, or asked now for the same window.
    forecast: Forecast | None = None
    source = "none"
    made_by: str | None = None
    if (
        stored is not None
        and _has_quantiles(stored.forecast, quantiles)
        and (state is None or stored.endpoint_config_name in (None, state.config_name))
    ):
        forecast, source = stored.forecast, "stored"
        made_by = stored.endpoint_config_name or (state.config_name if state else None)
    elif serving:
        forecast = forecaster.at(history, window.origin)
        source = "recomputed" if forecast is not None else "none"
        made_by = state.config_name if state else None
    score: WindowScore = score_window(history, window, forecast, quantiles)

    # The rolling pool: this window and the previous ones of the same model.
    hours = config.validation.alarm_window_hours
    record = WindowRecord(
        origin=window.origin,
        loss=score.loss,
        baseline_loss=score.baseline_loss,
        weight=score.weight,
        config=made_by,
    )
    earlier = (
        ports.get_windows(endpoint, window.origin - (hours - 1) * HOUR, window.origin)
        if ports.get_windows is not None
        else []
    )
    records = [r for r in earlier if r.origin != window.origin] + [record]
    current_config = made_by or (state.config_name if state else None)
    rolling = rolling_score(records, until=window.origin, hours=hours, config=current_config)
    if ports.put_window is not None:
        ports.put_window(endpoint, record, rolling, scheduled)

    # 2. the next forecast, kept for the next run.
    next_forecast: dict[str, Any] = {"origin": iso(scheduled), "stored": False}
    if not serving:
        status = "absent" if state is None else state.status
        next_forecast["reason"] = f"endpoint {endpoint} is not serving ({status})"
    else:
        made = forecaster.at(history, scheduled)
        if made is not None and ports.put_forecast is not None:
            stored_now = StoredForecast(
                endpoint=endpoint,
                origin=scheduled,
                forecast=made,
                endpoint_config_name=state.config_name if state else None,
                made_at=ports.now(),
            )
            next_forecast["stored"] = ports.put_forecast(stored_now)
            if not next_forecast["stored"]:
                next_forecast["reason"] = "a forecast for this origin was already stored"
    for failure in forecaster.failures:
        logger.warning("monitoring forecast failed", extra={"endpoint": endpoint, "why": failure})

    # 3. publish (last).
    values: dict[str, float] = {THRESHOLD_METRIC: threshold}
    if score.loss is not None:
        values[LOSS_METRIC] = score.loss
    if score.baseline_loss is not None:
        values[BASELINE_METRIC] = score.baseline_loss
    if rolling.loss is not None and rolling.complete:
        values[ROLLING_LOSS_METRIC] = rolling.loss
    if rolling.baseline_loss is not None:
        values[ROLLING_BASELINE_METRIC] = rolling.baseline_loss
    if rolling.ratio is not None:
        values[RATIO_METRIC] = rolling.ratio
    ports.publish(namespace, request.stage, endpoint, scheduled, values)

    if score.missing_minutes:
        logger.warning(
            "actual minutes missing in the monitoring window",
            extra={
                "endpoint": endpoint,
                "window": score.window.to_dict(),
                "missing_minutes": score.missing_minutes,
                "missing_at": [iso(m) for m in score.missing_at],
            },
        )
    if score.loss is None:
        logger.warning(
            "no loss published for this hour",
            extra={"endpoint": endpoint, "source": source, "notes": list(score.notes)},
        )
    metrics.add_dimension(name="Stage", value=request.stage)
    metrics.add_metric(name=MONITORING_RUNS, unit="Count", value=1)
    metrics.add_metric(name=MISSING_ACTUAL_MINUTES, unit="Count", value=score.missing_minutes)
    metrics.add_metric(name=FORECAST_FAILURES, unit="Count", value=len(forecaster.failures))

    result = MonitorRunResult(
        stage=request.stage,
        endpoint_name=endpoint,
        scheduled_time=iso(scheduled),
        forecast_source=source,
        threshold=threshold,
        published=sorted(values),
        **score.to_dict(),
        rolling=rolling.to_dict(),
        next_forecast=next_forecast,
        forecast_failures=list(forecaster.failures),
    )
    logger.info(
        "monitoring run done",
        extra={"stage": result.stage, "loss": result.loss, "threshold": result.threshold},
    )
    return result


def monitor_endpoint(
    request: MonitorRunRequest,
    settings: RunSettings,
    config: FeecastConfig,
    ports: RunPorts,
    *,
    once: Once,
    lambda_context: Any | None = None,
) -> MonitorRunResult:
    """The handler's one call: `run_hour` once per (endpoint, hour)."""
    expected = endpoint_name(settings.project_name, request.stage)
    if request.stage not in settings.stages or request.endpoint_name != expected:
        raise ValueError(
            f"stage {request.stage!r} / endpoint {request.endpoint_name!r} is not one of this "
            f"project's: expected one of {list(settings.stages)} with endpoint {expected!r}"
        )
    result = once.run_once(
        table=settings.idempotency_table,
        name="monitor-endpoint",
        key={"endpoint": request.endpoint_name, "hour": iso(floor_minute(request.scheduled_time))},
        expires_after_seconds=int(REPLAY_GUARD.total_seconds()),
        call=lambda: run_hour(
            request,
            config,
            ports,
            namespace=settings.project_name,
            history_minutes=settings.history_minutes,
            num_samples=settings.num_samples,
        ).model_dump(mode="json"),
        lambda_context=lambda_context,
    )
    return MonitorRunResult.model_validate(result)
