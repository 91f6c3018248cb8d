"""Notify The Build Failed (ModelBuild state machine): which step failed and why.

template.yaml ReportBuildFailureFunction -> statemachines/model_build.asl.json "Notify The
Build Failed" -> feecast.build.report_build_failure.report_build_failure. Returns
{"Error", "Cause"} for the final Fail state ("States.*" errors become
e.g. "TrainingFailed": Fail states may not use the reserved prefix). Emits BuildsFailed.
"""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters import notify
from feecast.build.report_build_failure import Event, report_build_failure
from feecast.build.settings import ReportSettings
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(ReportSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=Event)
    return report_build_failure(request, SETTINGS, notifier=notify).model_dump(mode="json")
