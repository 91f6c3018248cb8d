"""Event parsing for monitoring: endpoint status spellings, time forms, alarms, schedule input."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from feecast.monitor.events import (
    Action,
    EventError,
    action_for,
    normalise_status,
    parse_alarm_event,
    parse_endpoint_event,
    parse_instant,
    parse_run_request,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("IN_SERVICE", "IN_SERVICE"),
        ("InService", "IN_SERVICE"),
        ("in_service", "IN_SERVICE"),
        ("OutOfService", "OUT_OF_SERVICE"),
        ("UpdateRollbackFailed", "UPDATE_ROLLBACK_FAILED"),
        ("SYSTEM_UPDATING", "SYSTEM_UPDATING"),
    ],
)
def test_status_spellings_normalise_to_upper_snake_case(raw: str, expected: str) -> None:
    assert normalise_status(raw) == expected


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("IN_SERVICE", Action.ACTIVATE),
        ("InService", Action.ACTIVATE),
        ("FAILED", Action.REPORT_FAILURE),
        ("Failed", Action.REPORT_FAILURE),
        ("UPDATE_ROLLBACK_FAILED", Action.REPORT_FAILURE),
        ("DELETING", Action.DEACTIVATE),
        ("Deleting", Action.DEACTIVATE),
        ("UPDATING", Action.IGNORE),
        ("CREATING", Action.IGNORE),
        ("OUT_OF_SERVICE", Action.IGNORE),
    ],
)
def test_each_status_maps_to_what_monitoring_does(status: str, action: Action) -> None:
    assert action_for(status) is action


TEN = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "raw",
    [
        "1767607200000",  # epoch ms as a string (published endpoint example)
        1767607200000.0,  # epoch ms as a float (CreationTime / LastModifiedTime)
        1767607200,  # epoch seconds
        "2026-01-05T10:00:00Z",
        "2026-01-05T10:00:00+00:00",
        "2026-01-05T10:00:00.000+0000",  # alarm timestamps
        "2026-01-05T11:00:00+01:00",
    ],
)
def test_every_time_form_gives_the_same_utc_instant(raw: object) -> None:
    assert parse_instant(raw) == TEN


@pytest.mark.parametrize("raw", ["yesterday", None, True, "", datetime(2026, 1, 5)])
def test_unreadable_times_are_refused_with_the_value(raw: object) -> None:
    with pytest.raises(EventError):
        parse_instant(raw)


def test_given_the_in_service_fixture_then_the_change_is_an_activation_at_last_modified() -> None:
    change = parse_endpoint_event(load("monitor-endpoint-in-service.json"))
    assert change.endpoint_name == "feecast-staging"
    assert change.action is Action.ACTIVATE
    assert change.changed_at == TEN
    assert change.endpoint_config_name == "feecast-staging-v1-20260105T093000"


def test_given_duplicate_events_of_one_change_then_their_change_keys_are_equal() -> None:
    first = load("monitor-endpoint-in-service.json")
    second = copy.deepcopy(first)
    second["id"] = "another-delivery"
    second["time"] = "2026-01-05T10:00:03Z"  # a later event, same LastModifiedTime
    second["detail"]["EndpointStatus"] = "InService"  # the API's spelling
    assert parse_endpoint_event(first).change_key == parse_endpoint_event(second).change_key


def test_given_no_last_modified_time_then_the_event_time_is_the_change_time() -> None:
    event = load("monitor-endpoint-in-service.json")
    del event["detail"]["LastModifiedTime"]
    event["time"] = "2026-01-05T10:00:00Z"
    assert parse_endpoint_event(event).changed_at == TEN


def test_failed_event_carries_the_failure_reason() -> None:
    change = parse_endpoint_event(load("monitor-endpoint-failed.json"))
    assert change.action is Action.REPORT_FAILURE
    assert change.failure_reason is not None and "ping health check" in change.failure_reason


def test_deleting_event_deactivates() -> None:
    assert parse_endpoint_event(load("monitor-endpoint-deleting.json")).action is Action.DEACTIVATE


@pytest.mark.parametrize("missing", ["EndpointName", "EndpointStatus"])
def test_an_endpoint_event_without_name_or_status_is_refused_naming_the_field(
    missing: str,
) -> None:
    event = load("monitor-endpoint-in-service.json")
    del event["detail"][missing]
    with pytest.raises(EventError, match=missing):
        parse_endpoint_event(event)


def test_an_event_of_another_detail_type_is_refused() -> None:
    with pytest.raises(EventError, match="detail-type"):
        parse_endpoint_event(load("retrain-accuracy-alarm.json"))


def test_alarm_event_gives_the_transition_time_loss_and_threshold() -> None:
    change = parse_alarm_event(load("retrain-accuracy-alarm.json"))
    assert change.alarm_name == "feecast-staging-accuracy"
    assert change.state == "ALARM" and change.previous_state == "OK"
    assert change.transitioned_at == datetime(2026, 1, 5, 15, 1, 10, 245000, tzinfo=UTC)
    assert change.latest_value == 0.41
    assert change.threshold == 0.24


def test_alarm_event_with_unreadable_reason_data_still_parses() -> None:
    event = load("retrain-accuracy-alarm.json")
    event["detail"]["state"]["reasonData"] = "{not json"
    change = parse_alarm_event(event)
    assert change.latest_value is None and change.threshold is None


def test_schedule_input_gives_the_scheduled_time_as_now() -> None:
    request = parse_run_request(load("monitor-hourly-input.json"))
    assert request.scheduled_time == datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    assert (request.stage, request.endpoint_name) == ("staging", "feecast-staging")


def test_schedule_input_without_scheduled_time_is_refused() -> None:
    with pytest.raises(EventError, match="scheduled_time"):
        parse_run_request({"stage": "staging", "endpoint_name": "feecast-staging"})
