"""What more than one stage needs from AWS, as small interfaces (ports), said once.

Each stage's own ports are in `feecast/<stage>/ports.py`; these are the ones several share:

| port | real adapter | used by |
| --- | --- | --- |
| StateRecords | feecast.adapters.state_table.StateTable | build, deploy, monitor (each under its own name and key prefix) |
| Once | the module feecast.adapters.idempotency | deploy, monitor |
| Notifier | the module feecast.adapters.notify | build, deploy, monitor |
| Parameters | the module feecast.adapters.parameters | deploy, monitor |
| Forecaster | feecast.adapters.sagemaker_runtime.SageMakerRuntime | deploy, monitor |
| RecentMinutes | the module feecast.adapters.feature_history | deploy, monitor |

The handler wires the real adapter; unit tests pass the fakes of tests/support/fakes.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # numpy behind them: routing handlers must not import it (test_handler_imports)
    from feecast.config import FeecastConfig, ValidationConfig
    from feecast.lifecycle import LifecycleEvent
    from feecast.series import MinuteSeries

__all__ = ["Forecaster", "Notifier", "Once", "Parameters", "RecentMinutes", "StateRecords"]


class StateRecords(Protocol):
    """The StateTable (pk, sk, TTL expires_at). Conditions are DynamoDB condition expressions;
    a failed condition is False (put, update) or None (take), never an error."""

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
    def take(
        self, pk: str, sk: str, *, condition: str, values: dict[str, Any]
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
    def scan_prefix(
        self, pk_prefix: str, *, attributes: Sequence[str] | None = None
    ) -> Iterator[dict[str, Any]]: ...


class Once(Protocol):
    """feecast.adapters.idempotency: `call()` once per (name, key)."""

    def run_once(
        self,
        *,
        table: str,
        name: str,
        key: Mapping[str, str],
        expires_after_seconds: int,
        call: Callable[[], dict[str, Any]],
        lambda_context: Any | None = None,
    ) -> dict[str, Any]: ...


class Notifier(Protocol):
    """feecast.adapters.notify: `notify` raises when SNS fails, `notify_or_count` logs, counts
    and answers why."""

    def notify(
        self,
        topic_arn: str,
        subject: str,
        message: str,
        facts: Mapping[str, Any] | None = None,
        *,
        event: LifecycleEvent,
    ) -> str: ...
    def notify_or_count(
        self,
        topic_arn: str,
        subject: str,
        message: str,
        facts: Mapping[str, Any] | None = None,
        *,
        event: LifecycleEvent,
    ) -> str | None: ...


class Parameters(Protocol):
    """feecast.adapters.parameters: the SSM configuration."""

    def load_config(self, prefix: str, *, max_age: int = ...) -> FeecastConfig: ...
    def write_validation(self, prefix: str, validation: ValidationConfig) -> int: ...


class Forecaster(Protocol):
    """InvokeEndpoint: the answer's bytes; NoAnswer when none came, AwsThrottled."""

    def invoke(self, endpoint_name: str, body: dict[str, Any]) -> bytes: ...


class RecentMinutes(Protocol):
    """feecast.adapters.feature_history: the feature group's minutes."""

    def read_minutes(
        self, feature_group_name: str, start: datetime, end: datetime, target_col: str
    ) -> MinuteSeries: ...
