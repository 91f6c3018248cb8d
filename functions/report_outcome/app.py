"""ReportOutcomeFunction: states "Note The Approval", "Report The Rejection / Timeout / Failure".

Library: feecast.deploy.report_outcome.report_outcome.
"""

from typing import Any, Literal

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters import notify
from feecast.deploy.report_outcome import report_outcome
from feecast.deploy.settings import DeploySettings
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings
from pydantic import BaseModel

SETTINGS = load_settings(DeploySettings)


class Request(BaseModel):
    outcome: Literal["approved", "rejected", "timed_out", "failed"]
    execution: str
    deployment: dict[str, Any]
    failed_step: str | None = None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    r = parse(event=event, model=Request)
    return report_outcome(
        outcome=r.outcome,
        deployment=r.deployment,
        execution=r.execution,
        failed_step=r.failed_step,
        settings=SETTINGS,
        notifier=notify,
    )
