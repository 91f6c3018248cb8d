"""The notifications as `feecast logs` shows them: read back from the lifecycle event log.

Every notification is also an EventBridge event (docs/events.md) that the stack's
LifecycleEventRule keeps in the log group named by the `LifecycleEventLogGroupName` output. Reading
that group works the same on AWS and on `feecast local serve`, where no e-mail arrives.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

OUTPUT = "LifecycleEventLogGroupName"
MAX_PAGES = 20  # 20 x up to 10,000 events: far more than `feecast logs --limit` shows


def collect_notifications(
    logs: Any, outputs: dict[str, str], since: datetime, call: Callable[..., Any]
) -> list[dict[str, Any]]:
    """One `feecast logs` row per lifecycle event since `since`: time, source "notify", the
    detail-type, the summary (subject line), the outcome. A stack without the log group (deployed
    before it existed) has no rows."""
    group = outputs.get(OUTPUT)
    if not group:
        return []
    rows: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"logGroupName": group, "startTime": int(since.timestamp() * 1000)}
    for _ in range(MAX_PAGES):
        try:
            page = call("CloudWatch Logs FilterLogEvents", logs.filter_log_events, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return rows
            raise
        rows += [row for e in page.get("events", []) if (row := _row(e)) is not None]
        token = page.get("nextToken")
        if not token or token == kwargs.get("nextToken"):
            break
        kwargs["nextToken"] = token
    return rows


def _row(log_event: dict[str, Any]) -> dict[str, Any] | None:
    try:
        event = json.loads(log_event.get("message") or "")
    except ValueError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
        return None
    detail = event["detail"]
    summary = str(detail.get("summary") or "").removeprefix("feecast: ")
    facts = detail.get("facts") if isinstance(detail.get("facts"), dict) else {}
    # The same stable keys as the other rows of `feecast logs` (feecast_cli.status._event).
    return {
        "time": event.get("time"),
        "source": "notify",
        "event": event.get("detail-type"),
        "subject": summary,
        "status": detail.get("outcome"),
        "by": facts.get("approval_by"),
        "detail": None,
    }
