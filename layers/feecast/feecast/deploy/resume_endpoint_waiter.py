"""ResumeEndpointWaiterFunction: a "SageMaker Endpoint State Change" resumes the deployment
waiting on that endpoint (await_endpoint.py says how the two share the waiter)."""

from __future__ import annotations

from typing import Any

from feecast.deploy import names
from feecast.deploy.await_endpoint import WAITER_SK, WaitResult, judge, resume
from feecast.deploy.ports import DeployState, Endpoints, TaskTokens
from feecast.deploy.settings import DeploySettings


def resume_waiter(
    detail: dict[str, Any],
    settings: DeploySettings,
    *,
    state: DeployState,
    endpoints: Endpoints,
    tasks: TaskTokens,
) -> WaitResult:
    """React to one "SageMaker Endpoint State Change" event."""
    endpoint = str(detail.get("EndpointName", ""))
    table = state
    waiter = table.get(f"{names.WAITER_PREFIX}{endpoint}", WAITER_SK)
    if waiter is None:
        return WaitResult(
            endpoint_name=endpoint, status="ignored", detail="nobody is waiting for this endpoint"
        )
    wanted = str(waiter["endpoint_config_name"])
    ok, error, cause = judge(endpoint, detail, wanted)
    if ok is None:
        return WaitResult(endpoint_name=endpoint, status="ignored", detail=f"not final: {cause}")
    if ok is False and error == "EndpointRolledBack":
        # An InService event for another config may be a late event from before our update:
        # trust only the endpoint's present state.
        current = endpoints.describe_endpoint(endpoint)
        if current is None:
            ok, error, cause = False, "EndpointMissing", f"{endpoint} does not exist"
        else:
            ok, error, cause = judge(endpoint, current, wanted)
            if ok is None:
                return WaitResult(
                    endpoint_name=endpoint,
                    status="ignored",
                    detail="stale event; endpoint still changing",
                )
    return resume(
        table,
        tasks,
        endpoint,
        str(waiter["task_token"]),
        ok=bool(ok),
        error=error,
        cause=cause,
        output={"endpoint_name": endpoint, "endpoint_config_name": wanted, "status": "InService"},
    )
