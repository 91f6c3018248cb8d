"""Names shared between template.yaml and the code: endpoints, schedules, alarms, metrics, keys.

The template builds the same strings with !Sub; keep both in step (docs/conventions.md).
"""

from __future__ import annotations

from collections.abc import Iterable

# CloudWatch metrics published by the hourly run (namespace = the project name).
LOSS_METRIC = "WeightedQuantileLoss"
BASELINE_METRIC = "BaselineWeightedQuantileLoss"
# Pooled over the last `alarm_window_hours` windows: what the accuracy alarm watches.
ROLLING_LOSS_METRIC = "RollingWeightedQuantileLoss"
ROLLING_BASELINE_METRIC = "RollingBaselineWeightedQuantileLoss"
RATIO_METRIC = "ModelToNaiveRatio"
THRESHOLD_METRIC = "Threshold"
STAGE_DIMENSION = "Stage"
ENDPOINT_DIMENSION = "EndpointName"

# EMF metrics about the monitoring itself (Powertools Metrics, namespace POWERTOOLS_METRICS_NAMESPACE).
MONITORING_RUNS = "MonitoringRuns"
MISSING_ACTUAL_MINUTES = "MissingActualMinutes"
FORECAST_FAILURES = "MonitoringForecastFailures"
RETRAININGS_STARTED = "RetrainingsStarted"
RETRAININGS_SUPPRESSED = "RetrainingsSuppressed"

# StateTable key prefixes owned by monitoring (docs/conventions.md).
FORECAST_PREFIX = "FORECAST#"
SCORE_PREFIX = "SCORE#"
MONITOR_PREFIX = "MONITOR#"


def endpoint_name(project: str, stage: str) -> str:
    return f"{project}-{stage}"


def schedule_name(project: str, stage: str) -> str:
    return f"{project}-{stage}-monitoring"


def alarm_name(project: str, stage: str) -> str:
    return f"{project}-{stage}-accuracy"


def stage_of_endpoint(project: str, stages: Iterable[str], endpoint: str) -> str | None:
    """The stage whose endpoint this is, or None for any other endpoint.

    The EventBridge rule matches by prefix (so `feecast-staging2` reaches the function); the
    exact match here is what decides. SageMaker endpoint names are case-insensitive (its ARNs
    are lower case), so the comparison is too.
    """
    for stage in stages:
        if endpoint.lower() == endpoint_name(project, stage).lower():
            return stage
    return None


def stage_of_alarm(project: str, stages: Iterable[str], alarm: str) -> str | None:
    """The stage whose accuracy alarm this is, or None for any other alarm."""
    for stage in stages:
        if alarm == alarm_name(project, stage):
            return stage
    return None


def forecast_key(endpoint: str) -> str:
    return f"{FORECAST_PREFIX}{endpoint}"


def score_key(endpoint: str) -> str:
    return f"{SCORE_PREFIX}{endpoint}"


def episode_key(alarm: str) -> str:
    return f"{MONITOR_PREFIX}ALARM#{alarm}"


def metric_dimensions(stage: str, endpoint: str) -> dict[str, str]:
    """The dimensions of every monitoring metric (the alarms select on both)."""
    return {STAGE_DIMENSION: stage, ENDPOINT_DIMENSION: endpoint}
