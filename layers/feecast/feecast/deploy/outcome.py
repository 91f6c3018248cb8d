"""How a deployment ends: the record of what production serves, notifications and metrics.

"Record The Deployment" writes DEPLOY#<stage> history (sk AT#<time>#<execution>) and the
DEPLOY#<stage>/CURRENT pointer (what the endpoint serves, and what it served before). The
other outcomes (approved, rejected, timed out, failed) count, then notify. A notification SNS
cannot take is logged and counted (NotificationsFailed), never a failed step: the deployment's
outcome does not depend on the message.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from feecast.deploy import names
from feecast.deploy.history import DeploymentRecord
from feecast.deploy.ports import DeployState, Notifier
from feecast.deploy.settings import DeploySettings
from feecast.observability import logger, metrics

Outcome = Literal["approved", "rejected", "timed_out", "failed"]

_METRIC = {
    "approved": "ApprovalsGranted",
    "rejected": "ApprovalsRejected",
    "timed_out": "ApprovalsTimedOut",
    "failed": "DeploymentsFailed",
}


def current(state: DeployState, stage: str) -> DeploymentRecord | None:
    item = state.get(f"{names.DEPLOY_PREFIX}{stage}", names.CURRENT_SK)
    return None if item is None else DeploymentRecord.from_item(item)


def history(state: DeployState, stage: str) -> list[DeploymentRecord]:
    """Deployments of a stage, newest first."""
    items = state.query(
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
    # The deployment happened: SNS being down must not turn it into "Deployment Failed".
    notifier.notify_or_count(
        settings.notification_topic_arn,
        f"feecast: {stage} {verb} model v{record.version}",
        f"The {stage} endpoint {endpoint.get('endpoint_name')} {verb} model package version "
        f"{record.version}. {reason}".strip(),
        {**record.to_item(), "guardrails": endpoint.get("guardrails")},
    )
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


# What a failure means for production, by the phase the state machine notes ("failed_step").
_PRODUCTION_AFTER = {
    "before-production": "Production was not touched.",
    "production": "Production keeps serving its previous model (SageMaker keeps the old fleet "
    "when an update fails or is rolled back).",
    "after-production": "Production was updated and serves the new model, but the step after it "
    "failed: check the endpoint and the DEPLOY#production record.",
}


def _threshold_note(threshold: Any, failed_step: str | None) -> str:
    """A failure after "Update The Threshold" changed it: say so (docs/deploy.md, Known limits)."""
    if failed_step == "after-production" or not isinstance(threshold, dict):
        return ""
    if not threshold.get("changed", threshold.get("lowered")):
        return ""
    return (
        f" The alarm threshold was set for this model from "
        f"{threshold.get('old_threshold')} to {threshold.get('new_threshold')} before staging "
        f"and stays so (SSM version "
        f"{threshold.get('ssm_version')}; the parameter's history and the THRESHOLD# record "
        "keep the old value)."
    )


def report_outcome(
    *,
    outcome: Outcome,
    deployment: dict[str, Any],
    execution: str,
    failed_step: str | None,
    settings: DeploySettings,
    notifier: Notifier,
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
        "Production keeps serving its current model. To deploy it after all: "
        f"feecast reject --package {version}, then feecast approve --package {version} "
        "(an Approved package cannot be approved again).",
        "failed": f"The {what} failed at step {failed_step or 'unknown'}: {error or 'no detail'}. "
        + _PRODUCTION_AFTER.get(failed_step or "", "Check what the production endpoint serves.")
        + _threshold_note(deployment.get("threshold"), failed_step),
    }
    # Counted first: an SNS outage must not hide failures and decisions from the metrics.
    metrics.add_metric(name=_METRIC[outcome], unit="Count", value=1)
    lost = notifier.notify_or_count(
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
    result = {"outcome": outcome, "execution": execution}
    return result if lost is None else result | {"notification_not_sent": lost}
