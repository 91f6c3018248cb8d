"""What monitoring needs from AWS.

The use cases take their ports as dataclasses of callables (monitor_endpoint.RunPorts,
activate_monitoring.ActivationPorts, retrain_on_alarm.RetrainPorts); the records they keep go through the
StateTable, seen as the `MonitorState` port below (records.py). Real adapters:

| need | real adapter |
| --- | --- |
| MonitorState | feecast.adapters.state_table.StateTable |
| an endpoint's state | feecast.adapters.sagemaker.SageMakerEndpoints.describe_endpoint |
| a forecast | feecast.adapters.sagemaker_runtime.SageMakerRuntime.invoke |
| alarm actions | feecast.adapters.cloudwatch.CloudWatchAlarms |
| metrics | feecast.adapters.cloudwatch.CloudWatchMetrics |
| the feature history | feecast.adapters.feature_history.read_minutes |
| notifications | feecast.adapters.notify.notify |

`real_*_ports` in each use case module wires them (lazily: the pure modules import no adapter
at import time); unit tests pass the fakes of tests/support/fakes.py or small lambdas.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

__all__ = ["MonitorState"]


class MonitorState(Protocol):
    """The StateTable records of monitoring (FORECAST#, SCORE#, MONITOR#ALARM#): a failed
    condition is False, never an error."""

    def put(
        self,
        item: dict[str, Any],
        *,
        condition: str | None = None,
        values: dict[str, Any] | None = None,
    ) -> bool: ...
    def get(
        self, pk: str, sk: str, *, attributes: Sequence[str] | None = None
    ) -> dict[str, Any] | None: ...
    def update(
        self, pk: str, sk: str, changes: dict[str, Any], *, condition: str, values: dict[str, Any]
    ) -> bool: ...
    def query(
        self,
        pk: str,
        *,
        sk_prefix: str | None = None,
        sk_between: tuple[str, str] | None = None,
        newest_first: bool = True,
        limit: int | None = None,
        consistent: bool = False,
    ) -> Iterator[dict[str, Any]]: ...
