"""ReportOutcomeFunction: how a deployment ends other than recorded (approved, rejected, timed out,
failed): count, then notify. A notification SNS cannot take is logged and counted
(NotificationsFailed), never a failed step: the outcome does not depend on the message.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel

from feecast.deploy.outcome import int_or_none
from feecast.deploy.settings import DeploySettings
from feecast.lifecycle import DetailType, lifecycle_event
from feecast.observability import metrics
from feecast.ports import Notifier

Outcome = Literal["approved", "rejected", "timed_out", "failed"]


_METRIC = {
    "approved": "ApprovalsGranted",
    "rejected": "ApprovalsRejected",
    "timed_out": "ApprovalsTimedOut",
    "failed": "DeploymentsFailed",
}


_DETAIL_TYPE = {
    "approved": DetailType.APPROVAL_GRANTED,
    "rejected": DetailType.APPROVAL_REJECTED,
    "timed_out": DetailType.APPROVAL_EXPIRED,
    "failed": DetailType.DEPLOYMENT_FAILED,
}


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


class OutcomeRequest(BaseModel):
    """The step's input, as the state machine's Parameters build it."""

    outcome: Literal["approved", "rejected", "timed_out", "failed"]
    execution: str
    deployment: dict[str, Any]
    failed_step: str | None = None


class OutcomeReported(BaseModel):
    """The step's result; notification_not_sent only when SNS did not take it (dumped without
    the None)."""

    outcome: str
    execution: str
    notification_not_sent: str | None = None


def report_outcome(
    *,
    outcome: Outcome,
    deployment: dict[str, Any],
    execution: str,
    failed_step: str | None,
    settings: DeploySettings,
    notifier: Notifier,
) -> OutcomeReported:
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
    facts = {
        "outcome": outcome,
        "execution": execution,
        "model_package_arn": deployment.get("model_package_arn"),
        "failed_step": failed_step,
        "error": error or None,
    }
    # Counted first: an SNS outage must not hide failures and decisions from the metrics.
    metrics.add_metric(name=_METRIC[outcome], unit="Count", value=1)
    lost = notifier.notify_or_count(
        settings.notification_topic_arn,
        subjects[outcome],
        messages[outcome],
        facts,
        event=lifecycle_event(
            _DETAIL_TYPE[outcome],
            project=settings.project_name,
            outcome=outcome,
            summary=subjects[outcome],
            # approvals are about production; a failure names the phase it stopped in
            stage=None if outcome == "failed" else "production",
            model_package_arn=deployment.get("model_package_arn"),
            model_version=int_or_none(version),
            execution=execution,
            facts=facts | {"mode": mode, "approval_by": approval.get("by")},
        ),
    )
    return OutcomeReported(outcome=outcome, execution=execution, notification_not_sent=lost)
