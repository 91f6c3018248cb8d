"""RequestApprovalFunction: the .waitForTaskToken task of "Ask A Person To Approve".

Keeps the token in the StateTable under a random id and publishes signed links on SNS.
Library: feecast.deploy.request_approval.request_approval.
"""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters import notify
from feecast.adapters.secrets import LinkSecret
from feecast.adapters.state_table import StateTable
from feecast.deploy.request_approval import AskRequest, request_approval
from feecast.deploy.settings import ApprovalRequestSettings
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(ApprovalRequestSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    r = parse(event=event, model=AskRequest)
    return (
        request_approval(
            **dict(r),
            settings=SETTINGS,
            state=StateTable(SETTINGS.state_table),
            secret=LinkSecret(SETTINGS.approval_secret_arn),
            notifier=notify,
        )
        .asked()
        .model_dump(mode="json")
    )
