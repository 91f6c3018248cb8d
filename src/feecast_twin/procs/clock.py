"""One simulated clock for every process of the twin.

The twin's time is real time plus an offset. The offset (nanoseconds, signed 64-bit) lives in a
small file that every process maps into memory: the twin process writes it when the clock
starts or jumps, and each process it starts (Lambda workers, SageMaker containers) reads it on
every clock call. time-machine patches time.time / datetime.now / ... in C and asks the top
traveller of `time_machine.traveller_stack` for the time, so a traveller that reads the mapped
offset makes a jump visible to every process at once, with no message to send. Monotonic
clocks are not patched: timeouts and deadlines stay in real time.

This module is the twin's own bootstrap code: product code never imports it.
"""

from __future__ import annotations

import mmap
import os
import struct
import tempfile
import time
from pathlib import Path

import _time_machine
import time_machine

#: Environment variable through which a child process learns the clock file.
CLOCK_ENV = "FEECAST_TWIN_CLOCK"

_FORMAT = "<q"
_SIZE = struct.calcsize(_FORMAT)


class _SharedTraveller(time_machine.Traveller):
    """time-machine's traveller, reading its offset from the mapped clock file."""

    def __init__(self, view: mmap.mmap) -> None:
        super().__init__(0, None, tick=True)
        self._view = view

    def time_ns(self) -> int:
        offset: int = struct.unpack_from(_FORMAT, self._view, 0)[0]
        now: int = _time_machine.original_time_ns()
        return now + offset

    def shift(self, delta: object) -> None:  # pragma: no cover - a programming error
        raise RuntimeError("the twin clock moves through SharedClock.jump, not shift()")


class SharedClock:
    """The twin process's side: owns the clock file, moves the offset, travels itself too."""

    def __init__(self) -> None:
        fd, name = tempfile.mkstemp(prefix="feecast-twin-clock-")
        os.write(fd, b"\0" * _SIZE)
        self.path = Path(name)
        self._fd = fd
        self._view = mmap.mmap(fd, _SIZE)
        self._travel: time_machine.travel | None = None

    @property
    def offset_ns(self) -> int:
        value: int = struct.unpack_from(_FORMAT, self._view, 0)[0]
        return value

    def set_time_ns(self, when_ns: int) -> None:
        """Make "now" equal `when_ns` (epoch nanoseconds) in every process."""
        self._write(when_ns - _real_time_ns())

    def shift_ns(self, delta_ns: int) -> None:
        self._write(self.offset_ns + delta_ns)

    def _write(self, offset: int) -> None:
        struct.pack_into(_FORMAT, self._view, 0, offset)

    def start(self) -> None:
        """Travel this process too (time-machine), following the shared offset."""
        if self._travel is None:
            self._travel = _install(self._view)

    def close(self) -> None:
        if self._travel is not None:
            self._travel.stop()
            self._travel = None
        self._view.close()
        os.close(self._fd)
        self.path.unlink(missing_ok=True)


def _real_time_ns() -> int:
    try:
        now: int = _time_machine.original_time_ns()  # while travelling: the real clock
    except ValueError:  # not travelling: time.time_ns() is the real clock
        now = time.time_ns()
    return now


def _install(view: mmap.mmap) -> time_machine.travel:
    travel = time_machine.travel(0, tick=True)
    travel.start()
    # The traveller time-machine just pushed answers with a fixed offset; ours reads the file.
    time_machine.traveller_stack[-1] = _SharedTraveller(view)
    return travel


def follow_shared_clock(path: str) -> None:
    """A child process's side: from now on this process lives at the twin's time."""
    with open(path, "rb") as handle:
        view = mmap.mmap(handle.fileno(), _SIZE, access=mmap.ACCESS_READ)
    _install(view)


def follow_from_environment() -> None:
    """Called first thing by every bootstrap the twin starts; removes the variable, so the code
    the process runs sees the environment it would see on AWS."""
    path = os.environ.pop(CLOCK_ENV, None)
    if path:
        follow_shared_clock(path)
