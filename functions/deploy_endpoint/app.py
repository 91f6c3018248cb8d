"""DeployEndpointFunction: states "Deploy To Staging", "Deploy To Production", "Roll Back Production".

Library: feecast.deploy.deploy_endpoint.deploy_endpoint.
"""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters.cloudwatch import CloudWatchAlarms
from feecast.adapters.sagemaker import SageMakerEndpoints, SageMakerPackages
from feecast.deploy.deploy_endpoint import DeployRequest, deploy_endpoint
from feecast.deploy.settings import EndpointSettings
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(EndpointSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    r = parse(event=event, model=DeployRequest)
    return deploy_endpoint(
        **dict(r),
        settings=SETTINGS,
        endpoints=SageMakerEndpoints(),
        packages=SageMakerPackages(),
        alarms=CloudWatchAlarms(),
    ).model_dump(mode="json")
