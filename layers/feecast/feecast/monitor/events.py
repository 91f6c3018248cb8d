"""The events monitoring reacts to, parsed into small models (pure: no AWS calls).

Tolerated forms (reference README caveats 4-6):
- endpoint events spell the status "IN_SERVICE" while DescribeEndpoint says "InService": both
  are normalised to upper snake case;
- "time" is ISO-8601 ("2019-10-02T17:04:40Z") or epoch milliseconds as a string
  ("1583831889050"); CreationTime / LastModifiedTime are epoch milliseconds as floats;
- alarm timestamps look like "2019-10-02T17:04:40.989+0000" and reasonData is JSON in a string;
- EventBridge Scheduler sends only the schedule's Input, in which the scheduled time was
  templated (<aws.scheduler.scheduled-time>).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "Action",
    "AlarmChange",
    "EndpointChange",
    "EventError",
    "MonitorRunRequest",
    "action_for",
    "normalise_status",
    "parse_alarm_event",
    "parse_endpoint_event",
    "parse_instant",
    "parse_run_request",
]

ENDPOINT_DETAIL_TYPE = "SageMaker Endpoint State Change"
ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z])(?=[A-Z])")
_EPOCH_MS_FLOOR = 1e11  # epoch values above this are milliseconds (any date after 1973)


class EventError(ValueError):
    """An event that is not what the rule promised; the message says which field and why."""


def parse_instant(raw: object) -> datetime:
    """ISO-8601 text (Z, +00:00 or +0000) or epoch seconds / milliseconds -> aware UTC datetime."""
    if isinstance(raw, datetime):
        if raw.tzinfo is None:
            raise EventError(f"time {raw.isoformat()} has no time zone")
        return raw.astimezone(UTC)
    if isinstance(raw, bool) or raw is None:
        raise EventError(f"time {raw!r} is not a timestamp")
    if isinstance(raw, int | float) or (isinstance(raw, str) and _is_number(raw)):
        value = float(raw)
        return datetime.fromtimestamp(value / 1000 if value > _EPOCH_MS_FLOOR else value, UTC)
    if not isinstance(raw, str):
        raise EventError(f"time {raw!r} is not a timestamp")
    try:
        ts = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise EventError(f"time {raw!r} is neither ISO-8601 nor epoch milliseconds") from None
    # EventBridge times are UTC; a zone-less ISO string is read as UTC too.
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def normalise_status(raw: str) -> str:
    """ "InService" / "IN_SERVICE" / "in_service" -> "IN_SERVICE"."""
    text = raw.strip()
    if not text:
        raise EventError("EndpointStatus is empty")
    return _CAMEL_BOUNDARY.sub("_", text).replace("-", "_").upper()


class Action(StrEnum):
    ACTIVATE = "activate"
    REPORT_FAILURE = "report_failure"
    DEACTIVATE = "deactivate"
    IGNORE = "ignore"


_ACTIONS = {
    "IN_SERVICE": Action.ACTIVATE,
    "FAILED": Action.REPORT_FAILURE,
    "UPDATE_ROLLBACK_FAILED": Action.REPORT_FAILURE,
    "DELETING": Action.DEACTIVATE,
    "DELETED": Action.DEACTIVATE,
}


def action_for(status: str) -> Action:
    """What a status means for monitoring. CREATING / UPDATING / SYSTEM_UPDATING / ROLLING_BACK /
    OUT_OF_SERVICE change nothing: an updating endpoint still serves, and the IN_SERVICE that
    ends the change re-activates (and re-thresholds) monitoring."""
    return _ACTIONS.get(normalise_status(status), Action.IGNORE)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EndpointChange(_Model):
    """One SageMaker endpoint state change."""

    event_id: str
    endpoint_name: str
    status: str  # normalised: IN_SERVICE, FAILED, ...
    raw_status: str
    changed_at: datetime  # LastModifiedTime when present, else the event's time
    endpoint_config_name: str | None = None
    failure_reason: str | None = None

    @property
    def action(self) -> Action:
        return action_for(self.status)

    @property
    def change_key(self) -> str:
        """Identifies the change, not the event: SageMaker may send several events for one."""
        return f"{self.endpoint_name}|{self.status}|{self.changed_at.isoformat()}"


def _require(mapping: Any, key: str, where: str) -> Any:
    if not isinstance(mapping, dict):
        raise EventError(f"{where} must be an object, got {type(mapping).__name__}")
    if key not in mapping or mapping[key] in (None, ""):
        raise EventError(f"{where}.{key} is missing")
    return mapping[key]


def _check_detail_type(event: Any, expected: str) -> dict[str, Any]:
    detail_type = _require(event, "detail-type", "event")
    if detail_type != expected:
        raise EventError(f"event detail-type is {detail_type!r}, expected {expected!r}")
    detail = _require(event, "detail", "event")
    if not isinstance(detail, dict):
        raise EventError("event.detail must be an object")
    return detail


def parse_endpoint_event(event: Any) -> EndpointChange:
    """A "SageMaker Endpoint State Change" envelope -> EndpointChange (EventError if malformed)."""
    detail = _check_detail_type(event, ENDPOINT_DETAIL_TYPE)
    name = _require(detail, "EndpointName", "detail")
    raw_status = _require(detail, "EndpointStatus", "detail")
    if not isinstance(name, str) or not isinstance(raw_status, str):
        raise EventError("detail.EndpointName and detail.EndpointStatus must be strings")
    modified = detail.get("LastModifiedTime")
    changed_at = parse_instant(modified if modified not in (None, "") else event.get("time"))
    reason = detail.get("FailureReason")
    return EndpointChange(
        event_id=str(event.get("id") or ""),
        endpoint_name=name,
        status=normalise_status(raw_status),
        raw_status=raw_status,
        changed_at=changed_at,
        endpoint_config_name=detail.get("EndpointConfigName") or None,
        failure_reason=str(reason) if reason else None,
    )


class AlarmChange(_Model):
    """One CloudWatch alarm state change."""

    event_id: str
    alarm_name: str
    state: str  # OK | ALARM | INSUFFICIENT_DATA
    previous_state: str | None
    transitioned_at: datetime  # detail.state.timestamp (same in every duplicate), else event time
    reason: str | None = None
    recent_datapoints: tuple[float, ...] = ()
    threshold: float | None = None

    @property
    def latest_value(self) -> float | None:
        return self.recent_datapoints[-1] if self.recent_datapoints else None


def _reason_data(raw: Any) -> dict[str, Any]:
    # reasonData is JSON inside a JSON string; it is informative only, so a bad one is ignored.
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str):
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _floats(raw: Any) -> tuple[float, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(float(v) for v in raw if isinstance(v, int | float) and not isinstance(v, bool))


def parse_alarm_event(event: Any) -> AlarmChange:
    """A "CloudWatch Alarm State Change" envelope -> AlarmChange (EventError if malformed)."""
    detail = _check_detail_type(event, ALARM_DETAIL_TYPE)
    name = _require(detail, "alarmName", "detail")
    state = _require(detail, "state", "detail")
    value = _require(state, "value", "detail.state")
    stamp = state.get("timestamp") or event.get("time")
    data = _reason_data(state.get("reasonData"))
    threshold = data.get("threshold")
    previous = detail.get("previousState")
    return AlarmChange(
        event_id=str(event.get("id") or ""),
        alarm_name=str(name),
        state=str(value),
        previous_state=str(previous.get("value")) if isinstance(previous, dict) else None,
        transitioned_at=parse_instant(stamp),
        reason=state.get("reason"),
        recent_datapoints=_floats(data.get("recentDatapoints")),
        threshold=float(threshold) if isinstance(threshold, int | float) else None,
    )


class MonitorRunRequest(_Model):
    """The hourly schedule's Input: which stage/endpoint, and the scheduled time as "now"."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    stage: str = Field(min_length=1)
    endpoint_name: str = Field(min_length=1)
    scheduled_time: datetime

    @field_validator("scheduled_time", mode="before")
    @classmethod
    def _instant(cls, value: Any) -> datetime:
        return parse_instant(value)


def parse_run_request(event: Any) -> MonitorRunRequest:
    """The schedule input -> MonitorRunRequest; a clear EventError when a field is wrong."""
    if not isinstance(event, dict):
        raise EventError(f"the monitoring input must be an object, got {type(event).__name__}")
    try:
        return MonitorRunRequest.model_validate(event)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'input'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise EventError(f"invalid monitoring input: {problems}") from None
