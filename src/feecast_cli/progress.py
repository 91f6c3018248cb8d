"""Progress of the commands that wait, on stderr (stdout stays clean for `--json`).

A line per state change with the elapsed time (`[  12.3 s] build: Prepare The Data`). On a
terminal a spinner also turns on one line between changes, so a long step shows it is alive;
piped or captured, only the plain lines are written (logs and CI stay readable).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

_SPINNER = "|/-\\"


def human(value: float | int | str | None, digits: int = 4) -> str:
    """A number as a person reads it: `digits` significant digits (whole numbers from 1000 on,
    with thousands separators), never a 17-digit float."""
    if value is None or value == "":
        return "-"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if abs(number) >= 1000:
        return f"{round(number):,}"
    if number.is_integer():
        return str(int(number))
    return f"{number:.{digits}g}"


class Progress:
    """Reports a waiting command's state changes; `tick()` between polls animates a terminal."""

    def __init__(
        self, what: str, stream: TextIO | None = None, clock: object = time.monotonic
    ) -> None:
        self.what = what
        self.stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._started = self._now()
        self._last: str | None = None
        self._spun = 0
        self._spinning = False
        isatty = getattr(self.stream, "isatty", None)
        self.interactive = bool(isatty and isatty())

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]

    @property
    def elapsed(self) -> float:
        return self._now() - self._started

    def _clear(self) -> None:
        if self._spinning:
            self.stream.write("\r\033[K")
            self._spinning = False

    def update(self, state: str) -> None:
        """Print `state` when it differs from the last one printed."""
        if state == self._last:
            self.tick()
            return
        self._last = state
        self._clear()
        self.stream.write(f"[{self.elapsed:7.1f} s] {self.what}: {state}\n")
        self.stream.flush()

    def tick(self) -> None:
        """On a terminal, turn the spinner; elsewhere nothing (no line without a change)."""
        if not self.interactive:
            return
        self._spun += 1
        mark = _SPINNER[self._spun % len(_SPINNER)]
        self.stream.write(f"\r{mark} {self.what}: {self._last or 'waiting'} ({self.elapsed:.0f} s)")
        self.stream.flush()
        self._spinning = True

    def pause(self, seconds: float) -> None:
        """Wait between two polls of AWS, turning the spinner on a terminal."""
        step = 0.25 if self.interactive else seconds
        end = self._now() + seconds
        while (left := end - self._now()) > 0:
            time.sleep(min(step, left))
            self.tick()

    def done(self, state: str) -> None:
        self._last = None
        self.update(state)
