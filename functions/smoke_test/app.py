"""SmokeTestFunction: state "Smoke Test Staging" (a DeepAR request, the answer checked).

Library: feecast.deploy.smoke_test.smoke_test.
"""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters import feature_history, parameters
from feecast.adapters.sagemaker_runtime import SageMakerRuntime
from feecast.deploy.settings import SmokeSettings
from feecast.deploy.smoke_test import SmokeRequest, smoke_test
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(SmokeSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=SmokeRequest)
    return (
        smoke_test(
            request.endpoint_name,
            SETTINGS,
            forecaster=SageMakerRuntime(),
            parameters=parameters,
            history=feature_history,
        )
        .result()
        .model_dump(mode="json")
    )
