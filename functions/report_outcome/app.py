"""ReportOutcomeFunction: states "Note The Approval", "Report The Rejection / Timeout / Failure".

Library: feecast.deploy.report_outcome.report_outcome.
"""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters import notify
from feecast.deploy.report_outcome import OutcomeRequest, report_outcome
from feecast.deploy.settings import DeploySettings
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(DeploySettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    r = parse(event=event, model=OutcomeRequest)
    return report_outcome(**dict(r), settings=SETTINGS, notifier=notify).model_dump(
        mode="json", exclude_none=True
    )
