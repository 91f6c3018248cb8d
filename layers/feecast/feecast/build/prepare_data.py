"""Prepare The Data: the feature's history -> DeepAR channels and the backtest's input.

Called by functions/prepare_data once per build execution. It reads the configuration, reads
`history_days` of minutes up to the build's "now", refuses data DeepAR cannot learn from (with
the reason), plans the backtest (feecast.backtest: the last `backtest_days` are held out and
forecast from an origin every `origin_spacing_minutes`), finds the model in production to
compare with (if any, and if it forecasts the same thing), writes the artifacts (layout.py) and
returns what the next states need: S3 URIs, the SageMaker job names, the hyperparameters as
strings, the transform's inference configuration, the backtest plan, the production model and
a summary of the data window. Everything big stays in S3.

Errors: DataRefused / ConfigError carry the reason, which the state machine's Catch turns into
a "build failed" notification; AwsThrottled, SSM throttled or unavailable, and
HistoryReadTimeout (the offline store too slow for the time left) are retried by the state first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from feecast.backtest import BacktestPlan, plan_backtest, transform_input
from feecast.build.settings import MAX_RUNTIME_SECONDS, SPOT_MAX_WAIT_SECONDS, PrepareSettings
from feecast.config import ConfigError, FeecastConfig, freq_minutes
from feecast.deepar import (
    Channels,
    GapReport,
    SeriesRejected,
    build_channels,
    gap_report,
    inference_config,
    to_jsonl,
    to_record,
)
from feecast.observability import logger
from feecast.series import MINUTE, MinuteSeries, floor_minute

from .layout import BuildLayout, sagemaker_name
from .ports import ArtifactStore
from .production import ProductionModel
from .window import DataWindow

__all__ = [
    "BuildInput",
    "DataRefused",
    "PrepareRequest",
    "PrepareResult",
    "PrepareSettings",
    "PreparedSeries",
    "choose_training_series",
    "extra_series_lines",
    "prepare_data",
    "stopping_condition",
]

_ISO = "%Y-%m-%dT%H:%M:%SZ"
# Minutes of history each forecast is made from (also what monitoring sends an endpoint:
# feecast.monitor.settings.RunSettings.history_minutes).
INFERENCE_HISTORY_MINUTES = 1440


class DataRefused(ValueError):
    """The history cannot train a model. Raised so the state machine's Catch sees the error
    name "DataRefused" and the reason, e.g. "too_short: train part has 120 observed points"."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class BuildInput(BaseModel):
    """The execution input (what start_build writes); extra keys are kept for the record."""

    model_config = ConfigDict(extra="allow")

    trigger: str = "manual"
    dedup_key: str | None = None
    requested_at: datetime | None = None
    # Build "as of" this instant instead of the execution's start (backfills, tests).
    now: datetime | None = None

    @field_validator("now", "requested_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("must include a time zone (e.g. 2026-01-05T12:00:00Z)")
        return v


class PrepareRequest(BaseModel):
    """The payload "Prepare The Data" sends (statemachines/model_build.asl.json)."""

    execution_name: str = Field(min_length=1)
    execution_arn: str = Field(min_length=1)
    started_at: datetime
    input: BuildInput = Field(default_factory=BuildInput)


class PrepareResult(BaseModel):
    """What the state machine keeps in $.data (small: every data set is in S3)."""

    execution_name: str
    job_name: str
    trigger: str
    uris: dict[str, str]
    hyperparameters: dict[str, str]
    inference_config: str  # JSON string for DEEPAR_INFERENCE_CONFIG
    training: dict[str, Any]  # EnableManagedSpotTraining + StoppingCondition
    target_col: str
    prediction_length: int
    quantiles: list[str]
    dynamic_features: list[str] = Field(default_factory=list)
    extra_series: list[str] = Field(default_factory=list)  # trained on besides the target
    extra_series_notes: list[str] = Field(default_factory=list)  # why one was left out
    backtest: dict[str, Any]  # feecast.backtest.BacktestPlan.to_dict + the settings used
    production: ProductionModel
    window: DataWindow


HistoryReader = Callable[[str, datetime, datetime, str], Any]  # read_history-like
# (target_col, prediction_length, dynamic features) -> the model in production, if comparable
ProductionFinder = Callable[[str, int, Sequence[str]], ProductionModel]


def no_production(
    target_col: str, prediction_length: int, features: Sequence[str]
) -> ProductionModel:
    return ProductionModel(present=False, reason="no production comparison configured")


@dataclass(frozen=True)
class PreparedSeries:
    """What a build trains and backtests on."""

    series: MinuteSeries  # the history, empty minutes at both ends trimmed
    channels: Channels  # train = series before the backtest; test = train + one window
    plan: BacktestPlan
    gaps: GapReport  # of the whole (trimmed) history


def stopping_condition(
    *, use_spot: bool, max_runtime_seconds: int, max_wait_seconds: int = SPOT_MAX_WAIT_SECONDS
) -> dict[str, int]:
    """CreateTrainingJob's StoppingCondition; the spot rule made explicit.

    Spot: MaxWaitTimeInSeconds (capacity wait + run) is capped at 3600 s for built-in algorithms
    that do not checkpoint, and must be >= MaxRuntimeInSeconds, so a spot job runs <= 3600 s.
    Raises ConfigError (the build fails before anything is trained) when the rule is broken.
    """
    if not 1 <= max_runtime_seconds <= MAX_RUNTIME_SECONDS:
        raise ConfigError(
            "TrainingMaxRuntimeSeconds",
            [f"{max_runtime_seconds} s is outside 1..{MAX_RUNTIME_SECONDS} (28 days)"],
        )
    if not use_spot:
        return {"MaxRuntimeInSeconds": max_runtime_seconds}
    if not max_runtime_seconds <= max_wait_seconds <= SPOT_MAX_WAIT_SECONDS:
        raise ConfigError(
            "TrainingMaxRuntimeSeconds",
            [
                f"{max_runtime_seconds} s with UseSpotTraining=true: managed spot training of a "
                f"built-in algorithm waits at most {SPOT_MAX_WAIT_SECONDS} s in all (capacity + "
                f"run), and the wait ({max_wait_seconds} s) must cover the run; lower it to "
                f"<= {SPOT_MAX_WAIT_SECONDS} or set UseSpotTraining=false"
            ],
        )
    return {"MaxRuntimeInSeconds": max_runtime_seconds, "MaxWaitTimeInSeconds": max_wait_seconds}


def choose_training_series(
    series: MinuteSeries,
    *,
    now: datetime,
    prediction_length: int,
    min_points: int,
    max_missing_fraction: float,
    max_data_age: timedelta,
    holdout: int,
    spacing: int,
    context: int,
    features: Sequence[str] = (),
) -> PreparedSeries:
    """Trim leading/trailing empty minutes, refuse stale or gappy data, plan the backtest and
    build the channels from the part before it.

    Raises DataRefused with a stable code: all_missing, stale, too_short, all_zero (from
    feecast.deepar.check_trainable), gaps or backtest_missing (no backtest window with an
    observed minute).
    """
    last = series.last_observed
    if last is None:
        raise DataRefused(
            "all_missing",
            f"no value in the {len(series)} minutes from {series.start:{_ISO}} to "
            f"{series.end:{_ISO}}: is ingestion running?",
        )
    last_minute = last[0]
    age = floor_minute(now) - last_minute
    if age > max_data_age:
        raise DataRefused(
            "stale",
            f"the newest minute with a value is {last_minute:{_ISO}}, {int(age / MINUTE)} "
            f"minutes before the build's time {now:{_ISO}} (limit {int(max_data_age / MINUTE)}): "
            "ingestion looks stopped, a model trained now would forecast from old data",
        )
    observed = np.flatnonzero(~np.isnan(series.values))
    trimmed = series[int(observed[0]) : int(observed[-1]) + 1]
    if len(trimmed) <= holdout:
        raise DataRefused(
            "too_short",
            f"the history has {len(trimmed)} minutes with values from the first to the last; "
            f"the backtest alone holds out {holdout}",
        )
    plan = plan_backtest(
        trimmed,
        holdout=holdout,
        spacing=spacing,
        prediction_length=prediction_length,
        context=context,
    )
    try:
        # The test channel: the training part plus the first backtest window (DeepAR scores
        # the last prediction_length points of a test series).
        channels = build_channels(
            trimmed.head(plan.first + prediction_length),
            prediction_length,
            min_points=min_points,
            features=features,
            holdout_required=False,
        )
    except SeriesRejected as exc:
        raise DataRefused(exc.code, exc.reason) from None
    gaps = gap_report(trimmed)
    if gaps.fraction_missing > max_missing_fraction:
        longest = "" if gaps.longest_gap_start is None else f"{gaps.longest_gap_start:{_ISO}}"
        raise DataRefused(
            "gaps",
            f"{gaps.missing} of {gaps.total} minutes are missing "
            f"({gaps.fraction_missing:.0%} > {max_missing_fraction:.0%}); {gaps.gap_count} gaps, "
            f"the longest {gaps.longest_gap} minutes from {longest}",
        )
    if not plan.origins:
        raise DataRefused(
            "backtest_missing",
            f"none of the {len(plan.skipped)} backtest windows from "
            f"{trimmed.start + plan.first * MINUTE:{_ISO}} has an observed minute to score",
        )
    return PreparedSeries(trimmed, channels, plan, gaps)


def extra_series_lines(
    columns: Iterable[tuple[str, MinuteSeries]],
    *,
    start: datetime,
    end: datetime,
    features: Sequence[str] = (),
) -> tuple[str, list[str], list[str]]:
    """The train channel's lines for /target extra_series: more training examples of the same
    process, over the target's training minutes [start, end) only (the backtest stays unseen).

    Returns (JSON lines, the columns used, why any other was left out).
    """
    lines, used, notes = "", [], []
    for column, history in columns:
        part = history.window(start, end)
        observed = part.values[~np.isnan(part.values)]
        if observed.size == 0 or not np.any(observed):
            notes.append(f"{column}: no non-zero value before {end:{_ISO}}, left out")
            continue
        lines += to_jsonl([part], features=features)
        used.append(column)
    return lines, used, notes


def prepare_data(
    request: PrepareRequest,
    settings: PrepareSettings,
    *,
    config: FeecastConfig,
    read_history: HistoryReader,
    store: ArtifactStore,
    find_production: ProductionFinder = no_production,
) -> PrepareResult:
    """Read, check and write the build's data; see the module docstring."""
    target = config.target
    if freq_minutes(target.freq) != 1:
        # The feature group holds one record per minute; resampling is not implemented.
        raise ConfigError(
            "target", [f"freq={target.freq!r} is not supported: the feature group is per minute"]
        )
    # Checked first: a broken spot rule must not cost a history read.
    stopping = stopping_condition(
        use_spot=settings.use_spot_training,
        max_runtime_seconds=settings.max_runtime_seconds,
        max_wait_seconds=settings.max_wait_seconds,
    )
    now = (request.input.now or request.started_at).astimezone(UTC)
    end = floor_minute(now)
    start = end - timedelta(days=target.history_days)
    history = read_history(settings.feature_group_name, start, end, target.target_col)

    validation = config.validation
    hyper = config.hyperparameters
    features = list(target.dynamic_features)
    # Each backtest line carries what a monitoring request carries: a day of history, or the
    # context length if longer (DeepAR reads context_length points plus lags of the target).
    context = max(
        INFERENCE_HISTORY_MINUTES, hyper.effective_context_length(target.prediction_length)
    )
    prepared = choose_training_series(
        history.series,
        now=now,
        prediction_length=target.prediction_length,
        min_points=target.min_train_points,
        max_missing_fraction=settings.max_missing_fraction,
        max_data_age=timedelta(minutes=settings.max_data_age_minutes),
        holdout=validation.backtest_minutes,
        spacing=validation.origin_spacing_minutes,
        context=context,
        features=features,
    )
    channels, plan, series = prepared.channels, prepared.plan, prepared.series
    hyperparameters = hyper.to_sagemaker(target.prediction_length, target.freq)
    quantiles = list(validation.quantiles)
    inference = inference_config(
        num_samples=hyper.num_eval_samples,
        quantiles=quantiles,
        output_types=("mean", "quantiles"),
    )

    train_end = series.start + plan.first * MINUTE
    extra_lines, extra_used, extra_notes = extra_series_lines(
        (
            (column, read_history(settings.feature_group_name, start, end, column).series)
            for column in target.extra_series
        ),
        start=series.start,
        end=train_end,
        features=features,
    )

    layout = BuildLayout(store.bucket, request.execution_name)
    store.put_text(layout.train_key, channels.train_jsonl + extra_lines)
    store.put_text(layout.test_key, channels.test_jsonl)
    # The whole history: the evaluation scores the backtest windows and forms the baselines.
    store.put_text(layout.series_key, json.dumps(to_record(series), allow_nan=False))
    # One line per backtest origin: one batch transform forecasts them all.
    store.put_text(layout.transform_input_key, transform_input(series, plan, features))

    production = find_production(target.target_col, target.prediction_length, features)
    if production.present:
        production = production.model_copy(
            update={
                "model_name": sagemaker_name(
                    settings.project_name,
                    request.execution_name,
                    request.execution_arn,
                    role="production",
                ),
                "transform_output": layout.uri(layout.production_output_prefix),
            }
        )

    gaps = prepared.gaps
    holdout_start = series.start + plan.first * MINUTE
    result = PrepareResult(
        execution_name=request.execution_name,
        job_name=sagemaker_name(
            settings.project_name, request.execution_name, request.execution_arn
        ),
        trigger=request.input.trigger,
        uris=layout.to_uris(),
        hyperparameters=hyperparameters,
        inference_config=json.dumps(inference, separators=(",", ":")),
        training={
            "use_spot": settings.use_spot_training,
            "stopping_condition": stopping,
        },
        target_col=target.target_col,
        prediction_length=target.prediction_length,
        quantiles=quantiles,
        dynamic_features=features,
        extra_series=extra_used,
        extra_series_notes=extra_notes,
        backtest={
            **plan.to_dict(series.start),
            "backtest_days": validation.backtest_days,
            "spacing_minutes": validation.origin_spacing_minutes,
        },
        production=production,
        window=DataWindow(
            requested_start=f"{start:{_ISO}}",
            requested_end=f"{end:{_ISO}}",
            first_minute=f"{series.start:{_ISO}}",
            last_minute=f"{series.end - MINUTE:{_ISO}}",
            holdout_start=f"{holdout_start:{_ISO}}",
            points=len(series),
            observed=series.observed_count,
            missing=series.missing_count,
            gap_count=gaps.gap_count,
            longest_gap_minutes=gaps.longest_gap,
            offline_points=history.offline_points,
            online_points=history.online_points,
            offline_last_minute=(
                None
                if history.offline_last_minute is None
                else f"{history.offline_last_minute:{_ISO}}"
            ),
        ),
    )
    logger.info("data prepared", extra={"window": result.window.model_dump()})
    return result
