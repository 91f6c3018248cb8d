"""Rendering of `feecast status` / `feecast logs` and the pure helpers (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from feecast_cli.context import CliError, project_name, server_time
from feecast_cli.status import (
    _state_from_history,
    render_logs,
    render_status,
    table,
)


def test_project_name_comes_from_its_output_or_the_package_group() -> None:
    assert project_name({"ProjectName": "fc"}) == "fc"
    assert project_name({"ModelPackageGroupName": "acme-models"}) == "acme"
    with pytest.raises(CliError):
        project_name({})


def test_the_server_time_is_read_from_the_date_header() -> None:
    response = {"ResponseMetadata": {"HTTPHeaders": {"date": "Mon, 05 Jan 2026 07:11:00 GMT"}}}
    assert server_time(response) == datetime(2026, 1, 5, 7, 11, tzinfo=UTC)
    assert server_time({}).tzinfo is not None  # no header: the local clock


def test_alarm_history_items_give_the_new_state() -> None:
    item = {"HistoryData": '{"newState": {"stateValue": "ALARM"}}'}
    assert _state_from_history(item) == "ALARM"
    assert _state_from_history({"HistorySummary": "Alarm updated from OK to ALARM"}) == "ALARM"


def test_table_pads_columns_and_shows_missing_values_as_dashes() -> None:
    text = table(["a", "long header"], [["x", None], ["yyyy", 3]])
    assert text.splitlines() == ["a     long header", "----  -----------", "x     -", "yyyy  3"]


def test_status_says_what_serves_what_and_what_waits() -> None:
    status = {
        "stack": "feecast",
        "project": "feecast",
        "now": "2026-01-05T08:00:00+00:00",
        "threshold": {"parameter": "/feecast/validation", "value": 0.131, "previous": 0.162},
        "endpoints": [
            {
                "stage": "production",
                "endpoint": "feecast-production",
                "status": "InService",
                "model_version": 2,
                "deployed_at": "2026-01-05T07:11:12+00:00",
                "last_loss": 0.09,
                "last_baseline_loss": 0.12,
                "last_loss_at": "2026-01-05T08:00:00+00:00",
            },
            {"stage": "staging", "endpoint": "feecast-staging", "status": "absent"},
        ],
        "alarms": [],
        "running": [],
        "pending_packages": [
            {
                "version": 3,
                "created": "2026-01-05T07:00:00+00:00",
                "approve_with": "aws sagemaker ...",
            }
        ],
        "pending_approvals": [],
    }

    text = render_status(status)

    assert "Threshold: 0.1310 (was 0.1620)" in text
    assert "production  feecast-production  InService  v2" in text
    assert "0.0900" in text and "0.1200" in text
    assert "(none: monitoring starts when an endpoint goes InService)" in text
    assert "(no build or deployment running)" in text
    assert "model package  v3" in text


def test_logs_render_a_table_or_say_there_is_nothing() -> None:
    assert render_logs([]) == "(no lifecycle events yet)\n"
    text = render_logs(
        [
            {
                "time": "2026-01-05T06:01:04+00:00",
                "source": "build",
                "event": "build started",
                "subject": "alarm-x",
                "status": "RUNNING",
            }
        ]
    )
    assert "2026-01-05 06:01:04  build   build started  alarm-x  RUNNING" in text
