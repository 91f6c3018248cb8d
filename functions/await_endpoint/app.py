"""AwaitEndpointFunction: the .waitForTaskToken task of "Wait For Staging/Production".

Stores the task token (WAITER#<endpoint>) and checks the endpoint once; the endpoint's
state-change event resumes the task (ResumeEndpointWaiterFunction).
Library: feecast.deploy.await_endpoint.await_endpoint.
"""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters.sagemaker import SageMakerEndpoints
from feecast.adapters.state_table import StateTable
from feecast.adapters.stepfunctions import StepFunctionsTasks
from feecast.deploy.await_endpoint import AwaitRequest, await_endpoint
from feecast.deploy.settings import DeploySettings
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(DeploySettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    r = parse(event=event, model=AwaitRequest)
    return await_endpoint(
        **dict(r),
        settings=SETTINGS,
        state=StateTable(SETTINGS.state_table),
        endpoints=SageMakerEndpoints(),
        tasks=StepFunctionsTasks(),
    ).model_dump(mode="json")
