"""What the deploy stage needs from AWS, as small interfaces (ports).

A use case receives the ports it uses as keyword arguments; the handler (functions/<x>/app.py)
wires the real adapters of feecast/adapters, the CLI wires the same ones on its own session,
and tests/support/fakes.py holds in-memory fakes for the unit tests. An adapter raises the
domain errors of feecast.adapters.errors (NotFound, AlreadyExists, TaskGone, AwsThrottled,
NoAnswer) for what a use case handles.

| port | real adapter |
| --- | --- |
| Endpoints | feecast.adapters.sagemaker.SageMakerEndpoints |
| Packages | feecast.adapters.sagemaker.SageMakerPackages |
| Alarms | feecast.adapters.cloudwatch.CloudWatchAlarms |
| Forecaster | feecast.adapters.sagemaker_runtime.SageMakerRuntime |
| DeployState | feecast.adapters.state_table.StateTable |
| TaskTokens | feecast.adapters.stepfunctions.StepFunctionsTasks |
| Executions | feecast.adapters.stepfunctions.StepFunctionsExecutions |
| Secret | feecast.adapters.secrets.LinkSecret |
| Notifier | the module feecast.adapters.notify |
| Parameters | the module feecast.adapters.parameters |
| Once | the module feecast.adapters.idempotency |
| RecentMinutes | the module feecast.adapters.feature_history |
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # numpy behind them: routing handlers must not import it (test_handler_imports)
    from feecast.config import FeecastConfig, ValidationConfig
    from feecast.series import MinuteSeries


class Endpoints(Protocol):
    """SageMaker endpoints, endpoint configs and models. Describe* answer None when missing;
    create_model / create_endpoint_config raise AlreadyExists for a taken name."""

    def describe_endpoint(self, name: str) -> dict[str, Any] | None: ...
    def endpoint_config(self, name: str) -> dict[str, Any] | None: ...
    def model(self, name: str) -> dict[str, Any] | None: ...
    def create_model(self, request: dict[str, Any]) -> None: ...
    def create_endpoint_config(self, request: dict[str, Any]) -> None: ...
    def create_endpoint(self, name: str, config: str, tags: list[dict[str, str]]) -> None: ...
    def update_endpoint(
        self, name: str, config: str, deployment_config: dict[str, Any] | None
    ) -> None: ...
    def delete_endpoint(self, name: str) -> None: ...


class Packages(Protocol):
    """The model registry: `describe` raises NotFound, `find` answers None."""

    def describe(self, arn: str) -> dict[str, Any]: ...
    def find(self, arn: str) -> dict[str, Any] | None: ...


class Alarms(Protocol):
    def existing(self, names: list[str]) -> list[str]: ...


class Forecaster(Protocol):
    """InvokeEndpoint: the answer's bytes; NoAnswer when none came, AwsThrottled."""

    def invoke(self, endpoint_name: str, body: dict[str, Any]) -> bytes: ...


class DeployState(Protocol):
    """The StateTable records of the deploy stage (APPROVAL#, WAITER#, THRESHOLD#, DEPLOY#).

    Conditions are DynamoDB condition expressions; a failed condition is False (put) or None
    (take), never an error."""

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
    def query(
        self, pk: str, *, sk_prefix: str | None = None, newest_first: bool = True
    ) -> Iterator[dict[str, Any]]: ...
    def scan_prefix(
        self, pk_prefix: str, *, attributes: Sequence[str] | None = None
    ) -> Iterator[dict[str, Any]]: ...


class TaskTokens(Protocol):
    """Resume a .waitForTaskToken task; TaskGone when nobody waits on the token any more."""

    def succeed(self, token: str, output: dict[str, Any]) -> None: ...
    def fail(self, token: str, error: str, cause: str) -> None: ...


class Executions(Protocol):
    def start(
        self, state_machine_arn: str, name: str, payload: dict[str, Any]
    ) -> tuple[str, bool]: ...
    def running(self, state_machine_arn: str) -> list[tuple[str, str]]: ...
    def stop(self, execution_arn: str, error: str, cause: str) -> None: ...


class Secret(Protocol):
    """The approval links' signing key."""

    def get(self) -> str: ...


class Notifier(Protocol):
    """feecast.adapters.notify: `notify` raises when SNS fails, `notify_or_count` logs, counts
    and answers why."""

    def notify(
        self, topic_arn: str, subject: str, message: str, facts: Mapping[str, Any] | None = None
    ) -> str: ...
    def notify_or_count(
        self, topic_arn: str, subject: str, message: str, facts: Mapping[str, Any] | None = None
    ) -> str | None: ...


class Parameters(Protocol):
    """feecast.adapters.parameters: the SSM configuration."""

    def load_config(self, prefix: str, *, max_age: int = ...) -> FeecastConfig: ...
    def write_validation(self, prefix: str, validation: ValidationConfig) -> int: ...


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


class RecentMinutes(Protocol):
    """feecast.adapters.feature_history: the feature group's minutes."""

    def read_minutes(
        self, feature_group_name: str, start: datetime, end: datetime, target_col: str
    ) -> MinuteSeries: ...
