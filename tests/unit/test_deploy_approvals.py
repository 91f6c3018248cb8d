"""Ask A Person To Approve, the decision (CLI and signed links), on in-memory ports."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from feecast.deploy import approvals, links, names
from feecast.deploy.approval_callback import MAX_QUERY_CHARS, LinkRequest, answer_link
from feecast.deploy.approvals import ApprovalRefused, Decided
from feecast.deploy.request_approval import ApprovalRequest, request_approval
from feecast.observability import metrics

from tests.support.deploy import approval_settings, package_arn
from tests.support.fakes import FakeNotifier, FakeSecret, FakeState, FakeTasks

NOW = 1_767_607_200.0  # 2026-01-05T10:00:00Z
DEPLOYMENT = {
    "deployment_id": "v7-20260105T101500",
    "model_package_arn": package_arn(7),
    "model_package_version": 7,
    "threshold": {"loss": 0.2, "old_threshold": 0.24, "baseline_loss": 0.3},
    "smoke": {"context_source": "feature_store"},
}


@pytest.fixture(autouse=True)
def _namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    # Refusals are counted with single_metric, which needs the namespace the template sets.
    monkeypatch.setattr(metrics, "namespace", "feecast")


class World:
    def __init__(self) -> None:
        self.state = FakeState()
        self.tasks = FakeTasks("token-1")
        self.secret = FakeSecret()
        self.notifier = FakeNotifier()

    def ask(self) -> ApprovalRequest:
        return request_approval(
            task_token="token-1",
            execution_arn="arn:aws:states:eu-west-1:123456789012:execution:feecast-model-deploy:x",
            deployment=DEPLOYMENT,
            timeout_seconds=3600,
            settings=approval_settings(),
            state=self.state,
            secret=self.secret,
            notifier=self.notifier,
        )

    def decide(self, approval_id: str, decision: str = "approve", now: float | None = None) -> Any:
        return approvals.decide(
            self.state, self.tasks, approval_id, decision, by="ana", comment="ok", now=now
        )

    def follow(self, url: str, method: str = "POST", now: float | None = None, **query: str) -> Any:
        parts = urlsplit(url)
        fields = {k: v[0] for k, v in parse_qs(parts.query).items()} | query
        return answer_link(
            LinkRequest(
                method=method,
                approval_id=parts.path.rsplit("/", 1)[-1],
                query=fields,
                raw_query=parts.query,
                source_ip="192.0.2.1",
                request_id="r-1",
            ),
            state=self.state,
            tasks=self.tasks,
            secret=self.secret,
            now=now,
        )


def test_an_approval_request_keeps_the_token_and_sends_signed_links_without_it() -> None:
    w = World()
    asked = w.ask()
    item = w.state.get(f"{names.APPROVAL_PREFIX}{asked.approval_id}", "APPROVAL")
    assert item is not None and item["task_token"] == "token-1"
    assert item["loss"] == 0.2 and item["threshold"] == 0.24
    [sent] = w.notifier.sent
    assert sent["subject"] == "feecast: approve model v7 for production?"
    assert asked.approve_url in sent["message"] and asked.reject_url in sent["message"]
    assert "token-1" not in sent["message"] and "token-1" not in str(sent["facts"])
    query = parse_qs(urlsplit(asked.approve_url).query)
    verified = links.verify(
        w.secret.value,
        asked.approval_id,
        query["decision"][0],
        query["expires"][0],
        query["signature"][0],
        now=asked.expires_at - 1,
    )
    assert verified.decision == "approve"


def test_pending_approvals_are_listed_without_their_token_until_they_expire() -> None:
    w = World()
    asked = w.ask()
    [pending] = approvals.list_pending(w.state, now=asked.expires_at - 1)
    assert pending.approval_id == asked.approval_id and pending.version == 7
    assert "task_token" not in pending.model_dump()
    assert approvals.list_pending(w.state, now=asked.expires_at) == []


def test_a_decision_resumes_the_deployment_once() -> None:
    w = World()
    asked = w.ask()
    decided = w.decide(asked.approval_id, now=asked.expires_at - 1)
    assert (decided.decision, decided.by, decided.model_package_arn) == (
        "approve",
        "ana",
        package_arn(7),
    )
    [(token, output)] = w.tasks.succeeded
    assert token == "token-1" and output["decision"] == "approve" and output["comment"] == "ok"
    with pytest.raises(ApprovalRefused) as again:
        w.decide(asked.approval_id, "reject", now=asked.expires_at - 1)
    assert (again.value.status, again.value.code) == (410, "UsedOrUnknown")
    assert len(w.tasks.succeeded) == 1


def test_an_expired_approval_is_refused_and_kept_for_its_ttl() -> None:
    w = World()
    asked = w.ask()
    with pytest.raises(ApprovalRefused) as refused:
        w.decide(asked.approval_id, now=asked.expires_at)
    assert (refused.value.status, refused.value.code) == (410, "Expired")
    assert w.tasks.succeeded == []


@pytest.mark.parametrize(
    ("approval_id", "decision", "match"),
    [("abc", "maybe", "approve or reject"), ("../etc", "approve", "approval id")],
)
def test_a_malformed_decision_is_refused_before_any_record_is_read(
    approval_id: str, decision: str, match: str
) -> None:
    w = World()
    with pytest.raises(ApprovalRefused, match=match) as refused:
        w.decide(approval_id, decision)
    assert refused.value.status == 400 and w.tasks.succeeded == []


def test_a_deployment_no_longer_waiting_is_refused_and_the_record_is_consumed() -> None:
    w = World()
    asked = w.ask()
    w.tasks.waiting.clear()  # the execution was stopped
    with pytest.raises(ApprovalRefused) as refused:
        w.decide(asked.approval_id, now=asked.expires_at - 1)
    assert refused.value.code == "ExecutionEnded"
    assert approvals.list_pending(w.state, now=asked.expires_at - 1) == []


# -- the signed links -----------------------------------------------------------------------------
def test_opening_a_link_changes_nothing_and_posting_it_decides_once() -> None:
    w = World()
    asked = w.ask()
    now = asked.expires_at - 1
    opened = w.follow(asked.reject_url, method="GET", now=now)
    assert isinstance(opened, links.VerifiedLink) and opened.decision == "reject"
    assert w.tasks.succeeded == [] and approvals.list_pending(w.state, now=now)
    decided = w.follow(asked.reject_url, now=now)
    assert isinstance(decided, Decided) and decided.decision == "reject"
    assert decided.by == "link from 192.0.2.1"
    for url, method in ((asked.approve_url, "POST"), (asked.reject_url, "GET")):
        with pytest.raises(ApprovalRefused) as used:
            w.follow(url, method=method, now=now)
        assert used.value.code == "UsedOrUnknown"
    assert len(w.tasks.succeeded) == 1


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"signature": "0" * 64}, 403, "BadSignature"),
        ({"decision": "reject"}, 403, "BadSignature"),  # the approve link's signature
        ({"method": "PUT"}, 405, "WrongMethod"),
        ({"expires": "1"}, 403, "BadSignature"),
    ],
)
def test_a_refused_link_resumes_nothing(change: dict[str, str], status: int, code: str) -> None:
    w = World()
    asked = w.ask()
    method = change.pop("method", "POST")
    with pytest.raises(ApprovalRefused) as refused:
        w.follow(asked.approve_url, method=method, now=asked.expires_at - 1, **change)
    assert (refused.value.status, refused.value.code) == (status, code)
    assert w.tasks.succeeded == [] and approvals.list_pending(w.state, now=asked.expires_at - 1)


def test_an_expired_link_is_refused() -> None:
    w = World()
    asked = w.ask()
    with pytest.raises(ApprovalRefused) as refused:
        w.follow(asked.approve_url, now=asked.expires_at)
    assert (refused.value.status, refused.value.code) == (410, "Expired")


def test_an_oversize_link_is_refused_before_its_signature_is_checked() -> None:
    w = World()
    asked = w.ask()
    long = asked.approve_url + "&x=" + "a" * MAX_QUERY_CHARS
    with pytest.raises(ApprovalRefused) as refused:
        w.follow(long, now=asked.expires_at - 1)
    assert (refused.value.status, refused.value.code) == (414, "Oversize")
