"""RecordDeploymentFunction: step "Record The Deployment" writes DEPLOY#<stage> history (sk
AT#<time>#<execution>) and the DEPLOY#<stage>/CURRENT pointer (what the endpoint serves, and what
it served before), then notifies.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel

from feecast.deploy import names
from feecast.deploy.history import DeploymentRecord
from feecast.deploy.outcome import current, int_or_none
from feecast.deploy.ports import DeployState
from feecast.deploy.settings import DeploySettings
from feecast.lifecycle import DetailType, lifecycle_event
from feecast.observability import logger, metrics
from feecast.ports import Notifier


class RecordRequest(BaseModel):
    """The step's input, as the state machine's Parameters build it."""

    stage: Literal["staging", "production"]
    mode: Literal["deploy", "rollback"]
    model_package_arn: str
    execution: str
    endpoint: dict[str, Any]
    reason: str = ""


def record_deployment(
    *,
    stage: str,
    model_package_arn: str,
    execution: str,
    mode: str,
    endpoint: dict[str, Any],
    reason: str,
    settings: DeploySettings,
    state: DeployState,
    notifier: Notifier,
) -> DeploymentRecord:
    """Remember what the stage's endpoint now serves; count the success; notify (a notification
    SNS cannot take is logged and counted, not an error: the deployment happened)."""
    table = state
    before = current(state, stage)
    now = datetime.now(UTC)
    if before is not None and before.execution == execution:
        return before  # a retry of this step after it succeeded
    record = DeploymentRecord(
        stage=stage,
        package_arn=model_package_arn,
        version=names.package_version(model_package_arn),
        deployed_at=now.isoformat(),
        execution=execution,
        previous_package_arn=before.package_arn if before else None,
        mode=mode,
        endpoint_config=endpoint.get("endpoint_config_name"),
    )
    pk = f"{names.DEPLOY_PREFIX}{stage}"
    table.put(
        {
            "pk": pk,
            "sk": f"{names.HISTORY_SK_PREFIX}{now.isoformat()}#{execution}",
            **record.to_item(),
        }
    )
    table.put({"pk": pk, "sk": names.CURRENT_SK, **record.to_item()})
    metrics.add_metric(
        name="Rollbacks" if mode == "rollback" else "DeploymentsSucceeded", unit="Count", value=1
    )
    logger.info("deployment recorded", extra=record.to_item())
    verb = "rolled back to" if mode == "rollback" else "now serves"
    subject = f"feecast: {stage} {verb} model v{record.version}"
    facts = {**record.to_item(), "guardrails": endpoint.get("guardrails")}
    # The deployment happened: SNS being down must not turn it into "Deployment Failed".
    notifier.notify_or_count(
        settings.notification_topic_arn,
        subject,
        f"The {stage} endpoint {endpoint.get('endpoint_name')} {verb} model package version "
        f"{record.version}. {reason}".strip(),
        facts,
        event=lifecycle_event(
            DetailType.ROLLBACK_SUCCEEDED
            if mode == "rollback"
            else DetailType.DEPLOYMENT_SUCCEEDED,
            project=settings.project_name,
            outcome="rolled_back" if mode == "rollback" else "deployed",
            summary=subject,
            stage=stage,
            model_package_arn=model_package_arn,
            model_version=int_or_none(record.version),
            execution=execution,
            facts=facts,
        ),
    )
    return record
