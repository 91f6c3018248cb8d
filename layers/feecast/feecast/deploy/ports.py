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
| DeployState | feecast.adapters.state_table.StateTable (the StateRecords port of feecast/ports.py) |
| TaskTokens | feecast.adapters.stepfunctions.StepFunctionsTasks |
| Executions | feecast.adapters.stepfunctions.StepFunctionsExecutions |
| Secret | feecast.adapters.secrets.LinkSecret |

and, shared with other stages (feecast/ports.py): Forecaster, Notifier, Parameters, Once,
RecentMinutes.
"""

from __future__ import annotations

from typing import Any, Protocol

from feecast.ports import StateRecords


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


class DeployState(StateRecords, Protocol):
    """The StateTable records of the deploy stage (APPROVAL#, WAITER#, THRESHOLD#, DEPLOY#)."""


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
