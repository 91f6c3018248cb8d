"""TeardownEndpointFunction: state "Tear Down Staging" (TeardownStagingAfterPromotion=true).

Deletes the staging endpoint only (its name comes from the environment, never from the input).
Library: feecast.deploy.teardown_endpoint.teardown_endpoint.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters.sagemaker import SageMakerEndpoints
from feecast.deploy.settings import DeploySettings
from feecast.deploy.teardown_endpoint import teardown_endpoint
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(DeploySettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return teardown_endpoint(
        SETTINGS.staging_endpoint_name, endpoints=SageMakerEndpoints()
    ).model_dump(mode="json")
