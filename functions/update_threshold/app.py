"""UpdateThresholdFunction: state "Update The Threshold" of ModelDeploy.

Library: feecast.deploy.update_threshold.update_threshold.
"""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters import parameters
from feecast.adapters.sagemaker import SageMakerPackages
from feecast.adapters.state_table import StateTable
from feecast.deploy.settings import DeploySettings
from feecast.deploy.update_threshold import ThresholdRequest, update_threshold
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(DeploySettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=ThresholdRequest)
    return update_threshold(
        request.model_package_arn,
        SETTINGS,
        state=StateTable(SETTINGS.state_table),
        packages=SageMakerPackages(),
        parameters=parameters,
    ).model_dump(mode="json")
