"""AwaitEndpointFunction: steps "Wait For Staging" / "Wait For Production", without polling.

It runs as a .waitForTaskToken task: it stores the token under WAITER#<endpoint>, then checks
DescribeEndpoint ONCE, because the endpoint may have reached its final state before the token
was stored (then no event would ever resume it). ResumeEndpointWaiterFunction
(resume_endpoint_waiter.py) receives "SageMaker Endpoint State Change" events and resumes the
task. Whoever resumes first deletes the waiter with a conditional delete, so the task is resumed
once. The task's TimeoutSeconds is the safety net. `judge` and `resume` are shared by both.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from feecast.adapters.errors import TaskGone
from feecast.deploy import names
from feecast.deploy.ports import DeployState, Endpoints, TaskTokens
from feecast.deploy.settings import DeploySettings
from feecast.events import EndpointStatus

# -- the waiter's record and verdict, shared with resume_endpoint_waiter -------------------------------------------------------------------
WAITER_SK = "WAITER"
_FINAL_FAILURES = {"Failed", "UpdateRollbackFailed", "OutOfService"}


class WaitResult(BaseModel):
    endpoint_name: str
    status: str  # waiting | resumed | failed | ignored
    detail: str


def _api_spelling(raw: str) -> str:
    """IN_SERVICE (events) and InService (API) -> InService, the spelling of deploy's outputs."""
    status = EndpointStatus.parse(raw) if raw.strip() else None
    return status.api if status is not None else raw


def resume(
    table: DeployState,
    tasks: TaskTokens,
    endpoint: str,
    token: str,
    *,
    ok: bool,
    error: str,
    cause: str,
    output: dict[str, Any],
) -> WaitResult:
    taken = table.take(
        f"{names.WAITER_PREFIX}{endpoint}",
        WAITER_SK,
        condition="task_token = :t",
        values={":t": token},
    )
    if taken is None:
        return WaitResult(
            endpoint_name=endpoint, status="ignored", detail="already resumed by someone else"
        )
    try:
        if ok:
            tasks.succeed(token, output)
        else:
            tasks.fail(token, error, cause)
    except TaskGone as exc:
        return WaitResult(
            endpoint_name=endpoint, status="ignored", detail=f"the waiting task is gone: {exc}"
        )
    return WaitResult(
        endpoint_name=endpoint, status="resumed" if ok else "failed", detail=cause or "InService"
    )


def judge(endpoint: str, state: Mapping[str, Any], wanted: str) -> tuple[bool | None, str, str]:
    """(ok | None when not final, error, cause) for an endpoint's state vs the wanted config.

    `state` is a DescribeEndpoint response or an endpoint event's detail (same field names).
    """
    status = _api_spelling(str(state.get("EndpointStatus", "")))
    config = state.get("EndpointConfigName")
    reason = state.get("FailureReason")
    if status == "InService":
        if config == wanted:
            return True, "", "InService"
        return (
            False,
            "EndpointRolledBack",
            (
                f"{endpoint} is InService with {config}, not {wanted}: the update was rolled back"
                + (f" ({reason})" if reason else "")
            ),
        )
    if status in _FINAL_FAILURES:
        return False, "EndpointFailed", f"{endpoint} is {status}: {reason or 'no reason given'}"
    if status == "Deleting":
        return False, "EndpointDeleted", f"{endpoint} is being deleted"
    return None, "", status


class AwaitRequest(BaseModel):
    """The task's input, as the state machine's Parameters build it."""

    task_token: str = Field(min_length=1)
    endpoint_name: str
    endpoint_config_name: str
    timeout_seconds: int = Field(gt=0)
    execution: str


def await_endpoint(
    *,
    task_token: str,
    endpoint_name: str,
    endpoint_config_name: str,
    timeout_seconds: int,
    execution: str,
    settings: DeploySettings,
    state: DeployState,
    endpoints: Endpoints,
    tasks: TaskTokens,
) -> WaitResult:
    table = state
    expires = datetime.now(UTC) + timedelta(seconds=timeout_seconds + 3600)
    table.put(
        {
            "pk": f"{names.WAITER_PREFIX}{endpoint_name}",
            "sk": WAITER_SK,
            "task_token": task_token,
            "endpoint_config_name": endpoint_config_name,
            "execution": execution,
            "created_at": datetime.now(UTC).isoformat(),
            "expires_at": int(expires.timestamp()),
        }
    )
    # The race: the endpoint may already be final, and its event already delivered.
    current = endpoints.describe_endpoint(endpoint_name)
    if current is None:
        return resume(
            table,
            tasks,
            endpoint_name,
            task_token,
            ok=False,
            error="EndpointMissing",
            cause=f"{endpoint_name} does not exist",
            output={},
        )
    ok, error, cause = judge(endpoint_name, current, endpoint_config_name)
    if ok is None:
        return WaitResult(
            endpoint_name=endpoint_name, status="waiting", detail=f"endpoint is {cause}"
        )
    # Right after UpdateEndpoint the status is Updating, so InService with another config
    # here means SageMaker already rolled the update back.
    return resume(
        table,
        tasks,
        endpoint_name,
        task_token,
        ok=ok,
        error=error,
        cause=cause,
        output={
            "endpoint_name": endpoint_name,
            "endpoint_config_name": endpoint_config_name,
            "status": "InService",
        },
    )
