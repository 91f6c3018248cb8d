"""The approval API on the twin: only a valid, unexpired, unused link, or an IAM principal
allowed by policy (`feecast approve`), resumes a deployment; everything else is refused, logged
and counted, and changes nothing.

One twin per module, the suite's tiny DeepAR model (conftest `model_tar`), and three
deployments brought to the approval wait in turn: the refusals share the first (none of them
may change it, which each asserts), the accepted paths consume them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from feecast.adapters import clients
from feecast.adapters.state_table import StateTable
from feecast.deploy import approvals, links

from tests.support import drivers

pytestmark = pytest.mark.slow

PRODUCTION = "feecast-production"
# The approval wait must outlast the module (real seconds); GuardrailBakeSeconds keeps
# promotions short; the collector polls a public API, so it stays off.
OVERRIDES = {
    "ApprovalTimeoutSeconds": "900",
    "GuardrailBakeSeconds": "1",
    "IngestScheduleState": "DISABLED",
}


# -- the module's twin, model and first waiting deployment -------------------------------------
@pytest.fixture(scope="module")
def twin(repo_root: Any) -> Iterator[Any]:
    from feecast_twin import Twin

    twin = Twin(template=repo_root / "template.yaml", parameter_overrides=OVERRIDES).deploy()
    clients.use_session(None)  # library calls made from the tests use the twin, as the CLI would
    try:
        yield twin
    finally:
        clients.use_session(None)
        twin.close()


@dataclass(frozen=True)
class Waiting:
    """A deployment waiting for a person: its links, approval id, execution and package."""

    approve: str
    reject: str
    approval_id: str
    execution_arn: str
    package_arn: str


def bring_to_the_wait(twin: Any, model_tar: bytes, key: str) -> Waiting:
    arn = drivers.register(twin, model_tar, loss=0.2, threshold=0.22, key=key)
    twin.client("sagemaker").update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved"
    )
    table = twin.physical_id("StateTable")
    version = arn.rsplit("/", 1)[-1]

    def waiting() -> Any:
        found = [p for p in approvals.list_pending(StateTable(table)) if p.model_package_arn == arn]
        if found:
            return found
        runs = twin.client("stepfunctions").list_executions(
            stateMachineArn=twin.physical_id("ModelDeployStateMachine")
        )["executions"]
        ended = [(r["name"], r["status"]) for r in runs if r["name"].startswith(f"v{version}-")]
        assert all(status == "RUNNING" for _, status in ended), f"{key} never waited: {ended}"
        return None

    (pending,) = twin.wait_for(waiting, what=f"the approval request of {key}", timeout=180)
    # The approval is stored before its request is published: wait for the message too.
    message = twin.wait_for_sns(
        lambda m: f"/approvals/{pending.approval_id}?" in (m["message"] or ""),
        what=f"the approval request of {key} on SNS",
    )["message"]
    twin.settle()  # and until the execution waits for the token (its history is complete)
    approve = re.search(r"Approve: (\S+)", message).group(1)  # type: ignore[union-attr]
    reject = re.search(r"Reject:  (\S+)", message).group(1)  # type: ignore[union-attr]
    assert status(twin, pending.execution_arn) == "RUNNING"
    return Waiting(approve, reject, pending.approval_id, pending.execution_arn, arn)


@pytest.fixture(scope="module")
def first(twin: Any, model_tar: bytes) -> Waiting:
    return bring_to_the_wait(twin, model_tar, "first")


# -- observations -------------------------------------------------------------------------------
def status(twin: Any, execution_arn: str) -> str:
    sfn = twin.client("stepfunctions")
    return str(sfn.describe_execution(executionArn=execution_arn)["status"])


def history(twin: Any, execution_arn: str) -> list[str]:
    sfn = twin.client("stepfunctions")
    return [e["type"] for e in sfn.get_execution_history(executionArn=execution_arn)["events"]]


def record(twin: Any, approval_id: str) -> dict[str, Any] | None:
    table = StateTable(twin.physical_id("StateTable"))
    return table.get(f"APPROVAL#{approval_id}", "APPROVAL")


def production_endpoints(twin: Any) -> list[str]:
    endpoints = twin.client("sagemaker").list_endpoints()["Endpoints"]
    return sorted(e["EndpointName"] for e in endpoints if e["EndpointName"] == PRODUCTION)


def production_config(twin: Any) -> str | None:
    """The endpoint config production serves, None while there is no production endpoint."""
    if not production_endpoints(twin):
        return None
    sm = twin.client("sagemaker")
    return str(sm.describe_endpoint(EndpointName=PRODUCTION)["EndpointConfigName"])


def callback_lines(twin: Any) -> list[dict[str, Any]]:
    """Every JSON log line of ApprovalCallbackFunction so far."""
    out = []
    for logs in twin.lambda_logs("ApprovalCallbackFunction"):
        for line in logs.splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
    return out


def refusals(twin: Any, reason: str) -> float:
    dims = {"Reason": reason, "service": "deploy"}
    return sum(v for _, v in twin.metric_data("feecast", "ApprovalRefused", dims))


def request(
    twin: Any,
    url: str,
    method: str = "POST",
    body: str | None = None,
    path: str | None = None,
    **tamper: str | None,
) -> dict[str, Any]:
    """Follow a link as a browser would; `tamper` replaces query fields (None removes one)."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | tamper
    sent = {k: v for k, v in query.items() if v is not None}
    return twin.http_request(method, path or parts.path, query=sent, body=body)  # type: ignore[no-any-return]


@pytest.fixture
def unchanged(twin: Any, first: Waiting, aws_calls: Any) -> Iterator[Callable[[], None]]:
    """assert_unchanged(): the first deployment still waits, exactly as before the test, and
    nothing but the refusal metric was written anywhere (no SendTaskSuccess, no endpoint)."""
    before = (history(twin, first.execution_arn), record(twin, first.approval_id))
    assert before[1] is not None
    mark = len(aws_calls.calls)

    def assert_unchanged() -> None:
        assert status(twin, first.execution_arn) == "RUNNING"
        assert history(twin, first.execution_arn) == before[0]
        assert record(twin, first.approval_id) == before[1]
        assert production_endpoints(twin) == []
        writes = {(service, op) for service, op, _ in aws_calls.since(mark)}
        assert writes <= {("cloudwatch", "PutMetricData")}, writes

    yield assert_unchanged


def secret(twin: Any) -> str:
    sm = twin.client("secretsmanager")
    return str(sm.get_secret_value(SecretId=twin.physical_id("ApprovalLinkSecret"))["SecretString"])


def signed(twin: Any, approval_id: str, decision: str, expires: int) -> str:
    base = "https://api.example.com"
    return links.link(base, secret(twin), approval_id, decision, expires)  # type: ignore[arg-type]


def _fields(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# -- refusals: (name, expected status, reason, how to build the request) ------------------------
def _forged(twin: Any, w: Waiting) -> dict[str, Any]:
    return request(twin, w.approve, signature="0" * 64)


def _reject_link_turned_into_approval(twin: Any, w: Waiting) -> dict[str, Any]:
    return request(twin, w.reject, decision="approve")


def _expiry_extended(twin: Any, w: Waiting) -> dict[str, Any]:
    return request(twin, w.approve, expires=str(int(_fields(w.approve)["expires"]) + 86400))


def _signature_moved_to_another_id(twin: Any, w: Waiting) -> dict[str, Any]:
    return request(twin, w.approve, path="/approvals/AnotherApprovalId12345")


def _missing_signature(twin: Any, w: Waiting) -> dict[str, Any]:
    return request(twin, w.approve, signature=None)


def _non_ascii_signature(twin: Any, w: Waiting) -> dict[str, Any]:
    return request(twin, w.approve, signature="é" * 64)


def _unknown_decision(twin: Any, w: Waiting) -> dict[str, Any]:
    return request(twin, w.approve, decision="approve,reject")


def _malformed_id(twin: Any, w: Waiting) -> dict[str, Any]:
    return request(twin, w.approve, path="/approvals/not.an:id!")


def _expired_genuine_link(twin: Any, w: Waiting) -> dict[str, Any]:
    past = int(datetime.now(UTC).timestamp()) - 60
    return request(twin, signed(twin, w.approval_id, "approve", past))


def _unknown_id_genuine_signature(twin: Any, w: Waiting) -> dict[str, Any]:
    expires = int(_fields(w.approve)["expires"])
    return request(twin, signed(twin, "NoSuchApproval_0123456", "approve", expires))


def _put(twin: Any, w: Waiting) -> dict[str, Any]:
    return request(twin, w.approve, method="PUT")


def _delete(twin: Any, w: Waiting) -> dict[str, Any]:
    return request(twin, w.approve, method="DELETE")


def _oversize_body(twin: Any, w: Waiting) -> dict[str, Any]:
    return request(twin, w.approve, body="x" * 10_000)


def _oversize_query(twin: Any, w: Waiting) -> dict[str, Any]:
    return request(twin, w.approve, padding="y" * 5_000)


CASES = [
    ("forged signature", 403, "BadSignature", _forged),
    ("reject link turned into an approval", 403, "BadSignature", _reject_link_turned_into_approval),
    ("expiry extended", 403, "BadSignature", _expiry_extended),
    ("signature moved to another id", 403, "BadSignature", _signature_moved_to_another_id),
    ("missing signature", 400, "Malformed", _missing_signature),
    ("non-ASCII signature", 400, "Malformed", _non_ascii_signature),
    ("unknown decision", 400, "Malformed", _unknown_decision),
    ("malformed id", 400, "Malformed", _malformed_id),
    ("expired genuine link", 410, "Expired", _expired_genuine_link),
    ("unknown id, genuine signature", 410, "UsedOrUnknown", _unknown_id_genuine_signature),
    ("PUT", 405, "WrongMethod", _put),
    ("DELETE", 405, "WrongMethod", _delete),
    ("oversize body", 413, "Oversize", _oversize_body),
    ("oversize query", 414, "Oversize", _oversize_query),
]


@pytest.mark.parametrize(
    ("case", "status_code", "reason", "send"), CASES, ids=[c[0] for c in CASES]
)
def test_given_a_waiting_deployment_when_a_bad_request_comes_then_it_is_refused_logged_counted(
    twin: Any,
    first: Waiting,
    unchanged: Callable[[], None],
    case: str,
    status_code: int,
    reason: str,
    send: Callable[[Any, Waiting], dict[str, Any]],
) -> None:
    counted = refusals(twin, reason)
    lines_before = len(callback_lines(twin))

    answer = send(twin, first)

    assert answer["statusCode"] == status_code, (case, answer["body"])
    assert "<form" not in answer["body"]
    unchanged()
    new = callback_lines(twin)[lines_before:]
    warnings = [line for line in new if line.get("level") == "WARNING"]
    assert len(warnings) == 1, new
    (warning,) = warnings
    assert warning["message"] == "approval refused"
    assert warning["reason"] == reason and warning["status"] == status_code
    assert warning["request_id"]  # API Gateway's request id, to find the access log line
    assert refusals(twin, reason) == counted + 1
    # Neither the link's signature nor the task token is ever logged.
    token = str(record(twin, first.approval_id)["task_token"])  # type: ignore[index]
    text = "\n".join(twin.lambda_logs("ApprovalCallbackFunction"))
    assert _fields(first.approve)["signature"] not in text
    assert _fields(first.reject)["signature"] not in text
    assert token not in text


def test_given_a_genuine_link_when_opened_with_get_then_only_a_confirmation_page(
    twin: Any, first: Waiting, unchanged: Callable[[], None]
) -> None:
    before = {r: refusals(twin, r) for r in ("Malformed", "BadSignature", "UsedOrUnknown")}
    page = request(twin, first.approve, method="GET")
    assert page["statusCode"] == 200 and "<form method='post'>" in page["body"]
    assert page["headers"]["Cache-Control"] == "no-store"
    unchanged()
    assert {r: refusals(twin, r) for r in before} == before


def test_given_a_waiting_deployment_when_the_cli_is_given_a_bad_id_then_it_refuses_and_nothing_changes(
    twin: Any, first: Waiting, unchanged: Callable[[], None], capsys: pytest.CaptureFixture[str]
) -> None:
    from feecast_cli.main import main

    try:
        assert main(["approve", "NoSuchApproval_0123456"]) == 2
        assert main(["reject", "../../etc"]) == 2
    finally:
        clients.use_session(None)
    err = capsys.readouterr().err
    assert "already used, or does not exist" in err and "approval id is" in err
    unchanged()


# -- accepted paths (these consume approvals: they run after the refusals) ----------------------
def test_given_a_genuine_link_when_posted_then_it_approves_once_and_then_is_gone(
    twin: Any, first: Waiting
) -> None:
    answer = request(twin, first.approve)
    assert answer["statusCode"] == 200 and "approved" in answer["body"]
    assert record(twin, first.approval_id) is None  # consumed
    twin.settle(timeout=300)
    final = twin.wait_for_execution(first.execution_arn, timeout=120)
    assert final["status"] == "SUCCEEDED"
    assert json.loads(final["output"])["approval"]["decision"] == "approve"
    assert production_endpoints(twin) == [PRODUCTION]
    steps = history(twin, first.execution_arn)

    used = refusals(twin, "UsedOrUnknown")
    assert request(twin, first.approve)["statusCode"] == 410
    assert request(twin, first.reject)["statusCode"] == 410  # either link of the pair
    assert request(twin, first.approve, method="GET")["statusCode"] == 410
    assert refusals(twin, "UsedOrUnknown") == used + 3
    assert history(twin, first.execution_arn) == steps  # the finished execution is untouched


def test_given_a_waiting_deployment_when_an_operator_approves_with_the_cli_then_the_link_is_410(
    twin: Any, model_tar: bytes
) -> None:
    from feecast_cli.main import main

    second = bring_to_the_wait(twin, model_tar, "second")
    try:
        assert main(["approve", second.approval_id, "--comment", "checked the loss"]) == 0
    finally:
        clients.use_session(None)
    twin.settle(timeout=300)
    final = twin.wait_for_execution(second.execution_arn, timeout=120)
    assert final["status"] == "SUCCEEDED"
    approval = json.loads(final["output"])["approval"]
    assert approval["decision"] == "approve" and approval["comment"] == "checked the loss"

    used = refusals(twin, "UsedOrUnknown")
    answer = request(twin, second.approve)
    assert answer["statusCode"] == 410 and "already used" in answer["body"]
    assert refusals(twin, "UsedOrUnknown") == used + 1
    assert status(twin, second.execution_arn) == "SUCCEEDED"


def test_given_a_deployment_resumed_directly_when_its_link_is_posted_later_then_410(
    twin: Any, model_tar: bytes
) -> None:
    """An IAM principal may resume the task itself (SendTaskSuccess with the token it read, as
    ApproverPolicy allows): the record stays, and a link used after the execution ended is
    refused without resuming anything twice."""
    third = bring_to_the_wait(twin, model_tar, "third")
    serving = production_config(twin)
    token = str(record(twin, third.approval_id)["task_token"])  # type: ignore[index]
    twin.client("stepfunctions").send_task_success(
        taskToken=token, output=json.dumps({"decision": "reject", "by": "an operator's script"})
    )
    twin.settle(timeout=120)
    final = twin.wait_for_execution(third.execution_arn, timeout=60)
    assert final["status"] == "SUCCEEDED"
    assert json.loads(final["output"])["approval"]["decision"] == "reject"
    steps = history(twin, third.execution_arn)
    assert record(twin, third.approval_id) is not None  # the direct path does not consume it

    ended = refusals(twin, "ExecutionEnded")
    answer = request(twin, third.approve)
    assert answer["statusCode"] == 410 and "no longer waiting" in answer["body"]
    assert refusals(twin, "ExecutionEnded") == ended + 1
    assert record(twin, third.approval_id) is None  # consumed by the refused attempt: no retry
    assert history(twin, third.execution_arn) == steps
    assert production_config(twin) == serving
