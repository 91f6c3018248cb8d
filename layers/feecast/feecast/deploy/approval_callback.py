"""ApprovalCallbackFunction: a signed approve / reject link followed (API Gateway) -> a page.

GET shows a confirmation page (mail scanners follow links: a GET never decides), POST decides
(approvals.decide). Every refused request is logged once as a structured warning (reason,
status, request id; never the signature or the token) and counted as ApprovalRefused{Reason}.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model
from pydantic import BaseModel

from feecast.deploy import links, names
from feecast.deploy.approvals import APPROVAL_SK, ApprovalRefused, Decided, decide
from feecast.deploy.ports import DeployState, Secret, TaskTokens
from feecast.observability import logger, metrics

REFUSED_METRIC = "ApprovalRefused"
LINK_METHODS = ("GET", "POST")
MAX_QUERY_CHARS = 1024  # a genuine link's query string is about 120 characters
MAX_BODY_CHARS = 1024  # the confirmation form posts an empty body


@dataclass(frozen=True)
class LinkRequest:
    """What the approval API received (ApprovalCallbackFunction maps API Gateway's event)."""

    method: str
    approval_id: str | None
    query: dict[str, str] = field(default_factory=dict)
    raw_query: str = ""
    body: str | None = None
    source_ip: str = ""
    request_id: str = ""


def answer_link(
    request: LinkRequest,
    *,
    state: DeployState,
    tasks: TaskTokens,
    secret: Secret,
    now: float | None = None,
) -> Decided | links.VerifiedLink:
    """GET: verify the link and that its approval still waits (no side effect: mail scanners
    open links). POST: verify, consume once, resume. Otherwise ApprovalRefused, already logged
    and counted (report_refusal)."""
    try:
        return _answer_link(request, state, tasks, secret, time.time() if now is None else now)
    except (links.LinkError, ApprovalRefused) as exc:
        refusal = (
            exc
            if isinstance(exc, ApprovalRefused)
            else ApprovalRefused(exc.status, exc.reason, exc.code)
        )
        report_refusal(refusal, request_id=request.request_id, approval_id=request.approval_id)
        raise refusal from None


def _answer_link(
    request: LinkRequest, state: DeployState, tasks: TaskTokens, secret: Secret, now: float
) -> Decided | links.VerifiedLink:
    method = request.method.upper()
    if method not in LINK_METHODS:
        raise ApprovalRefused(405, "open the link, then confirm with its button", "WrongMethod")
    if len(request.raw_query) > MAX_QUERY_CHARS:
        raise ApprovalRefused(414, "the link is longer than any approval link", "Oversize")
    if len(request.body or "") > MAX_BODY_CHARS:
        raise ApprovalRefused(413, "the request is larger than any approval sends", "Oversize")
    query = request.query
    verified = links.verify(
        secret.get(),
        request.approval_id,
        query.get("decision"),
        query.get("expires"),
        query.get("signature"),
        now=now,
    )
    if method == "GET":
        record = state.get(
            f"{names.APPROVAL_PREFIX}{verified.approval_id}", APPROVAL_SK, attributes=["expires_at"]
        )
        if record is None:
            raise ApprovalRefused(
                410, "this approval was already used, or does not exist", "UsedOrUnknown"
            )
        return verified
    return decide(
        state,
        tasks,
        verified.approval_id,
        verified.decision,
        by=f"link from {request.source_ip or 'an unknown address'}",
        now=now,
    )


def report_refusal(
    refusal: ApprovalRefused, *, request_id: str, approval_id: str | None = None
) -> None:
    """One structured warning and one ApprovalRefused{Reason} datum per refused request.

    Only fixed text and well-formed ids are logged: never the signature, the token, or
    anything else the request carried."""
    logger.warning(
        "approval refused",
        extra={
            "reason": refusal.code,
            "status": refusal.status,
            "detail": refusal.reason,
            "request_id": request_id,
            "approval_id": (
                approval_id if approval_id and links.ID_PATTERN.fullmatch(approval_id) else None
            ),
        },
    )
    with single_metric(
        name=REFUSED_METRIC, unit=MetricUnit.Count, value=1, namespace=metrics.namespace
    ) as metric:
        metric.add_dimension(name="Reason", value=refusal.code)


# -- the page the person sees (an API Gateway proxy response) ----------------------------------
_TITLES = {
    200: "Done",
    400: "Bad link",
    403: "Link refused",
    405: "Open the link in a browser",
    410: "Link no longer valid",
    413: "Request too large",
    414: "Link too long",
}


class PageResponse(BaseModel):
    """What API Gateway (HTTP API, payload 2.0) returns to the browser."""

    statusCode: int
    headers: dict[str, str]
    body: str


def link_request(event: APIGatewayProxyEventV2Model) -> LinkRequest:
    """The fields of the HTTP request a link's answer depends on."""
    http = event.requestContext.http
    return LinkRequest(
        method=http.method,
        approval_id=(event.pathParameters or {}).get("id"),
        query=dict(event.queryStringParameters or {}),
        raw_query=event.rawQueryString or "",
        body=event.body if isinstance(event.body, str) else None,
        source_ip=str(http.sourceIp),
        request_id=event.requestContext.requestId,
    )


def page(status: int, heading: str, body: str, form: str = "") -> PageResponse:
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
    return PageResponse(statusCode=status, headers=headers, body=text)


def approval_callback(
    event: APIGatewayProxyEventV2Model, *, state: DeployState, tasks: TaskTokens, secret: Secret
) -> PageResponse:
    """answer_link, rendered: a refusal's page, the decision's, or (GET) the confirmation form."""
    try:
        result = answer_link(link_request(event), state=state, tasks=tasks, secret=secret)
    except ApprovalRefused as exc:  # logged and counted already
        return page(exc.status, _TITLES.get(exc.status, "Refused"), exc.reason)
    if isinstance(result, Decided):
        verb = "approved" if result.decision == "approve" else "rejected"
        return page(
            200,
            f"Deployment {verb}",
            f"Model {result.model_package_arn} was {verb}. You can close this page.",
        )
    # GET: confirm first. The form posts back to the same signed URL.
    verb = "Approve" if result.decision == "approve" else "Reject"
    form = f"<form method='post'><button type='submit'>{verb} the deployment</button></form>"
    return page(
        200,
        f"{verb} this deployment?",
        "This link works once and expires with the approval window.",
        form,
    )
