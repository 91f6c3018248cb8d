"""The twin clock: the whole process lives at the twin's time (time-machine), ticking at real speed.

`start()` travels the process to the start time; `jump(delta)` moves it forward at once (used by
Twin.advance(), which fires what fell due at each step); `stop()` returns to real time.
Handlers, moto and boto3 all see the travelled time through datetime.now() / time.time().
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import time_machine

#: Default start of the twin clock: a fixed Monday, so runs are reproducible.
DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)


class TwinClock:
    def __init__(self, start: datetime | None = None) -> None:
        start = start or DEFAULT_START
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self.start_time = start.astimezone(UTC)
        self._traveller: time_machine.travel | None = None
        self._coordinates: time_machine.Traveller | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._coordinates is not None

    def start(self) -> None:
        if self._coordinates is not None:
            return
        self._traveller = time_machine.travel(self.start_time, tick=True)
        self._coordinates = self._traveller.start()

    def stop(self) -> None:
        if self._traveller is not None:
            self._traveller.stop()
        self._traveller = None
        self._coordinates = None

    def now(self) -> datetime:
        """The twin's current time, UTC, timezone-aware."""
        return datetime.now(UTC)

    def jump(self, delta: timedelta) -> datetime:
        """Move the clock forward by `delta` at once; returns the new now."""
        if delta < timedelta(0):
            raise ValueError("the twin clock only moves forward")
        with self._lock:
            if self._coordinates is None:
                raise RuntimeError("the twin clock is not running (deploy the twin first)")
            self._coordinates.shift(delta)
        return self.now()

    def jump_to(self, when: datetime) -> datetime:
        """Move the clock forward to `when` (no-op if it is already past)."""
        delta = when - self.now()
        if delta > timedelta(0):
            return self.jump(delta)
        return self.now()
