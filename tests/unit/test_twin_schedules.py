"""The twin's schedule expressions, EventBridge input templates and EMF extraction (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from feecast_twin.emf import parse_emf_line
from feecast_twin.events import ScheduleExpressionError, due_times, render_template, target_input

T0 = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday


def test_rate_fires_every_period_from_the_anchor() -> None:
    times = due_times("rate(5 minutes)", T0, T0 + timedelta(minutes=16), anchor=T0)
    assert [t.minute for t in times] == [5, 10, 15]
    assert due_times("rate(1 hour)", T0 + timedelta(minutes=59), T0 + timedelta(hours=1), T0) == [
        T0 + timedelta(hours=1)
    ]


def test_cron_uses_aws_fields_and_weekdays() -> None:
    # 09:30 on weekdays (MON-FRI); Jan 5 2026 is a Monday, Jan 10 a Saturday
    week = due_times("cron(30 9 ? * MON-FRI *)", T0, T0 + timedelta(days=7), anchor=T0)
    assert [t.day for t in week] == [5, 6, 7, 8, 9]
    hourly = due_times("cron(0 * * * ? *)", T0, T0 + timedelta(hours=3), anchor=T0)
    assert [t.hour for t in hourly] == [1, 2, 3]  # (after, until]: not 00:00
    sundays = due_times("cron(0 12 ? * 1 *)", T0, T0 + timedelta(days=14), anchor=T0)
    assert [t.day for t in sundays] == [11, 18]
    last = due_times("cron(0 0 L * ? *)", T0, T0 + timedelta(days=40), anchor=T0)
    assert [t.date().isoformat() for t in last] == ["2026-01-31"]


def test_at_and_timezones() -> None:
    at = due_times("at(2026-01-05T10:00:00)", T0, T0 + timedelta(days=1), T0, tz="Europe/Paris")
    assert at == [datetime(2026, 1, 5, 9, tzinfo=UTC)]
    with pytest.raises(ScheduleExpressionError):
        due_times("every monday", T0, T0 + timedelta(days=1), T0)


def test_input_template_quotes_strings_outside_and_inlines_inside() -> None:
    values = {"arn": "arn:x", "version": 7, "detail": {"a": 1}}
    out = render_template(
        '{"p": <arn>, "v": <version>, "note": "v<version> of <arn>", "d": <detail>}', values
    )
    assert out == {"p": "arn:x", "v": 7, "note": "v7 of arn:x", "d": {"a": 1}}
    assert render_template('"Model <arn> approved"', values) == "Model arn:x approved"


def test_target_input_prefers_input_then_input_path_then_transformer() -> None:
    event = {"id": "1", "detail": {"x": {"y": 2}}}
    assert target_input({"Input": '{"k": 1}'}, event, "arn", "r") == {"k": 1}
    assert target_input({"InputPath": "$.detail.x"}, event, "arn", "r") == {"y": 2}
    transformer = {
        "InputTransformer": {
            "InputPathsMap": {"y": "$.detail.x.y"},
            "InputTemplate": '{"y": <y>, "rule": "<aws.events.rule-name>"}',
        }
    }
    assert target_input(transformer, event, "arn", "r") == {"y": 2, "rule": "r"}
    assert target_input({}, event, "arn", "r") is event


def test_emf_line_becomes_one_datum_per_dimension_set_and_value() -> None:
    line = json.dumps(
        {
            "_aws": {
                "Timestamp": 1767571200000,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "feecast",
                        "Dimensions": [["service"], []],
                        "Metrics": [{"Name": "Loss", "Unit": "None"}],
                    }
                ],
            },
            "service": "monitor",
            "Loss": [0.1, 0.2],
        }
    )
    ((namespace, data),) = parse_emf_line(line)
    assert namespace == "feecast"
    assert [(d["Value"], d["Dimensions"]) for d in data] == [
        (0.1, [{"Name": "service", "Value": "monitor"}]),
        (0.2, [{"Name": "service", "Value": "monitor"}]),
        (0.1, []),
        (0.2, []),
    ]
    assert data[0]["Timestamp"] == T0
    assert parse_emf_line('{"level": "INFO"}') == [] and parse_emf_line("plain text") == []
