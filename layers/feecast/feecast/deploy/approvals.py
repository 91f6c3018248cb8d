"""Human approval of a staging deployment: the record and the decision, shared by
request_approval.py (the request), approval_callback.py (the link) and `feecast approve/reject`.

"Ask A Person To Approve" is a .waitForTaskToken task. Its token is kept in the StateTable
under APPROVAL#<random id> with expires_at = the wait's timeout; only the id travels in links
and messages. A decision (signed link or `feecast approve/reject` with AWS credentials) consumes
the record with a conditional delete (single use), then resumes the execution with
SendTaskSuccess({"decision": "approve"|"reject", ...}); the state machine's Choice reads it.

Who can decide: the holder of a valid, unexpired, unused link (approval_callback.answer_link), or an IAM
principal allowed by policy (the template's ApproverPolicy: `feecast approve/reject`, decide).
Every refused link request is logged once as a structured warning (reason, status, request id;
never the signature or the token) and counted as ApprovalRefused{Reason} (approval_callback.report_refusal).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel

from feecast.adapters.errors import TaskGone
from feecast.deploy import links, names
from feecast.deploy.ports import DeployState, TaskTokens
from feecast.observability import logger

APPROVAL_SK = "APPROVAL"

# Refusal reasons: the log field `reason` and the ApprovalRefused metric's Reason dimension
# (a fixed, small set: never text taken from the request).
RefusalCode = Literal[
    "Malformed",  # 400: a field missing or not in its format
    "WrongMethod",  # 405: neither GET (confirm page) nor POST (apply)
    "Oversize",  # 413 / 414: body or query string larger than any genuine link sends
    "BadSignature",  # 403: forged, or id / decision / expiry altered
    "Expired",  # 410: the approval window is over
    "UsedOrUnknown",  # 410: decided already (either link of the pair, or the CLI), or no such id
    "ExecutionEnded",  # 410: the deployment stopped waiting (stopped, timed out, failed)
]


class PendingApproval(BaseModel):
    approval_id: str
    deployment_id: str
    model_package_arn: str
    version: int
    execution_arn: str
    staging_endpoint: str
    created_at: str
    expires_at: int
    loss: float | None = None
    threshold: float | None = None
    baseline_loss: float | None = None


class ApprovalRefused(RuntimeError):
    """The decision cannot be applied. `status`: HTTP status for the link page; `code`: the
    refusal's name (RefusalCode); `reason`: a fixed sentence for people."""

    def __init__(self, status: int, reason: str, code: RefusalCode = "Malformed") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.code: RefusalCode = code


class Decided(BaseModel):
    approval_id: str
    decision: str
    deployment_id: str
    model_package_arn: str
    by: str


def list_pending(state: DeployState, *, now: float | None = None) -> list[PendingApproval]:
    """Approvals still waiting (not used, not expired), oldest first."""
    now = time.time() if now is None else now
    out = []
    # Only the listed fields are read: listing never fetches a task token (ApproverPolicy
    # allows the Scan only so).
    fields = ["pk", "sk", *PendingApproval.model_fields]
    for item in state.scan_prefix(names.APPROVAL_PREFIX, attributes=fields):
        if item.get("sk") != APPROVAL_SK or int(item.get("expires_at", 0)) <= now:
            continue
        out.append(
            PendingApproval.model_validate(
                {k: v for k, v in item.items() if k in PendingApproval.model_fields}
            )
        )
    return sorted(out, key=lambda a: a.created_at)


def decide(
    state: DeployState,
    tasks: TaskTokens,
    approval_id: str,
    decision: str,
    *,
    by: str,
    comment: str = "",
    now: float | None = None,
) -> Decided:
    """Consume the approval (once) and resume the waiting execution with the decision.

    ApprovalRefused (400 Malformed, 410 Expired / UsedOrUnknown / ExecutionEnded) otherwise;
    nothing is resumed then."""
    if decision not in links.DECISIONS:
        raise ApprovalRefused(400, "the decision must be approve or reject")
    if not links.ID_PATTERN.fullmatch(approval_id or ""):
        raise ApprovalRefused(400, "an approval id is 1-64 letters, digits, '-' or '_'")
    now = time.time() if now is None else now
    table = state
    pk = f"{names.APPROVAL_PREFIX}{approval_id}"
    item = table.take(
        pk,
        APPROVAL_SK,
        condition="attribute_exists(pk) AND expires_at > :now",
        values={":now": int(now)},
    )
    if item is None:
        if table.get(pk, APPROVAL_SK, attributes=["pk"]) is not None:
            raise ApprovalRefused(
                410, "this approval has expired: the deployment already ended", "Expired"
            )
        raise ApprovalRefused(
            410, "this approval was already used, or does not exist", "UsedOrUnknown"
        )
    output = {
        "decision": decision,
        "by": by,
        "comment": comment,
        "at": datetime.fromtimestamp(now, UTC).isoformat(),
        "approval_id": approval_id,
    }
    try:
        tasks.succeed(str(item["task_token"]), output)
    except TaskGone:
        # The record is consumed either way: the execution it names no longer waits.
        raise ApprovalRefused(
            410, "the deployment is no longer waiting for a decision", "ExecutionEnded"
        ) from None
    logger.info(
        "approval decided", extra={"approval_id": approval_id, "decision": decision, "by": by}
    )
    return Decided(
        approval_id=approval_id,
        decision=decision,
        deployment_id=str(item.get("deployment_id", "")),
        model_package_arn=str(item.get("model_package_arn", "")),
        by=by,
    )


def pending_for_package(state: DeployState, model_package_arn: str) -> list[str]:
    return [a.approval_id for a in list_pending(state) if a.model_package_arn == model_package_arn]
