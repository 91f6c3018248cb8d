"""StartDeployFunction: a model package approval (ModelApprovalRule) -> one ModelDeploy execution.

Library: feecast.deploy.start_deploy.start_deploy. State machine: statemachines/model_deploy.asl.json.
"""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters import idempotency
from feecast.adapters.sagemaker import SageMakerPackages
from feecast.adapters.stepfunctions import StepFunctionsExecutions
from feecast.deploy.settings import StartSettings
from feecast.deploy.start_deploy import start_deploy
from feecast.events import PackageStateChange
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(StartSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=PackageStateChange)
    return start_deploy(
        request.detail,
        request.time,
        SETTINGS,
        context,
        packages=SageMakerPackages(),
        executions=StepFunctionsExecutions(),
        once=idempotency,
    ).model_dump(mode="json")
