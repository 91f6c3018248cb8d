"""ApprovalCallbackFunction: the approval links' HTTPS endpoint (ApprovalApi, an HTTP API).

GET  /approvals/{id}?decision=..&expires=..&signature=..  -> a confirmation page, no side effect
     (mail scanners open links; a GET must not approve a production deployment);
POST the same URL (the page's button)                    -> verify, consume once, resume;
any other method (route ANY)                              -> 405.
Malformed: 400; forged or tampered: 403; expired, used or no longer waiting: 410; oversize:
413/414. Each refusal is logged and counted by the library.
Library: feecast.deploy.approval_callback.answer_link.
"""

import html
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters.secrets import LinkSecret
from feecast.adapters.state_table import StateTable
from feecast.adapters.stepfunctions import StepFunctionsTasks
from feecast.deploy.approval_callback import LINK_METHODS, LinkRequest, answer_link
from feecast.deploy.approvals import ApprovalRefused, Decided
from feecast.deploy.settings import ApprovalSettings
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(ApprovalSettings)

_TITLES = {
    200: "Done",
    400: "Bad link",
    403: "Link refused",
    405: "Open the link in a browser",
    410: "Link no longer valid",
    413: "Request too large",
    414: "Link too long",
}


def _page(status: int, heading: str, body: str, form: str = "") -> dict[str, Any]:
    text = (
        "<!doctype html><html><head><meta charset='utf-8'><title>feecast approval</title></head>"
        f"<body><h1>{html.escape(heading)}</h1><p>{html.escape(body)}</p>{form}</body></html>"
    )
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
    }
    if status == 405:
        headers["Allow"] = ", ".join(LINK_METHODS)
    return {"statusCode": status, "headers": headers, "body": text}


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)  # the page is not worth a trace
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=APIGatewayProxyEventV2Model)
    http = request.requestContext.http
    try:
        result = answer_link(
            LinkRequest(
                method=http.method,
                approval_id=(request.pathParameters or {}).get("id"),
                query=dict(request.queryStringParameters or {}),
                raw_query=request.rawQueryString or "",
                body=request.body,
                source_ip=str(http.sourceIp),
                request_id=request.requestContext.requestId,
            ),
            state=StateTable(SETTINGS.state_table),
            tasks=StepFunctionsTasks(),
            secret=LinkSecret(SETTINGS.approval_secret_arn),
        )
    except ApprovalRefused as exc:  # logged and counted already
        return _page(exc.status, _TITLES.get(exc.status, "Refused"), exc.reason)
    if isinstance(result, Decided):
        verb = "approved" if result.decision == "approve" else "rejected"
        return _page(
            200,
            f"Deployment {verb}",
            f"Model {result.model_package_arn} was {verb}. You can close this page.",
        )
    # GET: confirm first. The form posts back to the same signed URL.
    verb = "Approve" if result.decision == "approve" else "Reject"
    form = f"<form method='post'><button type='submit'>{verb} the deployment</button></form>"
    return _page(
        200,
        f"{verb} this deployment?",
        "This link works once and expires with the approval window.",
        form,
    )
