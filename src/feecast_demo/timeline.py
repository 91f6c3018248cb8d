"""The demo's live timeline: the twin's records as readable lines, with the simulated time.

    timeline = Timeline(twin)          # prints each new twin record, and the SNS topic's messages
    timeline.start()
    timeline.note("phase", "Build the first model")
    ...
    timeline.stop()

`describe(record)` (pure) turns one TwinRecord into a line, or None for the chatter a person
does not need (every-minute schedules, rule matches, successful Lambda calls, metrics).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TextIO

#: Friendly names of the state machines (logical ids as the twin records them).
MACHINES = {"ModelBuildStateMachine": "build", "ModelDeployStateMachine": "deploy"}
#: A schedule firing more often than this is not shown (the per-minute collector).
QUIET_SCHEDULE = timedelta(minutes=30)


class Describer:
    """Stateful filter: repeats of the same status and frequent schedules are dropped."""

    def __init__(self, verbose: bool = False) -> None:
        self.verbose = verbose
        self._last_status: dict[tuple[str, str], str] = {}
        self._last_fired: dict[str, datetime] = {}

    def __call__(self, kind: str, fields: dict[str, Any], when: datetime) -> tuple[str, str] | None:
        """(tag, text) for a record worth showing, else None."""
        f = fields
        if kind == "execution-started":
            sm = MACHINES.get(str(f.get("state_machine")), str(f.get("state_machine")))
            return sm, f"{sm} execution started: {f.get('name')}"
        if kind == "execution-ended":
            sm = MACHINES.get(str(f.get("state_machine")), str(f.get("state_machine")))
            name = str(f.get("execution_arn", "")).rsplit(":", 1)[-1]
            text = f"{sm} execution {str(f.get('status', '?')).lower()}: {name}"
            if f.get("status") != "SUCCEEDED" and (f.get("error") or f.get("cause")):
                text += f" ({f.get('error') or ''}: {_short(f.get('cause'))})"
            return sm, text
        if kind in ("training-job", "transform-job", "endpoint", "model-package"):
            name = str(f.get("name") or f.get("arn") or "?")
            status = str(f.get("status"))
            if self._last_status.get((kind, name)) == status and not self.verbose:
                return None
            self._last_status[(kind, name)] = status
            tag = {"training-job": "train", "transform-job": "forecast"}.get(
                kind, kind.split("-")[0]
            )
            if kind == "model-package":
                version = name.rsplit("/", 1)[-1]
                changed = f.get("updated_fields")
                return "registry", f"model package v{version}: {status}" + (
                    f" ({', '.join(changed)} changed)" if changed and self.verbose else ""
                )
            text = f"{kind.replace('-', ' ')} {name}: {status}"
            if f.get("failure_reason"):
                text += f" ({_short(f.get('failure_reason'))})"
            return tag, text
        if kind == "alarm":
            return "alarm", (
                f"alarm {f.get('name')}: {f.get('previous')} -> {f.get('state')}"
                + (f" ({_short(f.get('reason'), 110)})" if f.get("state") == "ALARM" else "")
            )
        if kind == "lambda":
            if f.get("errored"):
                return "error", (
                    f"{f.get('function')} failed: {f.get('error_type')}: {_short(f.get('error_message'))}"
                )
            return ("lambda", f"{f.get('function')} ran") if self.verbose else None
        if kind == "schedule-fired":
            name = str(f.get("name") or f.get("schedule") or f.get("rule"))
            last = self._last_fired.get(name)
            self._last_fired[name] = when
            if not self.verbose and last is not None and when - last < QUIET_SCHEDULE:
                return None
            return "schedule", f"schedule {name} fired for {f.get('scheduled_time')}"
        if kind == "target-invoked" and f.get("status") == "FAILED":
            return (
                "error",
                f"target {f.get('target')} of {f.get('rule')} failed: {_short(f.get('error'))}",
            )
        if kind in ("feature-store-error", "alarm-skipped"):
            return "error", f"{kind}: {_short(f.get('error') or f.get('reason'))}"
        if self.verbose and kind not in ("metric",):
            return kind, f"{kind} {_short(str(f), 120)}"
        return None


def _short(text: Any, limit: int = 160) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_line(sim: datetime, wall: float, tag: str, text: str) -> str:
    minutes, seconds = divmod(int(wall), 60)
    return f"{sim:%m-%d %H:%M} UTC  {minutes:>3}:{seconds:02d}  {tag:<9} {text}"


class Timeline:
    """Prints a twin's records (and its notification topic) as they happen.

    Subscribed to the twin (`twin.subscribe`): each new record flushes, on the thread that
    recorded it. A flush reads `twin.records` from where the last one stopped, under the
    timeline's lock, so lines keep the timeline's order and each record is printed once
    whichever thread recorded it. Notifications are no records: every flush (a record, a note,
    stop) also prints the messages that reached the topic since the last one."""

    def __init__(
        self,
        twin: Any,
        *,
        out: TextIO | None = None,
        verbose: bool = False,
        wall: Callable[[], float] | None = None,
        topic: str = "NotificationTopic",
    ) -> None:
        self.twin = twin
        self.out = out or sys.stdout
        self.describe = Describer(verbose)
        started = time.monotonic()
        self.wall = wall or (lambda: time.monotonic() - started)
        self.topic = topic
        self.lines: list[str] = []
        self._seen_records = 0
        self._seen_sns = 0
        self._lock = threading.RLock()
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> Timeline:
        with self._lock:  # a record arriving meanwhile waits, then prints from here on
            self._seen_records = len(self.twin.records)
            self._seen_sns = len(self._sns())
            self._unsubscribe = self.twin.subscribe(self._on_record)
        return self

    def stop(self) -> None:
        with self._lock:
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None
        self.flush()

    def note(self, tag: str, text: str) -> None:
        """A line from the demo itself (a phase starting, an operator command)."""
        with self._lock:
            self.flush()
            self._emit(self.twin.clock.now(), tag, text)

    def flush(self) -> None:
        with self._lock:
            records = self.twin.records[self._seen_records :]
            self._seen_records += len(records)
            for record in records:
                try:
                    shown = self.describe(record.kind, dict(record.fields), record.time)
                except Exception as exc:  # a strange record must not stop the demo
                    shown = ("?", f"{record.kind}: {exc}")
                if shown:
                    self._emit(record.time, *shown)
            messages = self._sns()
            for message in messages[self._seen_sns :]:
                subject = message.get("subject") or _short(message.get("message"), 100)
                self._emit(self.twin.clock.now(), "notify", f"notification: {subject}")
            self._seen_sns = len(messages)

    def _on_record(self, record: Any) -> None:
        if self._unsubscribe is None:  # stopped while this record was on its way
            return
        try:
            self.flush()
        except Exception as exc:  # keep following; never fail the recording thread
            print(f"timeline: {exc}", file=sys.stderr)

    def _sns(self) -> list[dict[str, Any]]:
        try:
            return list(self.twin.sns_messages(self.topic))
        except Exception:
            return []

    def _emit(self, when: datetime, tag: str, text: str) -> None:
        line = format_line(when, self.wall(), tag, text)
        self.lines.append(line)
        print(line, file=self.out, flush=True)
