"""The per-minute series: one float per UTC minute, NaN where the minute has no value.

Every other module (DeepAR formats, metrics, baseline) works on this one shape, so the rules for
time zones, minute alignment and missing minutes live here and nowhere else.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from feecast.times import iso

__all__ = ["MINUTE", "MinuteSeries", "PointsReport", "floor_minute"]

MINUTE = timedelta(minutes=1)

FloatArray = npt.NDArray[np.float64]


def _require_aware(ts: datetime, what: str) -> datetime:
    # A naive datetime is ambiguous (local time? UTC?): refusing it avoids silent hour shifts.
    if not isinstance(ts, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(ts).__name__}")
    if ts.tzinfo is None or ts.tzinfo.utcoffset(ts) is None:
        raise ValueError(f"{what} {ts.isoformat()} is naive: give a timezone-aware datetime (UTC)")
    return ts.astimezone(UTC)


def floor_minute(ts: datetime) -> datetime:
    """The start of the UTC minute containing `ts` (which must be timezone-aware)."""
    ts = _require_aware(ts, "timestamp")
    return ts.replace(second=0, microsecond=0)


def _minutes_between(start: datetime, ts: datetime) -> int:
    # Both are UTC minute starts, so the difference is an exact number of minutes.
    return (ts - start) // MINUTE


@dataclass(frozen=True)
class PointsReport:
    """What `MinuteSeries.from_points` saw in its input.

    duplicates: points whose minute was already given (after flooring to the minute);
    conflicts: those duplicates whose value differed from the one already held (the last given
    value wins); out_of_range: points outside [start, end) that were dropped.
    """

    points: int
    duplicates: int
    conflicts: int
    out_of_range: int
    first_conflict: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "points": self.points,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "out_of_range": self.out_of_range,
            "first_conflict": None if self.first_conflict is None else iso(self.first_conflict),
        }


@dataclass(frozen=True, eq=False)
class MinuteSeries:
    """A regular per-minute series: `values[i]` belongs to the minute `start + i minutes`.

    `start` is a timezone-aware datetime on a minute boundary (stored in UTC); `values` is a
    read-only 1-D float64 array in which NaN marks a missing minute. `report` is set only by
    `from_points` (duplicates/conflicts seen while building); it takes no part in equality.
    """

    start: datetime
    values: FloatArray
    report: PointsReport | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        start = _require_aware(self.start, "start")
        if start.second or start.microsecond:
            raise ValueError(f"start {_iso_full(start)} is not on a minute boundary")
        values = np.array(self.values, dtype=np.float64, copy=True)
        if values.ndim != 1:
            raise ValueError(f"values must be 1-D, got shape {values.shape}")
        if np.isinf(values).any():
            # inf is never a fee; letting it through would poison every sum downstream.
            at = int(np.flatnonzero(np.isinf(values))[0])
            raise ValueError(f"values[{at}] is infinite ({start + at * MINUTE:%Y-%m-%dT%H:%MZ})")
        values.flags.writeable = False
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "values", values)

    # -- shape -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def end(self) -> datetime:
        """The first minute after the series (exclusive end)."""
        return self.start + len(self) * MINUTE

    @property
    def observed_count(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.values)))

    @property
    def missing_count(self) -> int:
        return len(self) - self.observed_count

    @property
    def last_observed(self) -> tuple[datetime, float] | None:
        """The last minute with a value and that value, or None if nothing is observed."""
        observed = np.flatnonzero(~np.isnan(self.values))
        if observed.size == 0:
            return None
        i = int(observed[-1])
        return self.start + i * MINUTE, float(self.values[i])

    def timestamps(self) -> list[datetime]:
        """The UTC minute start of every value."""
        return [self.start + i * MINUTE for i in range(len(self))]

    def points(self) -> Iterator[tuple[datetime, float | None]]:
        """(minute, value) pairs with None for missing minutes (the inverse of from_points)."""
        for i, v in enumerate(self.values.tolist()):
            yield self.start + i * MINUTE, (None if math.isnan(v) else v)

    def index_of(self, ts: datetime) -> int:
        """Position of the minute containing `ts` (may be outside 0..len-1)."""
        return _minutes_between(self.start, floor_minute(ts))

    # -- slicing -----------------------------------------------------------------------------
    @overload
    def __getitem__(self, key: int) -> float: ...
    @overload
    def __getitem__(self, key: slice) -> MinuteSeries: ...
    def __getitem__(self, key: int | slice) -> float | MinuteSeries:
        if isinstance(key, slice):
            first, stop, step = key.indices(len(self))
            if step != 1:
                # A stepped slice is no longer one value per minute.
                raise ValueError("MinuteSeries slices must have step 1")
            stop = max(stop, first)
            return MinuteSeries(self.start + first * MINUTE, self.values[first:stop])
        return float(self.values[key])

    def head(self, n: int) -> MinuteSeries:
        """The first n minutes (all of them if n >= len)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return self[:n]

    def tail(self, n: int) -> MinuteSeries:
        """The last n minutes (all of them if n >= len)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return self[len(self) - min(n, len(self)) :]

    def drop_last(self, n: int) -> MinuteSeries:
        """All but the last n minutes."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return self[: max(len(self) - n, 0)]

    def window(self, start: datetime, end: datetime) -> MinuteSeries:
        """Exactly the minutes [floor(start), floor(end)), NaN where outside this series.

        Flooring `end` excludes a minute still in progress when `end` is "now".
        """
        first = floor_minute(start)
        stop = floor_minute(end)
        if stop < first:
            raise ValueError(f"window end {iso(stop)} is before its start {iso(first)}")
        size = _minutes_between(first, stop)
        out = np.full(size, np.nan)
        offset = _minutes_between(self.start, first)
        lo, hi = max(offset, 0), min(offset + size, len(self))
        if lo < hi:
            out[lo - offset : hi - offset] = self.values[lo:hi]
        return MinuteSeries(first, out)

    # -- equality ----------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MinuteSeries):
            return NotImplemented
        return self.start == other.start and bool(
            np.array_equal(self.values, other.values, equal_nan=True)
        )

    def __hash__(self) -> int:
        return hash((self.start, len(self)))

    def __repr__(self) -> str:
        return (
            f"MinuteSeries(start={iso(self.start)}, len={len(self)}, "
            f"observed={self.observed_count})"
        )

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_points(
        cls,
        points: Iterable[tuple[datetime, float | None]],
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> MinuteSeries:
        """Build the regular series from (timestamp, value) points in any order.

        - each timestamp is floored to its UTC minute; naive timestamps raise ValueError;
        - every minute between start and end without a point is NaN (never dropped, never
          interpolated); None and NaN values are missing too;
        - the same minute given twice: identical values are harmless; different values are a
          conflict and the LAST one given (input order) wins. Counts are in `series.report`;
        - start/end (optional, floored to the minute, end exclusive) fix the range; points
          outside it are dropped and counted in `report.out_of_range`. Without them the range
          is the first to the last minute given.
        """
        lo = None if start is None else floor_minute(start)
        hi = None if end is None else floor_minute(end)
        if lo is not None and hi is not None and hi < lo:
            raise ValueError(f"end {iso(hi)} is before start {iso(lo)}")

        by_minute: dict[datetime, float] = {}
        given = duplicates = conflicts = out_of_range = 0
        first_conflict: datetime | None = None
        for ts, raw in points:
            given += 1
            minute = floor_minute(ts)
            value = _as_value(raw, minute)
            if (lo is not None and minute < lo) or (hi is not None and minute >= hi):
                out_of_range += 1
                continue
            if minute in by_minute:
                duplicates += 1
                held = by_minute[minute]
                if not (held == value or (math.isnan(held) and math.isnan(value))):
                    conflicts += 1
                    if first_conflict is None:
                        first_conflict = minute
            by_minute[minute] = value

        if lo is None:
            if not by_minute:
                raise ValueError(
                    "cannot build a series: no points in range and no start given "
                    "(pass start= to build an empty or all-missing series)"
                )
            lo = min(by_minute)
        if hi is None:
            hi = max(by_minute) + MINUTE if by_minute else lo

        values = np.full(_minutes_between(lo, hi), np.nan)
        if by_minute:
            idx = np.fromiter(
                (_minutes_between(lo, m) for m in by_minute), dtype=np.int64, count=len(by_minute)
            )
            values[idx] = np.fromiter(by_minute.values(), dtype=np.float64, count=len(by_minute))
        report = PointsReport(given, duplicates, conflicts, out_of_range, first_conflict)
        return cls(lo, values, report)


def _as_value(raw: object, minute: datetime) -> float:
    if raw is None:
        return math.nan
    if isinstance(raw, bool) or not isinstance(raw, int | float | np.integer | np.floating):
        raise ValueError(f"value at {iso(minute)} is not a number: {raw!r}")
    value = float(raw)
    if math.isinf(value):
        raise ValueError(f"value at {iso(minute)} is infinite")
    return value


def _iso_full(ts: datetime) -> str:
    return ts.isoformat()
