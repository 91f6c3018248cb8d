"""The one way feecast reads and writes instants (pure).

AWS sends times as ISO-8601 text ("2019-10-02T17:04:40Z", alarms "...40.989+0000") or as epoch
numbers (an event's `time` as epoch milliseconds in a string, CreationTime / LastModifiedTime as
epoch milliseconds in floats); the state table stores `iso()` text. Other inputs have their own
readers because their rules differ: DeepAR's zone-less "start" (feecast.deepar) and Parquet's
epoch-second write times (feecast.adapters.feature_history).
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["EventError", "iso", "parse_instant", "parse_optional_instant"]

_EPOCH_MS_FLOOR = 1e11  # epoch values above this are milliseconds (any date after 1973)


class EventError(ValueError):
    """An input (an event, a request) that is not what was promised; the message says which
    field and why. feecast.events re-exports it: the name handlers and tests know."""


def iso(ts: datetime) -> str:
    """`2026-01-05T10:15:00Z`: whole seconds, UTC (a naive time is taken as UTC)."""
    return (ts if ts.tzinfo is None else ts.astimezone(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        try:
            return datetime.fromtimestamp(value / 1000 if value > _EPOCH_MS_FLOOR else value, UTC)
        except (OverflowError, OSError, ValueError):  # out of datetime's range, NaN
            raise EventError(f"time {raw!r} is out of range") from None
    if not isinstance(raw, str):
        raise EventError(f"time {raw!r} is not a timestamp")
    try:
        ts = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise EventError(f"time {raw!r} is neither ISO-8601 nor epoch milliseconds") from None
    # EventBridge times are UTC; a zone-less ISO string is read as UTC too.
    try:
        return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted out of range
        raise EventError(f"time {raw!r} is out of range") from None


def parse_optional_instant(raw: object) -> datetime | None:
    """parse_instant for a field that may be absent (None or "" -> None). A zone-less datetime
    is an envelope `time` pydantic read from zone-less text: UTC, like the text."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, datetime) and raw.tzinfo is None:
        return raw.replace(tzinfo=UTC)
    return parse_instant(raw)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
