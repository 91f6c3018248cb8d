"""Notify The Build Failed: turn the error a Catch recorded into a readable notification.

Each Task state of the ModelBuild state machine catches every error into `$.errors.<step>`
(ResultPath), so the key says which step failed. The Cause is a Lambda error payload (JSON with
errorType/errorMessage), a SageMaker job description (FailureReason) or plain text; the
reason a person reads is extracted from it, the raw Cause is kept in the facts (shortened).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field

from feecast.build.settings import ReportSettings
from feecast.lifecycle import DetailType, lifecycle_event
from feecast.observability import metrics
from feecast.ports import Notifier

__all__ = [
    "STEPS",
    "FailureReport",
    "FailureRequest",
    "describe_failure",
    "reason_from_cause",
]

# $.errors.<key> -> the ASL state that failed (statemachines/model_build.asl.json).
STEPS = {
    "prepare": "Prepare The Data",
    "train": "Train The Model",
    "create_model": "Create The Model",
    "transform": "Forecast The Backtest Origins",
    "production_model": "Copy The Production Model",
    "production_transform": "Forecast The Backtest With The Production Model",
    "evaluate": "Evaluate The Model",
    "register": "Register The Model",
}
_MAX_CAUSE = 4000
# The final Fail state's Error when the caught one is a reserved "States.*" name.
STEP_ERRORS = {
    "prepare": "DataPreparationFailed",
    "train": "TrainingFailed",
    "create_model": "ModelCreationFailed",
    "transform": "TransformFailed",
    "production_model": "ModelCreationFailed",
    "production_transform": "TransformFailed",
    "evaluate": "EvaluationFailed",
    "register": "RegistrationFailed",
}

# What a person can do about the usual errors.
_ADVICE = {
    "DataRefused": "Check ingestion (feature group minutes) and the target parameter; the build "
    "will succeed once enough clean minutes exist.",
    "ConfigError": "Fix the SSM parameter named in the reason (feecast.config documents the "
    "fields); no model was trained.",
    "States.Timeout": "The step ran past its timeout; check the SageMaker job in the console.",
    "AwsThrottled": "An AWS service (named in the reason) kept throttling or failing through "
    "every retry; start the build again later (feecast build).",
    "SageMakerThrottled": "SageMaker kept throttling the call through every retry (another "
    "workload in the account is using the API rate); start the build again later.",
    "SageMakerQuotaIsZero": "The account's SageMaker quota for this instance type is 0: request "
    "an increase in Service Quotas (feecast doctor lists the quotas), or choose another "
    "instance type (TrainingInstanceType / TransformInstanceType).",
    "SageMaker.ResourceLimitExceededException": "A SageMaker quota is in use by other jobs or "
    "endpoints even after waiting; see the reason, then start the build again.",
    "HistoryReadTimeout": "The offline store held too many files to read in the function's "
    "time, even after retries; start the build again (files already read are cached in warm "
    "containers), or shorten history_days in the target parameter (docs/build.md).",
}


class FailureRequest(BaseModel):
    execution_name: str
    execution_arn: str
    trigger: str = "unknown"
    errors: dict[str, dict[str, Any]] = Field(default_factory=dict)


class FailureReport(BaseModel):
    step: str
    error: str  # as caught (e.g. DataRefused, States.TaskFailed)
    final_error: str  # for the Fail state: never a reserved States.* name
    reason: str
    subject: str
    message: str
    facts: dict[str, Any]


def reason_from_cause(cause: str | None) -> str:
    """The human part of a Step Functions error Cause."""
    if not cause:
        return "no cause was given"
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        return cause.strip()[:_MAX_CAUSE]
    if isinstance(parsed, Mapping):
        for key in ("errorMessage", "FailureReason", "message", "Message"):
            value = parsed.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:_MAX_CAUSE]
    return cause.strip()[:_MAX_CAUSE]


def _without_stack_trace(cause: str) -> str:
    # A Lambda error's stack trace belongs in the logs, not in an e-mail.
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        return cause
    if isinstance(parsed, dict) and "stackTrace" in parsed:
        parsed.pop("stackTrace")
        return json.dumps(parsed)
    return cause


def describe_failure(request: FailureRequest) -> FailureReport:
    """Which step failed, with which error, why, and what to do (pure)."""
    if request.errors:
        key, error = next(iter(request.errors.items()))
    else:
        key, error = "unknown", {}
    step = STEPS.get(key, key)
    name = str(error.get("Error") or "UnknownError")
    reason = reason_from_cause(error.get("Cause"))
    advice = _ADVICE.get(name, "See the execution's history in the Step Functions console.")
    message = (
        f"Model build {request.execution_name} failed at step '{step}' with {name}: {reason}\n\n"
        f"No model was registered. {advice}"
    )
    cause = _without_stack_trace(str(error.get("Cause") or ""))
    facts = {
        "execution_arn": request.execution_arn,
        "trigger": request.trigger,
        "step": step,
        "error": name,
        "reason": reason,
        "cause": cause[:_MAX_CAUSE],
    }
    final = name if not name.startswith("States.") else STEP_ERRORS.get(key, "BuildFailed")
    return FailureReport(
        step=step,
        error=name,
        final_error=final,
        reason=reason,
        subject=f"feecast build failed: {step} ({name})",
        message=message,
        facts=facts,
    )


class _BuildData(BaseModel):
    trigger: str | None = None


class CaughtState(BaseModel):
    """The state machine's data when the error was caught; only what the report reads."""

    trigger: str | None = None  # the execution input's
    data: _BuildData | None = None  # "Prepare The Data"'s result, once it ran
    errors: dict[str, dict[str, Any]] | None = None  # $.errors.<step>, set by each Catch

    @property
    def trigger_name(self) -> str:
        return self.trigger or (self.data.trigger if self.data else None) or "unknown"


class Event(BaseModel):
    execution_name: str
    execution_arn: str
    state: CaughtState


class FailedBuild(BaseModel):
    """The final Fail state's Error and Cause ("States.*" errors become e.g. "TrainingFailed":
    Fail states may not use the reserved prefix)."""

    Error: str
    Cause: str


def report_build_failure(
    request: Event, settings: ReportSettings, *, notifier: Notifier
) -> FailedBuild:
    """Describe the failure, count it (BuildsFailed), notify."""
    report = describe_failure(
        FailureRequest(
            execution_name=request.execution_name,
            execution_arn=request.execution_arn,
            trigger=request.state.trigger_name,
            errors=request.state.errors or {},
        )
    )
    metrics.add_metric(name="BuildsFailed", unit=MetricUnit.Count, value=1)
    cause = f"{report.step}: {report.reason}"
    # SNS down (its SDK retries spent): the execution must still end with the build's own
    # error, not the notifier's; the lost notification is logged, counted and said here.
    lost = notifier.notify_or_count(
        settings.notification_topic_arn,
        report.subject,
        report.message,
        report.facts,
        event=lifecycle_event(
            DetailType.BUILD_FAILED,
            project=settings.project_name,
            outcome="failed",
            summary=report.subject,
            execution=request.execution_arn,
            facts=report.facts | {"step": report.step, "error": report.final_error},
        ),
    )
    if lost:
        cause += f" (the notification could not be sent: {lost})"
    return FailedBuild(Error=report.final_error, Cause=cause)
