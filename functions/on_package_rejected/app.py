"""OnPackageRejectedFunction: PackageRejectedRule -> feecast.deploy.on_package_rejected."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters import idempotency, notify
from feecast.adapters.sagemaker import SageMakerPackages
from feecast.adapters.state_table import StateTable
from feecast.adapters.stepfunctions import StepFunctionsExecutions
from feecast.deploy.on_package_rejected import handle_package_rejected
from feecast.deploy.rollback import RollbackPorts
from feecast.deploy.settings import StartSettings
from feecast.events import PackageStateChange
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(StartSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=PackageStateChange)
    return handle_package_rejected(
        request.detail,
        request.time,
        state_machine_arn=SETTINGS.deploy_state_machine_arn,
        idempotency_table=SETTINGS.idempotency_table,
        settings=SETTINGS,
        ports=RollbackPorts(
            state=StateTable(SETTINGS.state_table),
            packages=SageMakerPackages(),
            executions=StepFunctionsExecutions(),
            notifier=notify,
        ),
        once=idempotency,
        context=context,
    ).model_dump(mode="json")
