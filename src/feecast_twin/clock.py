"""The twin clock: every process of the twin lives at the twin's time, ticking at real speed.

`start()` sets the time to the start time; `jump(delta)` moves it forward at once (used by
Twin.advance(), which fires what fell due at each step); `stop()` returns to real time.
The time is shared through a mapped file (feecast_twin.procs.clock): the twin process, its
Lambda workers and its SageMaker containers all see the same datetime.now() / time.time(),
and a jump reaches them all at once. `env()` is what a child process needs to follow it.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from feecast_twin.procs.clock import CLOCK_ENV, SharedClock

#: Default start of the twin clock: a fixed Monday, so runs are reproducible.
DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)


class TwinClock:
    def __init__(self, start: datetime | None = None) -> None:
        start = start or DEFAULT_START
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self.start_time = start.astimezone(UTC)
        self._shared: SharedClock | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._shared is not None

    def start(self) -> None:
        if self._shared is not None:
            return
        shared = SharedClock()
        shared.set_time_ns(_epoch_ns(self.start_time))
        shared.start()
        self._shared = shared

    def stop(self) -> None:
        if self._shared is not None:
            self._shared.close()
        self._shared = None

    def env(self) -> dict[str, str]:
        """The environment entry that makes a child process follow this clock."""
        if self._shared is None:
            raise RuntimeError("the twin clock is not running (deploy the twin first)")
        return {CLOCK_ENV: str(self._shared.path)}

    def now(self) -> datetime:
        """The twin's current time, UTC, timezone-aware."""
        return datetime.now(UTC)

    def jump(self, delta: timedelta) -> datetime:
        """Move the clock forward by `delta` at once; returns the new now."""
        if delta < timedelta(0):
            raise ValueError("the twin clock only moves forward")
        with self._lock:
            if self._shared is None:
                raise RuntimeError("the twin clock is not running (deploy the twin first)")
            self._shared.shift_ns(_delta_ns(delta))
        return self.now()

    def jump_to(self, when: datetime) -> datetime:
        """Move the clock forward to `when` (no-op if it is already past)."""
        delta = when - self.now()
        if delta > timedelta(0):
            return self.jump(delta)
        return self.now()


def _delta_ns(delta: timedelta) -> int:
    return ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds) * 1_000


def _epoch_ns(moment: datetime) -> int:
    return _delta_ns(moment - datetime(1970, 1, 1, tzinfo=UTC))
