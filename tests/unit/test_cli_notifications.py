"""`feecast logs` reads the notifications back from the lifecycle event log (feecast_cli.notifications)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from feecast_cli.notifications import OUTPUT, collect_notifications

SINCE = datetime(2026, 1, 5, tzinfo=UTC)


def call(_what: str, fn: Any, /, **kwargs: Any) -> Any:
    return fn(**kwargs)


def log_event(detail_type: str, outcome: str, summary: str, time: str) -> dict[str, Any]:
    event = {
        "detail-type": detail_type,
        "source": "feecast",
        "time": time,
        "detail": {"outcome": outcome, "summary": summary, "project": "feecast"},
    }
    return {"timestamp": 0, "message": json.dumps(event)}


class FakeLogs:
    def __init__(self, pages: list[list[dict[str, Any]]], missing: bool = False) -> None:
        self.pages, self.missing = pages, missing
        self.requests: list[dict[str, Any]] = []

    def filter_log_events(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        if self.missing:
            raise ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": "no group"}},
                "FilterLogEvents",
            )
        index = int(kwargs.get("nextToken", 0))
        page: dict[str, Any] = {"events": self.pages[index]}
        if index + 1 < len(self.pages):
            page["nextToken"] = str(index + 1)
        return page


def test_each_event_becomes_a_notify_row_across_pages() -> None:
    logs = FakeLogs(
        [
            [
                log_event(
                    "Build Failed", "failed", "feecast build failed: x", "2026-01-05T01:00:00Z"
                )
            ],
            [
                {"timestamp": 0, "message": "not json"},
                log_event(
                    "Approval Requested",
                    "requested",
                    "feecast: approve model v2 for production?",
                    "2026-01-05T02:00:00Z",
                ),
            ],
        ]
    )
    rows = collect_notifications(logs, {OUTPUT: "/aws/events/feecast-lifecycle"}, SINCE, call)
    assert rows == [
        {
            "time": "2026-01-05T01:00:00Z",
            "source": "notify",
            "event": "Build Failed",
            "subject": "feecast build failed: x",
            "status": "failed",
            "by": None,
            "detail": None,
        },
        {
            "time": "2026-01-05T02:00:00Z",
            "source": "notify",
            "event": "Approval Requested",
            "subject": "approve model v2 for production?",
            "status": "requested",
            "by": None,
            "detail": None,
        },
    ]
    assert logs.requests[0] == {
        "logGroupName": "/aws/events/feecast-lifecycle",
        "startTime": int(SINCE.timestamp() * 1000),
    }


def test_a_stack_without_the_log_group_has_no_rows() -> None:
    assert collect_notifications(FakeLogs([]), {}, SINCE, call) == []
    missing = FakeLogs([], missing=True)
    assert collect_notifications(missing, {OUTPUT: "/aws/events/x"}, SINCE, call) == []
