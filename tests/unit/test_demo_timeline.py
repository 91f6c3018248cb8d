"""The demo's timeline lines and its synthetic feed (pure: no twin, no moto)."""

from __future__ import annotations

import io
import json
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from feecast_demo.feed import SyntheticFeed
from feecast_demo.timeline import Describer, Timeline, format_line

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def test_executions_jobs_alarms_and_failures_are_shown() -> None:
    d = Describer()

    assert d(
        "execution-started", {"state_machine": "ModelBuildStateMachine", "name": "manual-1"}, T0
    ) == (
        "build",
        "build execution started: manual-1",
    )
    _, text = d(
        "execution-ended",
        {
            "state_machine": "ModelBuildStateMachine",
            "execution_arn": "arn:x:manual-1",
            "status": "FAILED",
            "error": "ModelRejected",
            "cause": "mean wQL 0.38 > threshold 0.24",
        },
        T0,
    )
    assert "failed: manual-1 (ModelRejected: mean wQL 0.38 > threshold 0.24)" in text
    assert d("alarm", {"name": "a", "previous": "OK", "state": "ALARM", "reason": "3 of 3"}, T0)[
        1
    ] == ("alarm a: OK -> ALARM (3 of 3)")
    assert d(
        "lambda", {"function": "F", "errored": True, "error_type": "E", "error_message": "m"}, T0
    ) == (
        "error",
        "F failed: E: m",
    )


def test_chatter_is_hidden_unless_verbose() -> None:
    d = Describer()
    assert d("lambda", {"function": "F", "errored": False}, T0) is None
    assert d("rule-matched", {"rule": "r"}, T0) is None
    assert d("metric", {"name": "x"}, T0) is None
    # The same endpoint status twice is said once.
    assert d("endpoint", {"name": "e", "status": "Creating"}, T0) is not None
    assert d("endpoint", {"name": "e", "status": "Creating"}, T0) is None
    assert Describer(verbose=True)("lambda", {"function": "F", "errored": False}, T0) == (
        "lambda",
        "F ran",
    )


def test_an_every_minute_schedule_is_shown_once_an_hourly_one_every_time() -> None:
    d = Describer()
    fired = [
        d("schedule-fired", {"name": "collector", "scheduled_time": "t"}, T0 + timedelta(minutes=m))
        for m in range(5)
    ]
    assert [f is not None for f in fired] == [True, False, False, False, False]
    hourly = [
        d("schedule-fired", {"name": "monitoring", "scheduled_time": "t"}, T0 + timedelta(hours=h))
        for h in range(3)
    ]
    assert all(h is not None for h in hourly)


@dataclass
class _Record:
    time: datetime
    kind: str
    fields: dict[str, Any] = field(default_factory=dict)


class _Clock:
    def now(self) -> datetime:
        return T0


class _FakeTwin:
    """Twin.record / subscribe as the twin does them: append under a lock, then call the
    subscribers outside it, on the recording thread."""

    def __init__(self) -> None:
        self.records: list[_Record] = []
        self.clock = _Clock()
        self.messages: list[dict[str, Any]] = []
        self.subscribers: list[Callable[[Any], None]] = []
        self._lock = threading.Lock()

    def record(self, record: _Record) -> None:
        with self._lock:
            self.records.append(record)
            subscribers = list(self.subscribers)
        for callback in subscribers:
            callback(record)

    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        self.subscribers.append(callback)
        return lambda: self.subscribers.remove(callback)

    def sns_messages(self, topic: str) -> list[dict[str, Any]]:
        return self.messages


def test_the_timeline_prints_new_records_and_notifications_once() -> None:
    twin, out = _FakeTwin(), io.StringIO()
    twin.records.append(_Record(T0, "execution-started", {"state_machine": "X", "name": "old"}))
    timeline = Timeline(twin, out=out, wall=lambda: 65.0).start()
    twin.record(
        _Record(T0, "execution-started", {"state_machine": "ModelDeployStateMachine", "name": "v1"})
    )
    twin.messages.append({"subject": "feecast: approve model v1 for production?", "message": "..."})
    timeline.note("phase", "== Deploy")
    timeline.stop()

    lines = out.getvalue().splitlines()
    assert lines == [
        format_line(T0, 65.0, "deploy", "deploy execution started: v1"),
        format_line(T0, 65.0, "notify", "notification: feecast: approve model v1 for production?"),
        format_line(T0, 65.0, "phase", "== Deploy"),
    ]
    assert lines[0].startswith("01-05 12:00 UTC    1:05  deploy")
    twin.record(_Record(T0, "execution-started", {"state_machine": "X", "name": "after-stop"}))
    assert len(out.getvalue().splitlines()) == 3  # stopped: no longer follows


def test_a_record_is_printed_when_it_is_recorded_without_waiting_for_a_flush() -> None:
    twin, out = _FakeTwin(), io.StringIO()
    timeline = Timeline(twin, out=out, wall=lambda: 0.0).start()
    twin.messages.append({"subject": "build failed", "message": "..."})
    twin.record(_Record(T0, "alarm", {"name": "a", "previous": "ALARM", "state": "OK"}))
    assert out.getvalue().splitlines() == [
        format_line(T0, 0.0, "alarm", "alarm a: ALARM -> OK"),
        format_line(T0, 0.0, "notify", "notification: build failed"),
    ]
    timeline.stop()


def test_records_from_many_threads_are_printed_once_each_in_timeline_order() -> None:
    twin, out = _FakeTwin(), io.StringIO()
    timeline = Timeline(twin, out=out, wall=lambda: 0.0, verbose=True).start()

    def work(thread: int) -> None:
        for i in range(200):
            twin.record(_Record(T0, "lambda", {"function": f"F{thread}-{i}", "errored": False}))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    timeline.stop()

    printed = [line.rsplit(" ", 2)[-2] for line in out.getvalue().splitlines()]
    assert printed == [record.fields["function"] for record in twin.records]
    assert len(printed) == 800


def test_the_feed_serves_the_last_minutes_in_blockchain_info_format() -> None:
    now = [T0]
    feed = SyntheticFeed(
        seed=1, rate_per_second=1.0, now=lambda: now[0], lookback_seconds=120
    ).start()
    try:
        with urllib.request.urlopen(feed.url, timeout=5) as response:
            body = json.loads(response.read())
    finally:
        feed.stop()
    txs = body["txs"]
    assert 60 < len(txs) < 200  # about 2 minutes at 1 tx/s
    assert {"hash", "fee", "size", "weight", "time"} <= set(txs[0])
    times = [tx["time"] for tx in txs]
    assert times == sorted(times, reverse=True)  # newest first, as blockchain.info lists them
    assert T0.timestamp() - 120 < min(times) and max(times) <= T0.timestamp()


def test_the_regime_change_climbs_per_hour_then_holds() -> None:
    feed = SyntheticFeed(seed=3, rate_per_second=2.0, now=lambda: T0)
    before = feed.recent(T0 + timedelta(minutes=50))
    feed.set_regime_change(T0 + timedelta(minutes=10), 2.0, steps=2)  # rounded up to 13:00

    assert feed.regime_change_at == T0 + timedelta(hours=1)
    assert [feed.factor(T0 + timedelta(hours=h)) for h in range(5)] == [1.0, 2.0, 4.0, 4.0, 4.0]
    assert feed.recent(T0 + timedelta(minutes=50)) == before  # the past is unchanged

    def median_fee(hour: int) -> float:
        fees = sorted(
            tx["fee"] / tx["size"] for tx in feed.recent(T0 + timedelta(hours=hour, minutes=30))
        )
        return fees[len(fees) // 2]

    assert 2.5 < median_fee(3) / median_fee(0) < 6.5
