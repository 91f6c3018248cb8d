"""ApprovalCallbackFunction: the approval links' HTTPS endpoint (ApprovalApi, an HTTP API).

GET  /approvals/{id}?decision=..&expires=..&signature=..  -> a confirmation page, no side effect
     (mail scanners open links; a GET must not approve a production deployment);
POST the same URL (the page's button)                    -> verify, consume once, resume;
any other method (route ANY)                              -> 405.
Malformed: 400; forged or tampered: 403; expired, used or no longer waiting: 410; oversize:
413/414. Each refusal is logged and counted by the library.
Library: feecast.deploy.approval_callback.approval_callback (answer_link, rendered).
"""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters.secrets import LinkSecret
from feecast.adapters.state_table import StateTable
from feecast.adapters.stepfunctions import StepFunctionsTasks
from feecast.deploy.approval_callback import approval_callback
from feecast.deploy.settings import ApprovalSettings
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(ApprovalSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)  # the page is not worth a trace
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=APIGatewayProxyEventV2Model)
    return approval_callback(
        request,
        state=StateTable(SETTINGS.state_table),
        tasks=StepFunctionsTasks(),
        secret=LinkSecret(SETTINGS.approval_secret_arn),
    ).model_dump(mode="json")
