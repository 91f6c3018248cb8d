"""CloudWatch: the alarms deploy and monitoring read and switch, the metrics monitoring puts.

Only what a use case handles is translated (a missing alarm answers an empty list, False or
None); a throttled or refused call propagates as botocore raised it, so the caller fails and
its trigger retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from feecast.adapters import clients
from feecast.adapters.errors import aws_errors


def _cloudwatch() -> Any:
    return clients.client("cloudwatch")


class CloudWatchAlarms:
    """deploy's Alarms port (`existing`), monitoring's alarm actions."""

    def existing(self, names: list[str]) -> list[str]:
        """Those of `names` that exist, in the given order."""
        if not names:
            return []
        with aws_errors():
            found = _cloudwatch().describe_alarms(AlarmNames=names).get("MetricAlarms", [])
        present = {a["AlarmName"] for a in found}
        return [n for n in names if n in present]

    @staticmethod
    def _metric_alarm(name: str) -> dict[str, Any] | None:
        alarms = _cloudwatch().describe_alarms(AlarmNames=[name]).get("MetricAlarms", [])
        return dict(alarms[0]) if alarms else None

    def enable_actions(self, name: str) -> bool:
        """Enable an alarm's actions; False when the alarm does not exist."""
        if self._metric_alarm(name) is None:
            return False
        _cloudwatch().enable_alarm_actions(AlarmNames=[name])
        return True

    def disable_actions(self, name: str) -> bool:
        """Disable an alarm's actions; False when the alarm does not exist."""
        if self._metric_alarm(name) is None:
            return False
        _cloudwatch().disable_alarm_actions(AlarmNames=[name])
        return True

    def actions_enabled(self, name: str) -> bool | None:
        """Whether the alarm's actions are enabled (None: no such metric alarm)."""
        alarm = self._metric_alarm(name)
        return None if alarm is None else bool(alarm.get("ActionsEnabled", True))


def metric_data_request(
    namespace: str,
    dimensions: Mapping[str, str],
    timestamp: datetime,
    values: Mapping[str, float],
) -> dict[str, Any]:
    """PutMetricData arguments: one datum per value, each with all `dimensions`."""
    dims = [{"Name": k, "Value": v} for k, v in dimensions.items()]
    return {
        "Namespace": namespace,
        "MetricData": [
            {
                "MetricName": name,
                "Dimensions": dims,
                "Timestamp": timestamp,
                "Value": float(value),
                "Unit": "None",
            }
            for name, value in values.items()
        ],
    }


class CloudWatchMetrics:
    def put(
        self,
        namespace: str,
        dimensions: Mapping[str, str],
        timestamp: datetime,
        values: Mapping[str, float],
    ) -> None:
        """PutMetricData with an explicit timestamp; nothing when there are no values."""
        if values:
            _cloudwatch().put_metric_data(
                **metric_data_request(namespace, dimensions, timestamp, values)
            )
