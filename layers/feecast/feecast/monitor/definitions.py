"""The accuracy alarm definition, as a plain dict (pure: no AWS calls)."""

from __future__ import annotations

from typing import Any

from feecast.monitor.names import (
    ENDPOINT_DIMENSION,
    ROLLING_LOSS_METRIC,
    STAGE_DIMENSION,
    alarm_name,
    endpoint_name,
)

__all__ = ["ALARM_PERIOD_SECONDS", "accuracy_alarm"]

ALARM_PERIOD_SECONDS = 3600  # one loss datapoint per hourly run


def accuracy_alarm(
    *,
    project: str,
    stage: str,
    threshold: float,
    breaches: int,
    topic_arn: str,
    window_hours: int = 6,
) -> dict[str, Any]:
    """PutMetricAlarm arguments for `${project}-${stage}-accuracy`.

    The metric is the loss pooled over the last `window_hours` hourly windows (rolling.py),
    on the same scale as the threshold the model's backtest gave. Maximum over one hour: the
    run publishes one datapoint per hour, and Maximum never hides a bad one. N of N
    consecutive hours above the threshold alarm; missing hours (no run, loss undefined) are
    not breaches, so gaps never start a build.
    """
    if breaches < 1:
        raise ValueError(f"consecutive breaches must be >= 1, got {breaches}")
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    endpoint = endpoint_name(project, stage)
    return {
        "AlarmName": alarm_name(project, stage),
        "AlarmDescription": (
            f"The {stage} endpoint's weighted quantile loss pooled over the last {window_hours} "
            f"hours stayed above the threshold ({threshold:g}) for {breaches} consecutive "
            "hours. The retraining function decides whether the model degraded (rebuild) or "
            "fees became unpredictable. Set by feecast monitoring when the endpoint goes "
            "InService; see docs/monitoring.md."
        ),
        "ActionsEnabled": True,
        "AlarmActions": [topic_arn],
        "Namespace": project,
        "MetricName": ROLLING_LOSS_METRIC,
        "Dimensions": [
            {"Name": STAGE_DIMENSION, "Value": stage},
            {"Name": ENDPOINT_DIMENSION, "Value": endpoint},
        ],
        "Statistic": "Maximum",
        "Period": ALARM_PERIOD_SECONDS,
        "EvaluationPeriods": breaches,
        "DatapointsToAlarm": breaches,
        "Threshold": float(threshold),
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
