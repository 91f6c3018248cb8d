"""Endpoint state changes on the twin: the real rule, handler, CloudWatch and SNS.

The hourly schedules belong to the template (always ENABLED, issue 16 defect 2): endpoint
events change only the run-time accuracy alarms, never a schedule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

STAGING_SCHEDULE = "feecast-staging-monitoring"


def on_bus(event: dict[str, Any]) -> dict[str, Any]:
    """The envelope as EventBridge delivers it: twin.send_event reads "time" as ISO-8601 only,
    so the epoch-milliseconds form of the published example (parsed by tests/unit) is converted."""
    raw = event.get("time", "")
    if raw.isdigit():
        event["time"] = datetime.fromtimestamp(int(raw) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def schedule_state(twin: Any, name: str = STAGING_SCHEDULE) -> str:
    return str(twin.client("scheduler").get_schedule(Name=name)["State"])


def alarm(twin: Any, name: str = "feecast-staging-accuracy") -> dict[str, Any] | None:
    found = twin.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return found[0] if found else None


def activations(twin: Any) -> list[Any]:
    return [r for r in twin.records_of("lambda") if "ActivateMonitoring" in str(r.get("function"))]


def test_given_in_service_then_the_alarm_is_set_from_ssm_and_the_schedules_stay_as_deployed(
    twin: Any, load_event: Any
) -> None:
    # The deploy stage set the model's threshold before the endpoint went InService.
    twin.client("ssm").put_parameter(
        Name="/feecast/validation",
        Value=json.dumps(
            {
                "threshold": 0.19,
                "consecutive_breaches_to_alarm": 3,
                "confidence": 90,
            }
        ),
        Overwrite=True,
    )
    before = twin.client("scheduler").get_schedule(Name=STAGING_SCHEDULE)
    assert before["State"] == "ENABLED"

    twin.send_event(on_bus(load_event("monitor-endpoint-in-service.json")))

    after = twin.client("scheduler").get_schedule(Name=STAGING_SCHEDULE)
    assert after["LastModificationDate"] == before["LastModificationDate"]  # untouched
    assert schedule_state(twin, "feecast-production-monitoring") == "ENABLED"
    set_alarm = alarm(twin)
    assert set_alarm is not None
    assert set_alarm["Threshold"] == 0.19
    assert set_alarm["EvaluationPeriods"] == set_alarm["DatapointsToAlarm"] == 3
    # The loss pooled over the last alarm_window_hours (issue 15), not one hour's window.
    assert (set_alarm["MetricName"], set_alarm["Statistic"], set_alarm["Period"]) == (
        "RollingWeightedQuantileLoss",
        "Maximum",
        3600,
    )
    assert set_alarm["TreatMissingData"] == "notBreaching"
    assert set_alarm["AlarmActions"] == [twin.physical_id("NotificationTopic")]
    assert len(twin.sns_messages()) == 1


def test_given_duplicate_events_in_both_spellings_then_one_activation_one_notification(
    twin: Any, load_event: Any
) -> None:
    first = load_event("monitor-endpoint-in-service.json")
    again = load_event("monitor-endpoint-in-service.json")
    again["id"] = "second-delivery"
    again["time"] = "2026-01-05T10:00:02Z"
    again["detail"]["EndpointStatus"] = "InService"
    twin.send_event(on_bus(first))
    twin.send_event(again)
    assert alarm(twin) is not None
    assert len(twin.sns_messages()) == 1


def test_given_failed_then_the_failure_reason_is_notified(twin: Any, load_event: Any) -> None:
    twin.send_event(on_bus(load_event("monitor-endpoint-failed.json")))
    (message,) = twin.sns_messages()
    assert "feecast-production FAILED" in message["subject"]
    assert "ping health check" in message["message"]
    assert alarm(twin, "feecast-production-accuracy") is None


def test_given_deleting_then_the_alarm_actions_are_disabled(twin: Any, load_event: Any) -> None:
    twin.send_event(on_bus(load_event("monitor-endpoint-in-service.json")))
    twin.send_event(on_bus(load_event("monitor-endpoint-deleting.json")))
    assert schedule_state(twin) == "ENABLED"  # the run finds no endpoint and skips
    kept = alarm(twin)
    assert kept is not None and kept["ActionsEnabled"] is False


def test_other_systems_endpoints_are_ignored(twin: Any, load_event: Any) -> None:
    other = load_event("monitor-endpoint-in-service.json")
    other["detail"]["EndpointName"] = "churn-model-prod"
    twin.send_event(on_bus(other))
    assert activations(twin) == []  # the rule did not match

    lookalike = load_event("monitor-endpoint-in-service.json")
    lookalike["detail"]["EndpointName"] = "feecast-staging-experiment"
    twin.send_event(on_bus(lookalike))  # matches the rule's prefix; the function ignores it
    assert len(activations(twin)) == 1
    assert alarm(twin) is None
    assert twin.sns_messages() == []
