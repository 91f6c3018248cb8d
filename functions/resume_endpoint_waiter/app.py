"""ResumeEndpointWaiterFunction: "SageMaker Endpoint State Change" (EndpointStateRule) ->
SendTaskSuccess / SendTaskFailure for the deployment waiting on that endpoint.

Library: feecast.deploy.resume_endpoint_waiter.resume_waiter.
"""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters.sagemaker import SageMakerEndpoints
from feecast.adapters.state_table import StateTable
from feecast.adapters.stepfunctions import StepFunctionsTasks
from feecast.deploy.resume_endpoint_waiter import resume_waiter
from feecast.deploy.settings import DeploySettings
from feecast.events import EndpointStateChange
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(DeploySettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=EndpointStateChange)
    return resume_waiter(
        request.detail.model_dump(),
        SETTINGS,
        state=StateTable(SETTINGS.state_table),
        endpoints=SageMakerEndpoints(),
        tasks=StepFunctionsTasks(),
    ).model_dump(mode="json")
