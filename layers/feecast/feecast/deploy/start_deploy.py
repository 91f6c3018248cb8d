"""Start one ModelDeploy execution per approval of a model package.

Two layers of deduplication, because SageMaker may send several events per change and
EventBridge delivers at least once:
1. Powertools Idempotency on (package ARN, approval status, approval time): a duplicate event
   returns the first call's result without touching Step Functions;
2. the execution name `v<version>-<approval time>`: StartExecution itself refuses (or returns)
   a second execution of the same name, even after the idempotency record expired.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from feecast.deploy import names, trigger
from feecast.deploy.ports import Executions, Packages
from feecast.deploy.settings import StartSettings
from feecast.events import PackageDetail
from feecast.observability import logger, metrics
from feecast.ports import Once

IDEMPOTENCY_SECONDS = 24 * 3600


class DeployStart(BaseModel):
    started: bool
    reason: str
    execution_name: str | None = None
    execution_arn: str | None = None


def start_deploy(
    event: PackageDetail,
    event_time: datetime | str | None,
    settings: StartSettings,
    context: Any = None,
    *,
    packages: Packages,
    executions: Executions,
    once: Once,
) -> DeployStart:
    """Start the ModelDeploy state machine for an approval event, exactly once."""
    decision = trigger.classify(
        event.detail(), wanted_status=trigger.APPROVED, group=settings.model_package_group_name
    )
    if not decision.act:
        logger.info("package event ignored", extra={"reason": decision.reason})
        return DeployStart(started=False, reason=decision.reason)

    approved_at = event.changed_at(event_time)

    def _start() -> dict[str, Any]:
        # The package may have been rejected again, or deleted, since the event was sent:
        # nothing to deploy then, and nothing to retry.
        package = packages.find(event.model_package_arn)
        if package is None:
            logger.warning("approved package no longer exists", extra=event.detail())
            return DeployStart(started=False, reason="package no longer exists").model_dump()
        if package.get("ModelApprovalStatus") != trigger.APPROVED:
            return DeployStart(
                started=False,
                reason=f"package is now {package.get('ModelApprovalStatus')}, not Approved",
            ).model_dump()
        name = names.deploy_execution_name(event.version, approved_at)
        payload = {
            "mode": "deploy",
            "deployment_id": name,
            "model_package_arn": event.model_package_arn,
            "model_package_version": event.version,
            "model_package_group": event.model_package_group_name,
            "approved_at": approved_at.isoformat(),
        }
        arn, new = executions.start(settings.deploy_state_machine_arn, name, payload)
        if new:
            metrics.add_metric(name="DeploymentsStarted", unit="Count", value=1)
        reason = "deployment started" if new else "deployment already started for this approval"
        logger.info(reason, extra={"execution": name})
        return DeployStart(
            started=new, reason=reason, execution_name=name, execution_arn=arn
        ).model_dump()

    key = {
        "model_package_arn": event.model_package_arn,
        "status": event.model_approval_status,
        "approved_at": approved_at.isoformat(),
    }
    result = once.run_once(
        table=settings.idempotency_table,
        name="start-deploy",
        key=key,
        expires_after_seconds=IDEMPOTENCY_SECONDS,
        call=_start,
        lambda_context=context,
    )
    return DeployStart.model_validate(result)
