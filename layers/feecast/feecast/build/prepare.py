"""Prepare The Data: the feature's history -> DeepAR channels, transform input and actuals.

Called by functions/prepare_data once per build execution. It reads the configuration, reads
`history_days` of minutes up to the build's "now", refuses data DeepAR cannot learn from (with
the reason), writes the artifacts (layout.py) and returns what the next states need: S3 URIs,
the SageMaker job name, the hyperparameters as strings, the transform's inference
configuration and a summary of the data window. Everything big stays in S3.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from feecast.config import ConfigError, FeecastConfig, freq_minutes
from feecast.deepar import (
    Channels,
    SeriesRejected,
    build_channels,
    inference_config,
    to_jsonl,
    to_record,
)
from feecast.series import MINUTE, MinuteSeries, floor_minute
from feecast.settings import BaseSettings

from .artifacts import ArtifactStore
from .layout import BuildLayout, sagemaker_name
from .window import DataWindow

__all__ = [
    "BuildInput",
    "DataRefused",
    "PrepareRequest",
    "PrepareResult",
    "PrepareSettings",
    "choose_training_series",
    "prepare_data",
    "stopping_condition",
]

_ISO = "%Y-%m-%dT%H:%M:%SZ"
# Managed spot training: "SageMaker built-in algorithms and marketplace algorithms that do not
# checkpoint are currently limited to a MaxWaitTimeInSeconds of 3600 seconds", and MaxWait must
# be at least MaxRuntime (docs.aws.amazon.com/sagemaker/latest/dg/model-managed-spot-training.html;
# API_StoppingCondition). So with spot on, a DeepAR job may run at most 3600 s.
SPOT_MAX_WAIT_SECONDS = 3600
# StoppingCondition.MaxRuntimeInSeconds: at most 28 days (API_StoppingCondition).
MAX_RUNTIME_SECONDS = 28 * 86400


class DataRefused(ValueError):
    """The history cannot train a model. Raised so the state machine's Catch sees the error
    name "DataRefused" and the reason, e.g. "too_short: train part has 120 observed points"."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class PrepareSettings(BaseSettings):
    """Environment of PrepareDataFunction (template.yaml)."""

    artifact_bucket: str
    feature_group_name: str
    use_spot_training: bool = True
    # Template parameter TrainingMaxRuntimeSeconds (MaxValue 3600: the spot rule below).
    max_runtime_seconds: int = Field(3000, ge=60, le=MAX_RUNTIME_SECONDS)
    # Built-in algorithms that do not checkpoint are limited to 3600 s of spot waiting.
    max_wait_seconds: int = Field(SPOT_MAX_WAIT_SECONDS, ge=60, le=SPOT_MAX_WAIT_SECONDS)
    max_missing_fraction: float = Field(0.5, ge=0.0, le=1.0)
    max_data_age_minutes: int = Field(60, ge=1)


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
    window: DataWindow


HistoryReader = Callable[[str, datetime, datetime, str], Any]  # read_history-like


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
) -> Channels:
    """Trim leading/trailing empty minutes, refuse stale or gappy data, build the channels.

    Raises DataRefused with a stable code: all_missing, stale, too_short, all_zero,
    holdout_missing (from feecast.deepar.check_trainable) or gaps.
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
    try:
        channels = build_channels(trimmed, prediction_length, min_points=min_points)
    except SeriesRejected as exc:
        raise DataRefused(exc.code, exc.reason) from None
    gaps = channels.gaps
    if gaps.fraction_missing > max_missing_fraction:
        longest = "" if gaps.longest_gap_start is None else f"{gaps.longest_gap_start:{_ISO}}"
        raise DataRefused(
            "gaps",
            f"{gaps.missing} of {gaps.total} minutes are missing "
            f"({gaps.fraction_missing:.0%} > {max_missing_fraction:.0%}); {gaps.gap_count} gaps, "
            f"the longest {gaps.longest_gap} minutes from {longest}",
        )
    return channels


def prepare_data(
    request: PrepareRequest,
    settings: PrepareSettings,
    *,
    config: FeecastConfig,
    read_history: HistoryReader,
    store: ArtifactStore,
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

    channels = choose_training_series(
        history.series,
        now=now,
        prediction_length=target.prediction_length,
        min_points=target.min_train_points,
        max_missing_fraction=settings.max_missing_fraction,
        max_data_age=timedelta(minutes=settings.max_data_age_minutes),
    )
    hyperparameters = config.hyperparameters.to_sagemaker(target.prediction_length, target.freq)
    quantiles = list(config.validation.quantiles)
    inference = inference_config(
        num_samples=config.hyperparameters.num_eval_samples,
        quantiles=quantiles,
        output_types=("mean", "quantiles"),
    )

    layout = BuildLayout(store.bucket, request.execution_name)
    holdout = channels.test.tail(target.prediction_length)
    store.put_text(layout.train_key, channels.train_jsonl)
    store.put_text(layout.test_key, channels.test_jsonl)
    store.put_text(layout.actuals_key, json.dumps(to_record(holdout)))
    # The transform forecasts the held-out window from the training context.
    store.put_text(layout.transform_input_key, to_jsonl([channels.train]))

    series = channels.test
    gaps = channels.gaps
    return PrepareResult(
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
        window=DataWindow(
            requested_start=f"{start:{_ISO}}",
            requested_end=f"{end:{_ISO}}",
            first_minute=f"{series.start:{_ISO}}",
            last_minute=f"{series.end - MINUTE:{_ISO}}",
            holdout_start=f"{holdout.start:{_ISO}}",
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
