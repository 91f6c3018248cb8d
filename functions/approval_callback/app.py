"""ApprovalCallbackFunction: the approval links' HTTPS endpoint (ApprovalApi, an HTTP API).

GET  /approvals/{id}?decision=..&expires=..&signature=..  -> a confirmation page, no side effect
     (mail scanners open links; a GET must not approve a production deployment);
POST the same URL (the page's button)                    -> verify, consume once, resume.
Forged or tampered links: 403; expired or already used: 410; malformed: 400.
Library: feecast.deploy.approvals.decide_by_link.
"""

import html
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.deploy.approvals import ApprovalRefused, Decided, decide_by_link
from feecast.deploy.links import LinkError
from feecast.deploy.settings import ApprovalSettings
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(ApprovalSettings)

_TITLES = {200: "Done", 400: "Bad link", 403: "Link refused", 410: "Link no longer valid"}


def _page(status: int, heading: str, body: str, form: str = "") -> dict[str, Any]:
    text = (
        "<!doctype html><html><head><meta charset='utf-8'><title>feecast approval</title></head>"
        f"<body><h1>{html.escape(heading)}</h1><p>{html.escape(body)}</p>{form}</body></html>"
    )
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
        "body": text,
    }


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=APIGatewayProxyEventV2Model)
    query = request.queryStringParameters or {}
    method = request.requestContext.http.method.upper()
    approval_id = (request.pathParameters or {}).get("id")
    try:
        result = decide_by_link(
            SETTINGS,
            approval_id=approval_id,
            decision=query.get("decision"),
            expires=query.get("expires"),
            signature=query.get("signature"),
            by=f"link from {request.requestContext.http.sourceIp}",
            commit=method == "POST",
        )
    except (LinkError, ApprovalRefused) as exc:
        logger.warning("approval link refused", extra={"status": exc.status, "reason": exc.reason})
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
