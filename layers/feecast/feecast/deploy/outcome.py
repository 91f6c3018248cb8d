"""How a deployment ends: the record of what production serves, notifications and metrics.

"Record The Deployment" writes DEPLOY#<stage> history (sk AT#<time>#<execution>) and the
DEPLOY#<stage>/CURRENT pointer (what the endpoint serves, and what it served before). The
other outcomes (approved, rejected, timed out, failed) notify and count.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from feecast.adapters.notify import notify
from feecast.deploy import aws, names
from feecast.deploy.history import DeploymentRecord
from feecast.deploy.settings import DeploySettings
from feecast.observability import logger, metrics

Outcome = Literal["approved", "rejected", "timed_out", "failed"]

_METRIC = {
    "approved": "ApprovalsGranted",
    "rejected": "ApprovalsRejected",
    "timed_out": "ApprovalsTimedOut",
    "failed": "DeploymentsFailed",
}


def current(state_table: str, stage: str) -> DeploymentRecord | None:
    item = aws.StateTable(state_table).get(f"{names.DEPLOY_PREFIX}{stage}", names.CURRENT_SK)
    return None if item is None else DeploymentRecord.from_item(item)


def history(state_table: str, stage: str) -> list[DeploymentRecord]:
    """Deployments of a stage, newest first."""
    items = aws.StateTable(state_table).query(
        f"{names.DEPLOY_PREFIX}{stage}", sk_prefix=names.HISTORY_SK_PREFIX, newest_first=True
    )
    return [DeploymentRecord.from_item(i) for i in items]


def record_deployment(
    *,
    stage: str,
    model_package_arn: str,
    execution: str,
    mode: str,
    endpoint: dict[str, Any],
    reason: str,
    settings: DeploySettings,
) -> DeploymentRecord:
    """Remember what the stage's endpoint now serves; notify; count the success."""
    table = aws.StateTable(settings.state_table)
    before = current(settings.state_table, stage)
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
    verb = "rolled back to" if mode == "rollback" else "now serves"
    notify(
        settings.notification_topic_arn,
        f"feecast: {stage} {verb} model v{record.version}",
        f"The {stage} endpoint {endpoint.get('endpoint_name')} {verb} model package version "
        f"{record.version}. {reason}".strip(),
        {**record.to_item(), "guardrails": endpoint.get("guardrails")},
    )
    metrics.add_metric(
        name="Rollbacks" if mode == "rollback" else "DeploymentsSucceeded", unit="Count", value=1
    )
    logger.info("deployment recorded", extra=record.to_item())
    return record


def _cause_text(error: dict[str, Any] | None) -> str:
    if not error:
        return ""
    cause = error.get("Cause", "")
    try:  # Lambda errors arrive as JSON: {"errorMessage": ..., "errorType": ...}
        parsed = json.loads(cause)
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            cause = f"{parsed.get('errorType', '')}: {parsed['errorMessage']}"
    except (TypeError, ValueError):
        pass
    return f"{error.get('Error', 'Error')} - {cause}".strip(" -")


def report_outcome(
    *,
    outcome: Outcome,
    deployment: dict[str, Any],
    execution: str,
    failed_step: str | None,
    settings: DeploySettings,
) -> dict[str, str]:
    """Notify people of an approval, a rejection, a timeout or a failure, and count it."""
    version = deployment.get("model_package_version", "?")
    approval = deployment.get("approval") or {}
    error = _cause_text(deployment.get("error"))
    mode = deployment.get("mode", "deploy")
    what = "rollback" if mode == "rollback" else f"deployment of model v{version}"
    subjects = {
        "approved": f"feecast: model v{version} approved, deploying to production",
        "rejected": f"feecast: model v{version} rejected, production unchanged",
        "timed_out": f"feecast: approval of model v{version} timed out, production unchanged",
        "failed": f"feecast: {what} failed",
    }
    messages = {
        "approved": f"{approval.get('by', 'someone')} approved model v{version}; production is being updated.",
        "rejected": f"{approval.get('by', 'someone')} rejected model v{version}. "
        f"Production keeps serving its current model. {approval.get('comment', '')}".strip(),
        "timed_out": f"Nobody decided on model v{version} before the approval window closed. "
        "Production keeps serving its current model; approve the package again to retry.",
        "failed": f"The {what} failed at step {failed_step or 'unknown'}: {error or 'no detail'}. "
        + (
            "Production keeps serving its previous model (SageMaker keeps the old fleet when an "
            "update fails or is rolled back)."
            if failed_step and "Production" in failed_step
            else "Production was not touched."
        ),
    }
    notify(
        settings.notification_topic_arn,
        subjects[outcome],
        messages[outcome],
        {
            "outcome": outcome,
            "execution": execution,
            "model_package_arn": deployment.get("model_package_arn"),
            "failed_step": failed_step,
            "error": error or None,
        },
    )
    metrics.add_metric(name=_METRIC[outcome], unit="Count", value=1)
    return {"outcome": outcome, "execution": execution}
