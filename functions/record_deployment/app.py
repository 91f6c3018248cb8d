"""RecordDeploymentFunction: states "Record The Deployment" / "Record The Rollback".

Library: feecast.deploy.record_deployment.record_deployment (DEPLOY#<stage> history and CURRENT). SNS
down does not fail the step: the lost notification is logged and counted (NotificationsFailed).
"""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters import notify
from feecast.adapters.state_table import StateTable
from feecast.deploy.record_deployment import RecordRequest, record_deployment
from feecast.deploy.settings import DeploySettings
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(DeploySettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    r = parse(event=event, model=RecordRequest)
    return record_deployment(
        **dict(r), settings=SETTINGS, state=StateTable(SETTINGS.state_table), notifier=notify
    ).model_dump(mode="json", exclude_none=True)
