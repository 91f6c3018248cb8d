"""Timestamps as each AWS surface writes them, and a per-resource ordered event emitter."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


def _aware(ts: datetime) -> datetime:
    # moto stores naive UTC datetimes.
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def epoch_ms(ts: datetime) -> int:
    return round(_aware(ts).timestamp() * 1000)


def iso_z(ts: datetime) -> str:
    return _aware(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def convert_times(obj: Any, fmt: Callable[[datetime], Any]) -> Any:
    """A deep copy of `obj` with every datetime replaced by fmt(datetime)."""
    if isinstance(obj, datetime):
        return fmt(obj)
    if isinstance(obj, dict):
        return {k: convert_times(v, fmt) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [convert_times(v, fmt) for v in obj]
    return obj


def tags_map(tags: Any) -> dict[str, str]:
    """SageMaker's [{"Key", "Value"}] tags as the {key: value} map events carry."""
    if isinstance(tags, dict):
        return dict(tags)
    return {t["Key"]: t.get("Value", "") for t in tags or [] if isinstance(t, dict) and "Key" in t}


class OrderedEmitter:
    """Delivers events off the caller's thread, in order per resource, never blocking the caller.

    AWS delivers service events asynchronously; emitting from a moto request handler or a job
    thread must not wait for the rule targets (a state machine may run for a long time).
    """

    def __init__(self, deliver: Callable[[dict[str, Any]], None]) -> None:
        self._deliver = deliver
        self._lock = threading.Lock()
        self._queues: dict[str, deque[dict[str, Any]]] = {}
        self._threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def emit(self, key: str, event: dict[str, Any]) -> None:
        with self._lock:
            queue = self._queues.get(key)
            if queue is not None:  # a drainer is active for this resource: append in order
                queue.append(event)
                return
            self._queues[key] = deque([event])
            thread = threading.Thread(
                target=self._drain,
                args=(key,),
                name=f"twin-sagemaker-events-{key[-40:]}",
                daemon=True,
            )
            self._threads.append(thread)
        thread.start()

    def _drain(self, key: str) -> None:
        while True:
            with self._lock:
                queue = self._queues[key]
                if not queue:
                    del self._queues[key]
                    return
                event = queue.popleft()
            try:
                self._deliver(event)
            except BaseException as exc:  # kept and reported by busy()/errors, not swallowed
                self.errors.append(exc)

    def busy(self) -> bool:
        with self._lock:
            if self._queues:
                return True
            self._threads = [t for t in self._threads if t.is_alive()]
            return bool(self._threads)

    def join(self, timeout: float = 30.0) -> None:
        for thread in list(self._threads):
            thread.join(timeout)
