"""Twin.subscribe: callbacks on each record appended by twin.record (no deploy, no moto)."""

from __future__ import annotations

import logging
import threading

import pytest

from feecast_twin.core import Twin, TwinRecord


@pytest.fixture
def twin() -> Twin:
    return Twin()  # record() and subscribe() need no deployed stack


def test_each_record_reaches_the_callback_after_it_is_appended(twin: Twin) -> None:
    seen: list[tuple[TwinRecord, bool]] = []
    twin.subscribe(lambda record: seen.append((record, record in twin.records_of(record.kind))))

    twin.record("alarm", name="a", state="ALARM")
    twin.record("metric", name="m")

    assert [(r.kind, dict(r.fields), appended) for r, appended in seen] == [
        ("alarm", {"name": "a", "state": "ALARM"}, True),
        ("metric", {"name": "m"}, True),
    ]
    assert [r for r, _ in seen] == twin.records


def test_unsubscribe_stops_the_calls_of_that_subscription_only(twin: Twin) -> None:
    calls: list[str] = []

    def callback(record: TwinRecord) -> None:
        calls.append(record.kind)

    first = twin.subscribe(callback)
    twin.subscribe(callback)  # the same function twice: two subscriptions
    twin.record("one")
    first()
    first()  # a second call is harmless
    twin.record("two")

    assert calls == ["one", "one", "two"]


def test_a_failing_callback_is_logged_and_neither_the_recorder_nor_others_see_it(
    twin: Twin, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(record: TwinRecord) -> None:
        raise RuntimeError("subscriber bug")

    seen: list[str] = []
    twin.subscribe(broken)
    twin.subscribe(lambda record: seen.append(record.kind))

    with caplog.at_level(logging.ERROR, logger="feecast_twin"):
        twin.record("deploy", stack="x")  # does not raise

    assert seen == ["deploy"]
    assert [r.kind for r in twin.records] == ["deploy"]
    assert "subscriber bug" in caplog.text and "'deploy'" in caplog.text


def test_a_callback_may_record_and_read_the_timeline_itself(twin: Twin) -> None:
    """Called outside the records lock: recording from a callback does not deadlock."""

    def echo(record: TwinRecord) -> None:
        if record.kind == "ping":
            twin.record("pong", of=len(twin.records_of("ping")))

    twin.subscribe(echo)
    twin.record("ping")

    assert [(r.kind, dict(r.fields)) for r in twin.records] == [("ping", {}), ("pong", {"of": 1})]


def test_records_from_many_threads_each_reach_the_callback_once(twin: Twin) -> None:
    seen: list[TwinRecord] = []
    lock = threading.Lock()

    def collect(record: TwinRecord) -> None:
        with lock:
            seen.append(record)

    twin.subscribe(collect)

    def work(n: int) -> None:
        for i in range(250):
            twin.record("lambda", thread=n, i=i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(seen) == len(twin.records) == 1000
    assert {id(r) for r in seen} == {id(r) for r in twin.records}
