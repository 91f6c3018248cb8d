"""RequestApprovalFunction: step "Ask A Person To Approve" (a .waitForTaskToken task) keeps the
token under APPROVAL#<random id> (approvals.py says who may decide, and how) and sends the
signed approve / reject links.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from feecast.deploy import links, names
from feecast.deploy.approvals import APPROVAL_SK, PendingApproval
from feecast.deploy.ports import DeployState, Secret
from feecast.deploy.settings import ApprovalRequestSettings
from feecast.lifecycle import DetailType, lifecycle_event
from feecast.observability import logger
from feecast.ports import Notifier


class ApprovalAsked(BaseModel):
    """The task's result. The links are secrets of a kind: they stay in the notification, not
    in the execution's history."""

    approval_id: str
    expires_at: int


class ApprovalRequest(BaseModel):
    approval_id: str
    expires_at: int
    approve_url: str
    reject_url: str

    def asked(self) -> ApprovalAsked:
        return ApprovalAsked(approval_id=self.approval_id, expires_at=self.expires_at)


class AskRequest(BaseModel):
    """The task's input, as the state machine's Parameters build it."""

    task_token: str = Field(min_length=1)
    execution_arn: str
    timeout_seconds: int = Field(gt=0)
    deployment: dict[str, Any]


def request_approval(
    *,
    task_token: str,
    execution_arn: str,
    deployment: dict[str, Any],
    timeout_seconds: int,
    settings: ApprovalRequestSettings,
    state: DeployState,
    secret: Secret,
    notifier: Notifier,
) -> ApprovalRequest:
    """Store the token under a fresh id and tell people what waits and how to decide."""
    table = state
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
            "sk": APPROVAL_SK,
            "task_token": task_token,
            **record.model_dump(),
        },
        condition="attribute_not_exists(pk)",
    )
    key = secret.get()
    approve = links.link(settings.approval_api_url, key, approval_id, "approve", expires)
    reject = links.link(settings.approval_api_url, key, approval_id, "reject", expires)
    smoke = deployment.get("smoke") or {}
    lines = [
        f"Model package version {record.version} is on the staging endpoint {record.staging_endpoint} "
        "and passed its smoke test. It waits for a person to promote it to production.",
        "",
        f"Loss (mean wQL): {record.loss}   baseline: {record.baseline_loss}   "
        f"threshold before approval: {record.threshold}"
        + (
            f"   new threshold: {threshold.get('new_threshold')}"
            if threshold.get("changed", threshold.get("lowered"))
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
    subject = f"feecast: approve model v{record.version} for production?"
    facts = {
        "approval_id": approval_id,
        "deployment_id": record.deployment_id,
        "model_package_arn": record.model_package_arn,
        "execution_arn": execution_arn,
        "staging_endpoint": record.staging_endpoint,
        "expires_at": expires,
    }
    notifier.notify(
        settings.notification_topic_arn,
        subject,
        "\n".join(lines),
        facts,
        # The links are not in the event: whoever can read the bus is not always an approver.
        event=lifecycle_event(
            DetailType.APPROVAL_REQUESTED,
            project=settings.project_name,
            outcome="requested",
            summary=subject,
            stage="production",
            model_package_arn=record.model_package_arn,
            execution=execution_arn,
            facts=facts | {"loss": record.loss, "threshold": record.threshold},
        ),
    )
    logger.info(
        "approval requested", extra={"approval_id": approval_id, "deployment": record.deployment_id}
    )
    return ApprovalRequest(
        approval_id=approval_id, expires_at=expires, approve_url=approve, reject_url=reject
    )
