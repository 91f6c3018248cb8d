"""Lifecycle events (feecast.lifecycle, docs/events.md): the detail every other system reads,
the SNS message attributes subscription filter policies match, and the adapter that publishes
both for every notification."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from feecast.adapters import notify as notify_module
from feecast.adapters.notify import EventNotPut, notify, notify_or_count
from feecast.lifecycle import (
    MAX_DETAIL_BYTES,
    SOURCE,
    DetailType,
    LifecycleDetail,
    lifecycle_event,
)
from feecast.observability import metrics

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "arn:aws:sns:eu-west-1:123456789012:feecast-notifications"
PACKAGE = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/feecast-models/3"


def event(**overrides: Any) -> Any:
    args: dict[str, Any] = {
        "project": "feecast",
        "outcome": "deployed",
        "summary": "feecast: staging now serves model v3",
        "stage": "staging",
        "model_package_arn": PACKAGE,
    } | overrides
    return lifecycle_event(DetailType.DEPLOYMENT_SUCCEEDED, **args)


def test_given_a_deployment_then_the_entry_is_a_feecast_event_on_the_default_bus() -> None:
    entry = event(facts={"when": "2026-01-01"}).put_events_entry()
    assert entry["Source"] == SOURCE == "feecast"
    assert entry["DetailType"] == "Deployment Succeeded"
    assert entry["EventBusName"] == "default" and entry["Resources"] == [PACKAGE]
    detail = json.loads(entry["Detail"])
    assert detail == {
        "schema_version": "1",
        "project": "feecast",
        "outcome": "deployed",
        "summary": "feecast: staging now serves model v3",
        "stage": "staging",
        "model_version": 3,  # read from the package ARN
        "model_package_arn": PACKAGE,
        "execution": None,
        "facts": {"when": "2026-01-01"},
    }
    LifecycleDetail.model_validate(detail)


def test_facts_that_are_not_json_become_text() -> None:
    from datetime import UTC, datetime

    detail = json.loads(event(facts={"at": datetime(2026, 1, 1, tzinfo=UTC)}).detail_json())
    assert detail["facts"] == {"at": "2026-01-01 00:00:00+00:00"}


def test_given_huge_facts_then_the_detail_stays_under_the_put_events_limit() -> None:
    big = event(facts={"blob": "x" * (MAX_DETAIL_BYTES + 10)})
    detail = json.loads(big.detail_json())
    assert detail["facts"] == {"facts_truncated": True} and detail["outcome"] == "deployed"
    assert len(big.put_events_entry()["Detail"].encode()) <= MAX_DETAIL_BYTES


def test_sns_attributes_carry_type_outcome_stage_version_and_leave_out_empty_ones() -> None:
    assert event().sns_attributes() == {
        "event_type": {"DataType": "String", "StringValue": "Deployment Succeeded"},
        "outcome": {"DataType": "String", "StringValue": "deployed"},
        "project": {"DataType": "String", "StringValue": "feecast"},
        "stage": {"DataType": "String", "StringValue": "staging"},
        "model_version": {"DataType": "Number", "StringValue": "3"},
    }
    # SNS refuses an empty String value: an unknown stage or version is not sent at all
    bare = event(stage=None, model_package_arn=None).sns_attributes()
    assert set(bare) == {"event_type", "outcome", "project"}


def test_the_detail_refuses_unknown_fields_and_empty_outcomes() -> None:
    with pytest.raises(ValueError):
        LifecycleDetail.model_validate({"project": "p", "outcome": "x", "summary": "s", "x": 1})
    with pytest.raises(ValueError):
        event(outcome="")


def test_detail_types_fit_eventbridge_and_sns_limits() -> None:
    for detail_type in DetailType:
        assert 0 < len(detail_type.value) <= 128 and detail_type.value.isascii()


class FakeClients:
    def __init__(self, *, sns_down: bool = False, failed_entry: bool = False) -> None:
        self.sns_down = sns_down
        self.failed_entry = failed_entry
        self.published: list[dict[str, Any]] = []
        self.put: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        if self.sns_down:
            raise RuntimeError("SNS down")
        self.published.append(kwargs)
        return {"MessageId": "m-1"}

    def put_events(self, **kwargs: Any) -> dict[str, Any]:
        self.put.append(kwargs)
        if self.failed_entry:
            return {
                "FailedEntryCount": 1,
                "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}],
            }
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]}


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> FakeClients:
    fake = FakeClients()
    monkeypatch.setattr(notify_module, "_sns", lambda: fake)
    monkeypatch.setattr(notify_module, "_events", lambda: fake)
    metrics.clear_metrics()
    return fake


def test_notify_publishes_the_message_with_attributes_and_puts_the_event(
    clients: FakeClients,
) -> None:
    assert notify(TOPIC, "feecast: x", "body", {"a": 1}, event=event()) == "m-1"
    [message] = clients.published
    assert message["MessageAttributes"]["event_type"]["StringValue"] == "Deployment Succeeded"
    assert message["Message"].startswith("body") and '"a": 1' in message["Message"]
    [request] = clients.put
    [entry] = request["Entries"]
    assert entry["DetailType"] == "Deployment Succeeded" and entry["Source"] == "feecast"


def test_given_eventbridge_refuses_the_entry_then_notify_raises_and_notify_or_count_counts(
    clients: FakeClients,
) -> None:
    clients.failed_entry = True
    with pytest.raises(EventNotPut, match="InternalFailure"):
        notify(TOPIC, "feecast: x", "body", event=event())
    lost = notify_or_count(TOPIC, "feecast: x", "body", event=event())
    assert lost is not None and lost.startswith("EventNotPut:")
    assert {n: sum(m["Value"]) for n, m in metrics.metric_set.items()} == {
        "NotificationsFailed": 1.0
    }
    metrics.clear_metrics()


def test_given_sns_down_then_no_event_is_put_either(clients: FakeClients) -> None:
    """The e-mail and the event say the same thing: a notification that failed is retried
    whole by its caller, so the event is not sent ahead of the message."""
    clients.sns_down = True
    with pytest.raises(RuntimeError):
        notify(TOPIC, "feecast: x", "body", event=event())
    assert clients.put == []


def _notify_calls_without_event() -> list[str]:
    found = []
    for folder in ("layers/feecast/feecast", "functions"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "attr", getattr(node.func, "id", None))
                if name in {"notify", "notify_or_count"} and not any(
                    k.arg == "event" for k in node.keywords
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_notification_in_the_product_carries_a_lifecycle_event() -> None:
    assert _notify_calls_without_event() == []


def _asl_event_entries() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in (ROOT / "statemachines").glob("*.asl.json"):
        for name, state in json.loads(path.read_text())["States"].items():
            if state.get("Resource") == "arn:aws:states:::events:putEvents":
                out += [(name, entry) for entry in state["Parameters"]["Entries"]]
    return out


def test_the_state_machines_events_are_documented_detail_types_with_the_detail_schema() -> None:
    """The ASL builds its details itself: each must be a LifecycleDetail once evaluated."""
    entries = _asl_event_entries()
    assert {e["DetailType"] for _, e in entries} == {
        "Deployment Succeeded",
        "Build Started",
        "Build Succeeded",
        "Model Package Waiting For Approval",
        "Build Rejected",
    }
    fields = set(LifecycleDetail.model_fields)
    for name, entry in entries:
        assert entry["Source"] == SOURCE and entry["EventBusName"] == "default", name
        DetailType(entry["DetailType"])
        keys = {k.removesuffix(".$") for k in entry["Detail"]}
        assert keys <= fields, (name, keys - fields)
        assert {"project", "outcome", "summary", "schema_version"} <= keys, name


def test_the_asl_sns_notices_carry_the_same_attributes_as_the_adapters() -> None:
    for path in (ROOT / "statemachines").glob("*.asl.json"):
        for name, state in json.loads(path.read_text())["States"].items():
            if state.get("Resource") == "arn:aws:states:::sns:publish":
                attributes = state["Parameters"]["MessageAttributes"]
                assert {"event_type", "outcome", "project"} <= set(attributes), name
                DetailType(attributes["event_type"]["StringValue"])


def test_docs_events_lists_every_detail_type() -> None:
    text = (ROOT / "docs" / "events.md").read_text()
    missing = [t.value for t in DetailType if f"| {t.value} |" not in text]
    assert missing == []
