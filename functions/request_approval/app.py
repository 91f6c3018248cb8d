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
from feecast.deploy.request_approval import request_approval
from feecast.deploy.settings import ApprovalRequestSettings
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings
from pydantic import BaseModel, Field

SETTINGS = load_settings(ApprovalRequestSettings)


class Request(BaseModel):
    task_token: str = Field(min_length=1)
    execution_arn: str
    timeout_seconds: int = Field(gt=0)
    deployment: dict[str, Any]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    r = parse(event=event, model=Request)
    result = request_approval(
        task_token=r.task_token,
        execution_arn=r.execution_arn,
        deployment=r.deployment,
        timeout_seconds=r.timeout_seconds,
        settings=SETTINGS,
        state=StateTable(SETTINGS.state_table),
        secret=LinkSecret(SETTINGS.approval_secret_arn),
        notifier=notify,
    )
    # The links are secrets of a kind: they stay in the notification, not in the history.
    return {"approval_id": result.approval_id, "expires_at": result.expires_at}
