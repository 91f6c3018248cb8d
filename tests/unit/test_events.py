"""The AWS event models and the one time reader: one status spelling, both spellings parsed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.parser import parse
from feecast.events import (
    AlarmStateChange,
    EndpointStateChange,
    EndpointStatus,
    PackageStateChange,
)
from feecast.times import EventError, iso, parse_instant, parse_optional_instant
from pydantic import ValidationError

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize("raw", ["IN_SERVICE", "InService", "in_service"])
def test_given_either_spelling_then_the_status_is_in_service(raw: str) -> None:
    assert EndpointStatus.parse(raw) is EndpointStatus.IN_SERVICE


@pytest.mark.parametrize(
    ("status", "api"),
    [
        (EndpointStatus.IN_SERVICE, "InService"),
        (EndpointStatus.UPDATE_ROLLBACK_FAILED, "UpdateRollbackFailed"),
        (EndpointStatus.OUT_OF_SERVICE, "OutOfService"),
    ],
)
def test_the_api_spelling_is_describe_endpoints(status: EndpointStatus, api: str) -> None:
    assert status.api == api
    assert EndpointStatus.parse(api) is status


def test_given_a_status_sagemaker_does_not_have_then_it_parses_to_none() -> None:
    assert EndpointStatus.parse("Hibernating") is None


def test_each_fixture_parses_into_its_model() -> None:
    assert parse(event=load("deploy-package-approved.json"), model=PackageStateChange)
    endpoint = parse(event=load("deploy-endpoint-in-service.json"), model=EndpointStateChange)
    assert EndpointStatus.parse(endpoint.detail.EndpointStatus) is EndpointStatus.IN_SERVICE
    alarm = parse(event=load("retrain-accuracy-alarm.json"), model=AlarmStateChange)
    assert alarm.detail.state.value == "ALARM"


def test_given_another_rules_event_then_the_model_names_the_detail_type() -> None:
    with pytest.raises(ValidationError, match="detail-type"):
        parse(event=load("retrain-accuracy-alarm.json"), model=EndpointStateChange)


def test_iso_writes_whole_utc_seconds_whatever_the_zone() -> None:
    ts = datetime.fromisoformat("2026-01-05T11:15:00.750+01:00")
    assert iso(ts) == "2026-01-05T10:15:00Z"
    assert parse_instant(iso(ts)) == datetime(2026, 1, 5, 10, 15, tzinfo=UTC)


def test_an_optional_time_may_be_absent_and_a_naive_envelope_time_is_utc() -> None:
    assert parse_optional_instant(None) is None
    assert parse_optional_instant("") is None
    assert parse_optional_instant(datetime(2026, 1, 5, 10)) == datetime(2026, 1, 5, 10, tzinfo=UTC)
    with pytest.raises(EventError):
        parse_optional_instant("yesterday")
