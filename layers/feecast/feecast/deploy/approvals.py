"""Human approval of a staging deployment: the request, the link, the command, the decision.

"Ask A Person To Approve" is a .waitForTaskToken task. Its token is kept in the StateTable
under APPROVAL#<random id> with expires_at = the wait's timeout; only the id travels in links
and messages. A decision (signed link or `feecast approve/reject` with AWS credentials) consumes
the record with a conditional delete (single use), then resumes the execution with
SendTaskSuccess({"decision": "approve"|"reject", ...}); the state machine's Choice reads it.

Who can decide: the holder of a valid, unexpired, unused link (answer_link), or an IAM
principal allowed by policy (the template's ApproverPolicy: `feecast approve/reject`, decide).
Every refused link request is logged once as a structured warning (reason, status, request id;
never the signature or the token) and counted as ApprovalRefused{Reason} (report_refusal).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from pydantic import BaseModel

from feecast.adapters.errors import TaskGone
from feecast.deploy import links, names
from feecast.deploy.ports import DeployState, Notifier, Secret, TaskTokens
from feecast.deploy.settings import ApprovalRequestSettings
from feecast.observability import logger, metrics

_SK = "APPROVAL"

# Refusal reasons: the log field `reason` and the ApprovalRefused metric's Reason dimension
# (a fixed, small set: never text taken from the request).
RefusalCode = Literal[
    "Malformed",  # 400: a field missing or not in its format
    "WrongMethod",  # 405: neither GET (confirm page) nor POST (apply)
    "Oversize",  # 413 / 414: body or query string larger than any genuine link sends
    "BadSignature",  # 403: forged, or id / decision / expiry altered
    "Expired",  # 410: the approval window is over
    "UsedOrUnknown",  # 410: decided already (either link of the pair, or the CLI), or no such id
    "ExecutionEnded",  # 410: the deployment stopped waiting (stopped, timed out, failed)
]
REFUSED_METRIC = "ApprovalRefused"
LINK_METHODS = ("GET", "POST")
MAX_QUERY_CHARS = 1024  # a genuine link's query string is about 120 characters
MAX_BODY_CHARS = 1024  # the confirmation form posts an empty body


class ApprovalRequest(BaseModel):
    approval_id: str
    expires_at: int
    approve_url: str
    reject_url: str


class PendingApproval(BaseModel):
    approval_id: str
    deployment_id: str
    model_package_arn: str
    version: int
    execution_arn: str
    staging_endpoint: str
    created_at: str
    expires_at: int
    loss: float | None = None
    threshold: float | None = None
    baseline_loss: float | None = None


class ApprovalRefused(RuntimeError):
    """The decision cannot be applied. `status`: HTTP status for the link page; `code`: the
    refusal's name (RefusalCode); `reason`: a fixed sentence for people."""

    def __init__(self, status: int, reason: str, code: RefusalCode = "Malformed") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.code: RefusalCode = code


class Decided(BaseModel):
    approval_id: str
    decision: str
    deployment_id: str
    model_package_arn: str
    by: str


def request_approval(
    *,
    task_token: str,
    execution_arn: str,
    deployment: dict[str, Any],
    timeout_seconds: int,
    settings: ApprovalRequestSettings,
    state: DeployState,
    secret: Secret,
    notifier: Notifier,
) -> ApprovalRequest:
    """Store the token under a fresh id and tell people what waits and how to decide."""
    table = state
    approval_id = links.new_approval_id()
    now = datetime.now(UTC)
    expires = int((now + timedelta(seconds=timeout_seconds)).timestamp())
    threshold = deployment.get("threshold") or {}
    record = PendingApproval(
        approval_id=approval_id,
        deployment_id=str(deployment["deployment_id"]),
        model_package_arn=str(deployment["model_package_arn"]),
        version=int(deployment["model_package_version"]),
        execution_arn=execution_arn,
        staging_endpoint=settings.staging_endpoint_name,
        created_at=now.isoformat(),
        expires_at=expires,
        loss=threshold.get("loss"),
        threshold=threshold.get("old_threshold"),
        baseline_loss=threshold.get("baseline_loss"),
    )
    table.put(
        {
            "pk": f"{names.APPROVAL_PREFIX}{approval_id}",
            "sk": _SK,
            "task_token": task_token,
            **record.model_dump(),
        },
        condition="attribute_not_exists(pk)",
    )
    key = secret.get()
    approve = links.link(settings.approval_api_url, key, approval_id, "approve", expires)
    reject = links.link(settings.approval_api_url, key, approval_id, "reject", expires)
    smoke = deployment.get("smoke") or {}
    lines = [
        f"Model package version {record.version} is on the staging endpoint {record.staging_endpoint} "
        "and passed its smoke test. It waits for a person to promote it to production.",
        "",
        f"Loss (mean wQL): {record.loss}   baseline: {record.baseline_loss}   "
        f"threshold before approval: {record.threshold}"
        + (
            f"   new threshold: {threshold.get('new_threshold')}"
            if threshold.get("changed", threshold.get("lowered"))
            else ""
        ),
        f"Smoke test context: {smoke.get('context_source', 'n/a')}",
        f"Decide before {datetime.fromtimestamp(expires, UTC):%Y-%m-%d %H:%M} UTC; after that the deployment ends.",
        "",
        f"Approve: {approve}",
        f"Reject:  {reject}",
        "",
        f"Or with AWS credentials: feecast approve {approval_id}   /   feecast reject {approval_id}",
    ]
    notifier.notify(
        settings.notification_topic_arn,
        f"feecast: approve model v{record.version} for production?",
        "\n".join(lines),
        {
            "approval_id": approval_id,
            "deployment_id": record.deployment_id,
            "model_package_arn": record.model_package_arn,
            "execution_arn": execution_arn,
            "staging_endpoint": record.staging_endpoint,
            "expires_at": expires,
        },
    )
    logger.info(
        "approval requested", extra={"approval_id": approval_id, "deployment": record.deployment_id}
    )
    return ApprovalRequest(
        approval_id=approval_id, expires_at=expires, approve_url=approve, reject_url=reject
    )


def list_pending(state: DeployState, *, now: float | None = None) -> list[PendingApproval]:
    """Approvals still waiting (not used, not expired), oldest first."""
    now = time.time() if now is None else now
    out = []
    # Only the listed fields are read: listing never fetches a task token (ApproverPolicy
    # allows the Scan only so).
    fields = ["pk", "sk", *PendingApproval.model_fields]
    for item in state.scan_prefix(names.APPROVAL_PREFIX, attributes=fields):
        if item.get("sk") != _SK or int(item.get("expires_at", 0)) <= now:
            continue
        out.append(
            PendingApproval.model_validate(
                {k: v for k, v in item.items() if k in PendingApproval.model_fields}
            )
        )
    return sorted(out, key=lambda a: a.created_at)


def decide(
    state: DeployState,
    tasks: TaskTokens,
    approval_id: str,
    decision: str,
    *,
    by: str,
    comment: str = "",
    now: float | None = None,
) -> Decided:
    """Consume the approval (once) and resume the waiting execution with the decision.

    ApprovalRefused (400 Malformed, 410 Expired / UsedOrUnknown / ExecutionEnded) otherwise;
    nothing is resumed then."""
    if decision not in links.DECISIONS:
        raise ApprovalRefused(400, "the decision must be approve or reject")
    if not links.ID_PATTERN.fullmatch(approval_id or ""):
        raise ApprovalRefused(400, "an approval id is 1-64 letters, digits, '-' or '_'")
    now = time.time() if now is None else now
    table = state
    pk = f"{names.APPROVAL_PREFIX}{approval_id}"
    item = table.take(
        pk, _SK, condition="attribute_exists(pk) AND expires_at > :now", values={":now": int(now)}
    )
    if item is None:
        if table.get(pk, _SK, attributes=["pk"]) is not None:
            raise ApprovalRefused(
                410, "this approval has expired: the deployment already ended", "Expired"
            )
        raise ApprovalRefused(
            410, "this approval was already used, or does not exist", "UsedOrUnknown"
        )
    output = {
        "decision": decision,
        "by": by,
        "comment": comment,
        "at": datetime.fromtimestamp(now, UTC).isoformat(),
        "approval_id": approval_id,
    }
    try:
        tasks.succeed(str(item["task_token"]), output)
    except TaskGone:
        # The record is consumed either way: the execution it names no longer waits.
        raise ApprovalRefused(
            410, "the deployment is no longer waiting for a decision", "ExecutionEnded"
        ) from None
    logger.info(
        "approval decided", extra={"approval_id": approval_id, "decision": decision, "by": by}
    )
    return Decided(
        approval_id=approval_id,
        decision=decision,
        deployment_id=str(item.get("deployment_id", "")),
        model_package_arn=str(item.get("model_package_arn", "")),
        by=by,
    )


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
            f"{names.APPROVAL_PREFIX}{verified.approval_id}", _SK, attributes=["expires_at"]
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


def pending_for_package(state: DeployState, model_package_arn: str) -> list[str]:
    return [a.approval_id for a in list_pending(state) if a.model_package_arn == model_package_arn]
