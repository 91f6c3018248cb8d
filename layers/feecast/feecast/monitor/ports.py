"""What monitoring needs from AWS, as small interfaces (ports), as in feecast.deploy.ports.

The use cases call their ports as dataclasses of callables (monitor_endpoint.RunPorts,
activate_monitoring.ActivationPorts, retrain_on_alarm.RetrainPorts), which unit tests fill with
small lambdas; each has a `from_adapters` that puts them on the ports below, and the handler
wires the real adapters into it. The records monitoring keeps (records.py) go through
MonitorState.

| port | real adapter |
| --- | --- |
| MonitorState | feecast.adapters.state_table.StateTable (the StateRecords port of feecast/ports.py) |
| Endpoints | feecast.adapters.sagemaker.SageMakerEndpoints |
| AlarmActions | feecast.adapters.cloudwatch.CloudWatchAlarms |
| MetricSink | feecast.adapters.cloudwatch.CloudWatchMetrics |
| BuildExecutions (feecast/build/ports.py) | feecast.adapters.stepfunctions.StepFunctionsExecutions |

and, shared with other stages (feecast/ports.py): Forecaster, Notifier, Parameters, Once,
RecentMinutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from feecast.ports import StateRecords

__all__ = ["AlarmActions", "Endpoints", "MetricSink", "MonitorState"]


class MonitorState(StateRecords, Protocol):
    """The StateTable records of monitoring (FORECAST#, SCORE#, MONITOR#ALARM#)."""


class Endpoints(Protocol):
    """DescribeEndpoint: its answer, None when there is no such endpoint."""

    def describe_endpoint(self, name: str) -> dict[str, Any] | None: ...


class AlarmActions(Protocol):
    """An alarm's actions: enable / disable answer False and `actions_enabled` None when
    there is no such alarm."""

    def enable_actions(self, name: str) -> bool: ...
    def disable_actions(self, name: str) -> bool: ...
    def actions_enabled(self, name: str) -> bool | None: ...


class MetricSink(Protocol):
    """PutMetricData with an explicit timestamp."""

    def put(
        self,
        namespace: str,
        dimensions: Mapping[str, str],
        timestamp: datetime,
        values: Mapping[str, float],
    ) -> None: ...
