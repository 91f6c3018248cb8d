"""Step Functions: start, list and stop executions; resume a task waiting on its token."""

from __future__ import annotations

import json
from typing import Any

from feecast.adapters import clients
from feecast.adapters.errors import AlreadyExists, NotFound, aws_errors


def _sfn() -> Any:
    return clients.client("stepfunctions")


class StepFunctionsTasks:
    """SendTaskSuccess / SendTaskFailure (deploy's TaskTokens port); TaskGone when nobody
    waits on the token any more."""

    def succeed(self, token: str, output: dict[str, Any]) -> None:
        with aws_errors():
            _sfn().send_task_success(taskToken=token, output=json.dumps(output, default=str))

    def fail(self, token: str, error: str, cause: str) -> None:
        with aws_errors():
            _sfn().send_task_failure(taskToken=token, error=error[:256], cause=cause[:32768])


class StepFunctionsExecutions:
    """Executions of a state machine (deploy's Executions port, the build's BuildExecutions)."""

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> tuple[str, bool]:
        """(execution ARN, newly started). A name already used returns the existing execution."""
        try:
            with aws_errors():
                response = _sfn().start_execution(
                    stateMachineArn=state_machine_arn,
                    name=name,
                    input=json.dumps(payload, default=str),
                )
            return str(response["executionArn"]), True
        except AlreadyExists:
            arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
            return arn, False

    def running(self, state_machine_arn: str) -> list[tuple[str, str]]:
        """(ARN, name) of every RUNNING execution."""
        found: list[tuple[str, str]] = []
        paginator = _sfn().get_paginator("list_executions")
        with aws_errors():
            for page in paginator.paginate(
                stateMachineArn=state_machine_arn, statusFilter="RUNNING"
            ):
                found += [(e["executionArn"], e["name"]) for e in page["executions"]]
        return found

    def status(self, execution_arn: str) -> str | None:
        """RUNNING / SUCCEEDED / FAILED / ...; None when the execution does not exist."""
        try:
            with aws_errors():
                return str(_sfn().describe_execution(executionArn=execution_arn)["status"])
        except NotFound:
            return None

    def stop(self, execution_arn: str, error: str, cause: str) -> None:
        with aws_errors():
            _sfn().stop_execution(executionArn=execution_arn, error=error, cause=cause)
