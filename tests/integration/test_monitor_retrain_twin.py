"""Accuracy alarm -> exactly one build, on the twin: the real rule, function, start_build and
ModelBuild state machine (StartExecution counted from the twin's records, nothing stubbed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.drivers import builds_started, retrain_runs

T0 = datetime(2026, 1, 5, 15, 1, 10, 245000, tzinfo=UTC)


def alarm_detail(
    load_event: Any, at: datetime, name: str = "feecast-staging-accuracy"
) -> dict[str, Any]:
    event = load_event("retrain-accuracy-alarm.json")
    detail = event["detail"]
    detail["alarmName"] = name
    detail["state"]["timestamp"] = at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
    return detail


def emit_alarm(twin: Any, detail: dict[str, Any]) -> None:
    # As CloudWatch does: put on the bus without waiting for the consumers.
    twin.emit_event(
        source="aws.cloudwatch",
        detail_type="CloudWatch Alarm State Change",
        detail=detail,
        resources=[f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{detail['alarmName']}"],
    )


def test_given_20_deliveries_in_a_burst_and_a_flap_then_exactly_one_build(
    twin: Any, load_event: Any
) -> None:
    detail = alarm_detail(load_event, T0)
    for _ in range(20):
        emit_alarm(twin, json.loads(json.dumps(detail)))
    twin.settle()

    assert len(builds_started(twin)) == 1
    assert builds_started(twin)[0]["name"].startswith("alarm-feecast-staging-accuracy")
    notices = [
        m for m in twin.sns_messages() if "feecast-staging-accuracy ALARM" in (m["subject"] or "")
    ]
    assert len(notices) == 1 and "build started" in notices[0]["subject"]
    assert "loss 0.41 > threshold 0.24" in notices[0]["message"]

    # The alarm flaps: OK, then ALARM again an hour later, inside the cool-down.
    ok = alarm_detail(load_event, T0 + timedelta(minutes=30))
    ok["state"]["value"] = "OK"
    emit_alarm(twin, ok)
    emit_alarm(twin, alarm_detail(load_event, T0 + timedelta(hours=1)))
    twin.settle()
    assert len(builds_started(twin)) == 1
    assert "cool-down" in twin.sns_messages()[-1]["subject"]


def test_alarms_of_other_systems_are_ignored(twin: Any, load_event: Any) -> None:
    twin.send_event(load_event("retrain-other-alarm.json"))
    other_feecast_alarm = load_event("retrain-accuracy-alarm.json")
    other_feecast_alarm["detail"]["alarmName"] = "feecast-production-invocation-errors"
    twin.send_event(other_feecast_alarm)
    twin.settle()
    assert retrain_runs(twin) == []
    assert builds_started(twin) == []
