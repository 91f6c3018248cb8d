"""RecordDeploymentFunction: states "Record The Deployment" / "Record The Rollback".

Library: feecast.deploy.record_deployment.record_deployment (DEPLOY#<stage> history and CURRENT). SNS
down does not fail the step: the lost notification is logged and counted (NotificationsFailed).
"""

from typing import Any, Literal

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters import notify
from feecast.adapters.state_table import StateTable
from feecast.deploy.record_deployment import record_deployment
from feecast.deploy.settings import DeploySettings
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings
from pydantic import BaseModel

SETTINGS = load_settings(DeploySettings)


class Request(BaseModel):
    stage: Literal["staging", "production"]
    mode: Literal["deploy", "rollback"]
    model_package_arn: str
    execution: str
    endpoint: dict[str, Any]
    reason: str = ""


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    r = parse(event=event, model=Request)
    record = record_deployment(
        stage=r.stage,
        model_package_arn=r.model_package_arn,
        execution=r.execution,
        mode=r.mode,
        endpoint=r.endpoint,
        reason=r.reason,
        settings=SETTINGS,
        state=StateTable(SETTINGS.state_table),
        notifier=notify,
    )
    return record.to_item()
