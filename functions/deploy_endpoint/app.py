"""DeployEndpointFunction: states "Deploy To Staging", "Deploy To Production", "Roll Back Production".

Library: feecast.deploy.deploy_endpoint.deploy_endpoint.
"""

from typing import Any, Literal

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters.cloudwatch import CloudWatchAlarms
from feecast.adapters.sagemaker import SageMakerEndpoints, SageMakerPackages
from feecast.deploy.deploy_endpoint import deploy_endpoint
from feecast.deploy.settings import EndpointSettings
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings
from pydantic import BaseModel

SETTINGS = load_settings(EndpointSettings)


class Request(BaseModel):
    stage: Literal["staging", "production"]
    model_package_arn: str
    deployment_id: str
    guarded: bool = False


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    r = parse(event=event, model=Request)
    return deploy_endpoint(
        stage=r.stage,
        model_package_arn=r.model_package_arn,
        deployment_id=r.deployment_id,
        guarded=r.guarded,
        settings=SETTINGS,
        endpoints=SageMakerEndpoints(),
        packages=SageMakerPackages(),
        alarms=CloudWatchAlarms(),
    ).model_dump(mode="json")
