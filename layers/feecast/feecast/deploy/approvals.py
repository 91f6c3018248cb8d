"""Human approval of a staging deployment: the request, the link, the command, the decision.

"Ask A Person To Approve" is a .waitForTaskToken task. Its token is kept in the StateTable
under APPROVAL#<random id> with expires_at = the wait's timeout; only the id travels in links
and messages. A decision (signed link or `feecast approve/reject` with AWS credentials) consumes
the record with a conditional delete (single use), then resumes the execution with
SendTaskSuccess({"decision": "approve"|"reject", ...}); the state machine's Choice reads it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from feecast.adapters.notify import notify
from feecast.deploy import aws, links, names
from feecast.deploy.settings import ApprovalRequestSettings, ApprovalSettings, DeploySettings
from feecast.observability import logger

_SK = "APPROVAL"


class ApprovalRequest(BaseModel):
    approval_id: str
    expires_at: int
    approve_url: str
    reject_url: str


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
    """The decision cannot be applied. `status`: HTTP status for the link page."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Decided(BaseModel):
    approval_id: str
    decision: str
    deployment_id: str
    model_package_arn: str
    by: str


def request_approval(
    *,
    task_token: str,
    execution_arn: str,
    deployment: dict[str, Any],
    timeout_seconds: int,
    settings: ApprovalRequestSettings,
) -> ApprovalRequest:
    """Store the token under a fresh id and tell people what waits and how to decide."""
    table = aws.StateTable(settings.state_table)
    approval_id = links.new_approval_id()
    now = datetime.now(UTC)
    expires = int((now + timedelta(seconds=timeout_seconds)).timestamp())
    threshold = deployment.get("threshold") or {}
    record = PendingApproval(
        approval_id=approval_id,
        deployment_id=str(deployment["deployment_id"]),
        model_package_arn=str(deployment["model_package_arn"]),
        version=int(deployment["model_package_version"]),
        execution_arn=execution_arn,
        staging_endpoint=settings.staging_endpoint_name,
        created_at=now.isoformat(),
        expires_at=expires,
        loss=threshold.get("loss"),
        threshold=threshold.get("old_threshold"),
        baseline_loss=threshold.get("baseline_loss"),
    )
    table.put(
        {
            "pk": f"{names.APPROVAL_PREFIX}{approval_id}",
            "sk": _SK,
            "task_token": task_token,
            **record.model_dump(),
        },
        condition="attribute_not_exists(pk)",
    )
    secret = aws.link_secret(settings.approval_secret_arn)
    approve = links.link(settings.approval_api_url, secret, approval_id, "approve", expires)
    reject = links.link(settings.approval_api_url, secret, approval_id, "reject", expires)
    smoke = deployment.get("smoke") or {}
    lines = [
        f"Model package version {record.version} is on the staging endpoint {record.staging_endpoint} "
        "and passed its smoke test. It waits for a person to promote it to production.",
        "",
        f"Loss (mean wQL): {record.loss}   baseline: {record.baseline_loss}   "
        f"threshold before approval: {record.threshold}"
        + (
            f"   new threshold: {threshold.get('new_threshold')}"
            if threshold.get("lowered")
            else ""
        ),
        f"Smoke test context: {smoke.get('context_source', 'n/a')}",
        f"Decide before {datetime.fromtimestamp(expires, UTC):%Y-%m-%d %H:%M} UTC; after that the deployment ends.",
        "",
        f"Approve: {approve}",
        f"Reject:  {reject}",
        "",
        f"Or with AWS credentials: feecast approve {approval_id}   /   feecast reject {approval_id}",
    ]
    notify(
        settings.notification_topic_arn,
        f"feecast: approve model v{record.version} for production?",
        "\n".join(lines),
        {
            "approval_id": approval_id,
            "deployment_id": record.deployment_id,
            "model_package_arn": record.model_package_arn,
            "execution_arn": execution_arn,
            "staging_endpoint": record.staging_endpoint,
            "expires_at": expires,
        },
    )
    logger.info(
        "approval requested", extra={"approval_id": approval_id, "deployment": record.deployment_id}
    )
    return ApprovalRequest(
        approval_id=approval_id, expires_at=expires, approve_url=approve, reject_url=reject
    )


def list_pending(state_table: str, *, now: float | None = None) -> list[PendingApproval]:
    """Approvals still waiting (not used, not expired), oldest first."""
    now = time.time() if now is None else now
    out = []
    for item in aws.StateTable(state_table).scan_prefix(names.APPROVAL_PREFIX):
        if item.get("sk") != _SK or int(item.get("expires_at", 0)) <= now:
            continue
        item.pop("task_token", None)
        out.append(
            PendingApproval.model_validate(
                {k: v for k, v in item.items() if k in PendingApproval.model_fields}
            )
        )
    return sorted(out, key=lambda a: a.created_at)


def decide(
    state_table: str,
    approval_id: str,
    decision: str,
    *,
    by: str,
    comment: str = "",
    now: float | None = None,
) -> Decided:
    """Consume the approval (once) and resume the waiting execution with the decision."""
    if decision not in links.DECISIONS:
        raise ApprovalRefused(400, f"decision {decision!r} must be approve or reject")
    now = time.time() if now is None else now
    table = aws.StateTable(state_table)
    pk = f"{names.APPROVAL_PREFIX}{approval_id}"
    item = table.take(
        pk, _SK, condition="attribute_exists(pk) AND expires_at > :now", values={":now": int(now)}
    )
    if item is None:
        left = table.get(pk, _SK)
        if left is not None:
            raise ApprovalRefused(410, "this approval has expired: the deployment already ended")
        raise ApprovalRefused(410, "this approval was already used, or does not exist")
    output = {
        "decision": decision,
        "by": by,
        "comment": comment,
        "at": datetime.fromtimestamp(now, UTC).isoformat(),
        "approval_id": approval_id,
    }
    try:
        aws.send_task_success(str(item["task_token"]), output)
    except aws.TaskGone as exc:
        raise ApprovalRefused(410, f"the deployment is no longer waiting ({exc})") from None
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


def decide_by_link(
    settings: ApprovalSettings,
    *,
    approval_id: str | None,
    decision: str | None,
    expires: str | None,
    signature: str | None,
    by: str,
    commit: bool,
    now: float | None = None,
) -> Decided | links.VerifiedLink:
    """Verify a link; when `commit`, consume and apply it. LinkError / ApprovalRefused otherwise."""
    now = time.time() if now is None else now
    verified = links.verify(
        aws.link_secret(settings.approval_secret_arn),
        approval_id,
        decision,
        expires,
        signature,
        now=now,
    )
    if not commit:
        return verified
    return decide(settings.state_table, verified.approval_id, verified.decision, by=by, now=now)


def pending_for_package(settings: DeploySettings, model_package_arn: str) -> list[str]:
    return [
        a.approval_id
        for a in list_pending(settings.state_table)
        if a.model_package_arn == model_package_arn
    ]
