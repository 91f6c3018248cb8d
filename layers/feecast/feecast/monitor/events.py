"""The events monitoring reacts to, read into small domain changes (pure: no AWS calls).

The event details are feecast.events' models, times are read by feecast.times.parse_instant.
Tolerated forms (reference README caveats 4-6):
- endpoint events spell the status "IN_SERVICE" while DescribeEndpoint says "InService": both
  are read as feecast.events.EndpointStatus's spelling (upper snake case);
- "time" is ISO-8601 ("2019-10-02T17:04:40Z") or epoch milliseconds as a string
  ("1583831889050"); CreationTime / LastModifiedTime are epoch milliseconds as floats;
- alarm timestamps look like "2019-10-02T17:04:40.989+0000" and reasonData is JSON in a string;
- EventBridge Scheduler sends only the schedule's Input, in which the scheduled time was
  templated (<aws.scheduler.scheduled-time>).
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from feecast.events import (
    ALARM_DETAIL_TYPE,
    ENDPOINT_DETAIL_TYPE,
    AlarmDetail,
    EndpointDetail,
    EndpointStatus,
    EventError,
)
from feecast.events import status_spelling as normalise_status
from feecast.times import parse_instant

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


class Action(StrEnum):
    ACTIVATE = "activate"
    REPORT_FAILURE = "report_failure"
    DEACTIVATE = "deactivate"
    IGNORE = "ignore"


_ACTIONS = {
    EndpointStatus.IN_SERVICE: Action.ACTIVATE,
    EndpointStatus.FAILED: Action.REPORT_FAILURE,
    EndpointStatus.UPDATE_ROLLBACK_FAILED: Action.REPORT_FAILURE,
    EndpointStatus.DELETING: Action.DEACTIVATE,
    EndpointStatus.DELETED: Action.DEACTIVATE,
}


def action_for(status: str) -> Action:
    """What a status means for monitoring. CREATING / UPDATING / SYSTEM_UPDATING / ROLLING_BACK /
    OUT_OF_SERVICE change nothing: an updating endpoint still serves, and the IN_SERVICE that
    ends the change re-activates (and re-thresholds) monitoring."""
    known = EndpointStatus.parse(status)
    return Action.IGNORE if known is None else _ACTIONS.get(known, Action.IGNORE)


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


class _Envelope(BaseModel):
    """The EventBridge fields both rules' events share (the rest is ignored)."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    source: str = Field(min_length=1)
    detail_type: str = Field(alias="detail-type", min_length=1)
    time: Any = None  # ISO-8601 or epoch milliseconds as text: parse_instant reads both


class _EndpointEvent(_Envelope):
    detail: EndpointDetail


class _AlarmEvent(_Envelope):
    detail: AlarmDetail


_M = TypeVar("_M", bound=BaseModel)


def _validate(model: type[_M], data: Any, what: str) -> _M:
    """pydantic validation whose error names each field (EventError, never ValidationError)."""
    if not isinstance(data, dict):
        raise EventError(f"{what} must be an object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or what}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise EventError(f"invalid {what}: {problems}") from None


def _instant(raw: object, field: str) -> datetime:
    try:
        return parse_instant(raw)
    except EventError as exc:
        raise EventError(f"{field}: {exc}") from None


def _event(model: type[_M], event: Any, source: str, expected: str) -> _M:
    # The source and detail-type first, so another rule's event is named as such, not as a bad
    # detail (a rule never sends one: it was sent here by hand or by a wrong target).
    envelope = _validate(_Envelope, event, "event")
    if envelope.detail_type != expected:
        raise EventError(f"event detail-type is {envelope.detail_type!r}, expected {expected!r}")
    if envelope.source != source:
        raise EventError(f"event source is {envelope.source!r}, expected {source!r}")
    return _validate(model, event, "event")


def parse_endpoint_event(event: Any) -> EndpointChange:
    """A "SageMaker Endpoint State Change" envelope -> EndpointChange (EventError if malformed)."""
    parsed = _event(_EndpointEvent, event, "aws.sagemaker", ENDPOINT_DETAIL_TYPE)
    detail = parsed.detail
    modified = detail.LastModifiedTime
    if modified not in (None, ""):
        changed_at = _instant(modified, "detail.LastModifiedTime")
    else:
        changed_at = _instant(parsed.time, "time")
    reason = detail.FailureReason
    return EndpointChange(
        event_id=parsed.id or "",
        endpoint_name=detail.EndpointName,
        status=normalise_status(detail.EndpointStatus),
        raw_status=detail.EndpointStatus,
        changed_at=changed_at,
        endpoint_config_name=detail.EndpointConfigName or None,
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
    parsed = _event(_AlarmEvent, event, "aws.cloudwatch", ALARM_DETAIL_TYPE)
    detail, state = parsed.detail, parsed.detail.state
    data = _reason_data(state.reasonData)
    threshold = data.get("threshold")
    previous = detail.previousState
    return AlarmChange(
        event_id=parsed.id or "",
        alarm_name=detail.alarmName,
        state=state.value,
        previous_state=str(previous.get("value")) if isinstance(previous, dict) else None,
        transitioned_at=(
            _instant(state.timestamp, "detail.state.timestamp")
            if state.timestamp
            else _instant(parsed.time, "time")
        ),
        reason=state.reason,
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
    return _validate(MonitorRunRequest, event, "monitoring input")
