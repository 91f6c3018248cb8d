"""Notify The Build Failed (ModelBuild state machine): which step failed and why.

template.yaml ReportBuildFailureFunction -> statemachines/model_build.asl.json "Notify The
Build Failed" -> feecast.build.report_build_failure.describe_failure + feecast.adapters.notify. Returns
{"Error", "Cause"} for the final Fail state ("States.*" errors become
e.g. "TrainingFailed": Fail states may not use the reserved prefix). Emits BuildsFailed.
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters.notify import notify_or_count
from feecast.build.report_build_failure import FailureRequest, describe_failure
from feecast.lifecycle import DetailType, lifecycle_event
from feecast.observability import logger, metrics, tracer
from feecast.settings import BaseSettings, load_settings
from pydantic import BaseModel


class Settings(BaseSettings):
    notification_topic_arn: str


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


SETTINGS = load_settings(Settings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=Event)
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
    lost = notify_or_count(
        SETTINGS.notification_topic_arn,
        report.subject,
        report.message,
        report.facts,
        event=lifecycle_event(
            DetailType.BUILD_FAILED,
            project=SETTINGS.project_name,
            outcome="failed",
            summary=report.subject,
            execution=request.execution_arn,
            facts=report.facts | {"step": report.step, "error": report.final_error},
        ),
    )
    if lost:
        cause += f" (the notification could not be sent: {lost})"
    return {"Error": report.final_error, "Cause": cause}
