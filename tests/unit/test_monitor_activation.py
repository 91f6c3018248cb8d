"""What an endpoint state change does to monitoring (pure: the AWS ports are fakes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from feecast.config import FeecastConfig, ValidationConfig
from feecast.monitor.activate_monitoring import (
    ActivationPorts,
    apply_change,
    handle_endpoint_change,
)
from feecast.monitor.events import parse_endpoint_event
from feecast.monitor.records import EndpointState
from feecast.monitor.settings import ActivationSettings

from tests.support.fakes import FakeOnce

EVENTS = Path(__file__).resolve().parents[2] / "events"
SETTINGS = ActivationSettings(
    project_name="feecast",
    ssm_prefix="/feecast",
    notification_topic_arn="arn:aws:sns:eu-west-1:123456789012:feecast-notifications",
    idempotency_table="idem",
)
CONFIG = FeecastConfig(validation=ValidationConfig(threshold=0.2))


class Fake:
    def __init__(self) -> None:
        self.enabled: list[str] = []
        self.disabled: list[str] = []
        self.sent: list[tuple] = []
        self.events: list[Any] = []  # the LifecycleEvent of each notification

    def ports(self) -> ActivationPorts:
        # No schedule port: the template alone owns the schedules' state (issue 16, defect 2).
        return ActivationPorts(
            enable_alarm_actions=lambda name: self.enabled.append(name) or True,
            disable_alarm_actions=lambda name: self.disabled.append(name) or True,
            describe_endpoint=lambda name: EndpointState("Failed", "c", "from DescribeEndpoint"),
            notify=lambda *args, event: self.sent.append(args) or self.events.append(event) or "id",
        )


def event(name: str, **detail: Any) -> dict[str, Any]:
    e = json.loads((EVENTS / name).read_text())
    e["detail"].update(detail)
    return e


def apply(fake: Fake, e: dict[str, Any]) -> dict[str, Any]:
    """The change's result as the handler answers it (JSON)."""
    change = parse_endpoint_event(e)
    return apply_change(change, SETTINGS, lambda: CONFIG, fake.ports()).model_dump(mode="json")


def test_in_service_enables_the_template_alarm_and_tells_the_current_threshold() -> None:
    # The alarm is a template resource (metric math over the loss and the published threshold):
    # going InService only turns its actions back on.
    fake = Fake()
    result = apply(fake, event("monitor-endpoint-in-service.json"))
    assert fake.enabled == ["feecast-staging-accuracy"]
    assert result["alarm_actions_enabled"] is True and result["threshold"] == 0.2
    assert result["schedule"] == "feecast-staging-monitoring"
    assert "now 0.2" in fake.sent[0][2]
    # Idempotent: a second event of the same change enables the same alarm again.
    apply(fake, event("monitor-endpoint-in-service.json"))
    assert fake.enabled == ["feecast-staging-accuracy"] * 2


def test_in_service_spelled_like_the_api_activates_too() -> None:
    fake = Fake()
    apply(fake, event("monitor-endpoint-in-service.json", EndpointStatus="InService"))
    assert fake.enabled == ["feecast-staging-accuracy"]


def test_failed_notifies_with_the_failure_reason_and_leaves_monitoring_alone() -> None:
    fake = Fake()
    result = apply(fake, event("monitor-endpoint-failed.json"))
    assert "ping health check" in result["failure_reason"]
    assert "ping health check" in fake.sent[0][2]
    assert fake.enabled == [] and fake.disabled == []
    [sent] = fake.events
    assert (sent.detail_type, sent.detail.outcome) == ("Endpoint Failed", "failed")
    assert sent.detail.stage == "production" and "ping health check" in sent.detail_json()


def test_failed_without_a_reason_in_the_event_asks_describe_endpoint() -> None:
    fake = Fake()
    e = event("monitor-endpoint-failed.json")
    del e["detail"]["FailureReason"]
    assert apply(fake, e)["failure_reason"] == "from DescribeEndpoint"


def test_deleting_disables_the_alarm_actions() -> None:
    fake = Fake()
    apply(fake, event("monitor-endpoint-deleting.json"))
    assert fake.disabled == ["feecast-staging-accuracy"]


def test_other_endpoints_and_intermediate_states_change_nothing() -> None:
    other = parse_endpoint_event(
        event("monitor-endpoint-in-service.json", EndpointName="feecast-staging2")
    )
    updating = parse_endpoint_event(
        event("monitor-endpoint-in-service.json", EndpointStatus="UPDATING")
    )
    fake, once = Fake(), FakeOnce()
    for change in (other, updating):
        # No idempotency record, no AWS call.
        result = handle_endpoint_change(change, SETTINGS, lambda: CONFIG, fake.ports(), once=once)
        assert result.model_dump(mode="json")["action"] == "ignored"
    assert once.calls == 0 and fake.sent == fake.enabled == fake.disabled == []
