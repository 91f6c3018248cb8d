"""Ingestion pipeline: dedup, event-time minutes, watermark, late and empty minutes, outages.

Pure: the store and the feature store are the in-memory implementations (same conditional
semantics as the DynamoDB adapter), the HTTP transport is a fake, sleeping is recorded.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from feecast.ingest.model import MinuteRecord, Transaction, minute_id
from feecast.ingest.pipeline import (
    IngestConflict,
    RetryPolicy,
    RunPlan,
    close_minutes,
    ingest_transactions,
    last_closable_minute,
    run_ingest,
)
from feecast.ingest.sources import (
    BlockchainInfoSource,
    MempoolSpaceSource,
    PollResult,
    SourceUnavailable,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from feecast_testing.ingest_memory import InMemoryIngestStore, InMemorySink, minutes_of

T0 = int(datetime(2026, 1, 5, 12, 0, tzinfo=UTC).timestamp())  # a minute start


def tx(n: int, second: int, fee: int = 1000) -> dict[str, object]:
    """A blockchain.info transaction `n`, stamped `second` seconds after T0."""
    return {"hash": f"{n:064x}", "fee": fee, "size": 250, "weight": 661, "time": T0 + second}


def body(*txs: dict[str, object]) -> bytes:
    return json.dumps({"txs": list(txs)}).encode()


@dataclass
class FakeTransport:
    """Answers each GET with the next item: bytes, or an exception to raise."""

    answers: list[bytes | Exception]
    calls: int = 0

    def get(self, url: str, timeout: float) -> bytes:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        if isinstance(answer, Exception):
            raise answer
        return answer


@dataclass
class Clock:
    now: float = float(T0)
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def run(source, store, sink, clock=None, **plan):
    clock = clock or Clock()
    plan.setdefault("polls", 1)
    plan.setdefault("interval_seconds", 0)
    return run_ingest(source, store, sink, RunPlan(**plan), clock=clock, sleeper=clock.sleep)


def counted(store: InMemoryIngestStore, second: int) -> tuple[int, int]:
    state = store.minutes[T0 + second - (T0 + second) % 60]
    return state.count, state.total_fee


def test_duplicates_across_polls_and_invocations_count_once():
    """Given overlapping polls (the source returns its last N transactions each time),
    when two runs poll it, then every transaction counts once and the repeats are reported."""
    transport = FakeTransport(
        [body(tx(1, 5), tx(2, 6)), body(tx(2, 6), tx(3, 7)), body(tx(3, 7), tx(1, 5))]
    )
    source = BlockchainInfoSource(transport=transport)
    store, sink = InMemoryIngestStore(), InMemorySink()

    first = run(source, store, sink, polls=2)
    second = run(source, store, sink, polls=1)

    assert (first.transactions_polled, first.accepted, first.duplicates_dropped) == (4, 3, 1)
    assert (second.accepted, second.duplicates_dropped) == (0, 2)
    assert counted(store, 0) == (3, 3000)


def test_repeats_inside_one_answer_count_once():
    source = BlockchainInfoSource(transport=FakeTransport([body(tx(1, 5), tx(1, 5), tx(2, 9))]))
    store = InMemoryIngestStore()
    report = run(source, store, InMemorySink())
    assert (report.accepted, report.duplicates_dropped) == (2, 1)


def test_each_transaction_counts_in_the_minute_of_its_own_timestamp():
    """Given one poll holding transactions of three minutes, out of order,
    then each minute gets its own (not the poll minute)."""
    source = BlockchainInfoSource(
        transport=FakeTransport([body(tx(1, 125, 30), tx(2, 5, 10), tx(3, 70, 20), tx(4, 59, 5))])
    )
    store = InMemoryIngestStore()
    clock = Clock(now=T0 + 130)
    run(source, store, InMemorySink(), clock=clock)
    assert counted(store, 0) == (2, 15)
    assert counted(store, 60) == (1, 20)
    assert counted(store, 120) == (1, 30)


def test_a_minute_closes_only_after_its_end_plus_the_watermark():
    assert last_closable_minute(T0 + 120, 60) == T0  # 12:00 ends 12:01, + 60 s = 12:02
    assert last_closable_minute(T0 + 119, 60) == T0 - 60
    assert last_closable_minute(T0 + 90, 30) == T0


def test_closed_minutes_are_written_once_and_empty_minutes_are_written_as_such():
    """Given transactions in 12:00 and 12:03 only, when the closer runs at 12:05,
    then 12:00..12:03 are written once each, 12:01 and 12:02 with count 0 and no average."""
    store, sink = InMemoryIngestStore(), InMemorySink()
    ingest_transactions(
        [
            Transaction("a", 100, T0 + 1),
            Transaction("b", 300, T0 + 2),
            Transaction("c", 50, T0 + 185),
        ],
        store,
        expires_at=0,
    )
    closed, last = close_minutes(store, sink, now=T0 + 300, watermark_seconds=60, expires_at=0)
    assert (closed, last) == (4, T0 + 180)
    assert [(r.tx_minute, r.count, r.total_fee, r.avg_fee) for r in sink.puts] == [
        ("2026-01-05T12:00:00Z", 2, 400, 200.0),
        ("2026-01-05T12:01:00Z", 0, 0, None),
        ("2026-01-05T12:02:00Z", 0, 0, None),
        ("2026-01-05T12:03:00Z", 1, 50, 50.0),
    ]
    names = {f["FeatureName"] for f in sink.puts[1].to_features()}
    assert "avg_fee_1min" not in names and "total_nb_trx_1min" in names

    # Later runs walk on from the cursor: nothing is written twice, gaps keep being filled.
    assert close_minutes(store, sink, now=T0 + 300, watermark_seconds=60, expires_at=0) == (
        0,
        T0 + 180,
    )
    assert close_minutes(store, sink, now=T0 + 360, watermark_seconds=60, expires_at=0) == (
        1,
        T0 + 240,
    )
    assert len(sink.puts) == 5


def test_late_transactions_are_counted_once_and_never_change_a_written_minute():
    """Given 12:00 closed and written, when a transaction of 12:00 arrives (twice),
    then it is late once, the record is not rewritten, and it is remembered."""
    store, sink = InMemoryIngestStore(), InMemorySink()
    ingest_transactions([Transaction("a", 100, T0 + 1)], store, expires_at=0)
    close_minutes(store, sink, now=T0 + 120, watermark_seconds=60, expires_at=0)

    first = ingest_transactions([Transaction("late", 999, T0 + 30)], store, expires_at=0)
    again = ingest_transactions([Transaction("late", 999, T0 + 30)], store, expires_at=0)

    assert (first.late, first.accepted) == (1, 0)
    assert (again.late, again.duplicates) == (0, 1)
    assert store.minutes[T0].count == 1 and [r.count for r in sink.puts] == [1]


def test_late_transaction_for_a_minute_without_item_before_the_cursor():
    """Given the cursor past a minute whose item is gone (TTL), its transactions are late."""
    store = InMemoryIngestStore(last_closed=T0 + 600)
    counts = ingest_transactions([Transaction("old", 5, T0 + 3)], store, expires_at=0)
    assert counts.late == 1 and T0 not in store.minutes


def test_late_metric_reported_by_a_run():
    """Given the collector closed 12:00 at 12:02, when the next run polls a 12:00 transaction,
    then the run reports it in LateTransactions."""
    store, sink = InMemoryIngestStore(), InMemorySink()
    early = BlockchainInfoSource(transport=FakeTransport([body(tx(1, 10))]))
    run(early, store, sink, close_at=T0 + 120)
    late = BlockchainInfoSource(transport=FakeTransport([body(tx(1, 10), tx(2, 50))]))
    report = run(late, store, sink, close_at=T0 + 180)
    assert report.metric_values()["LateTransactions"] == 1
    assert report.duplicates_dropped == 1
    assert (report.minutes_closed, report.minutes_written) == (1, 1)
    assert [r.count for r in sink.puts] == [1, 0]  # 12:00 then the empty 12:01


def test_a_crash_after_closing_writes_the_same_record_again_and_only_then_marks_it():
    """Given the feature store fails once, when the closer is retried,
    then the minute is put again with identical content, then never again."""

    class FlakySink(InMemorySink):
        fail = True

        def put_minute(self, record: MinuteRecord) -> None:
            if self.fail:
                self.fail = False
                raise RuntimeError("PutRecord throttled")
            super().put_minute(record)

    store, sink = InMemoryIngestStore(), FlakySink()
    ingest_transactions([Transaction("a", 100, T0 + 1)], store, expires_at=0)
    with pytest.raises(RuntimeError):
        close_minutes(store, sink, now=T0 + 120, watermark_seconds=60, expires_at=0)
    assert store.minutes[T0].closed and not store.minutes[T0].written
    assert close_minutes(store, sink, now=T0 + 120, watermark_seconds=60, expires_at=0) == (1, T0)
    assert close_minutes(store, sink, now=T0 + 120, watermark_seconds=60, expires_at=0) == (0, T0)
    assert [(r.minute, r.count, r.total_fee) for r in sink.puts] == [(T0, 1, 100)]


def test_a_crash_between_put_and_mark_puts_an_identical_record():
    store, sink = InMemoryIngestStore(), InMemorySink()
    ingest_transactions([Transaction("a", 100, T0 + 1)], store, expires_at=0)
    store.close(T0, closed_at=T0 + 120, expires_at=0)
    sink.put_minute(store.minutes[T0].record())  # put done, then the function died
    close_minutes(store, sink, now=T0 + 120, watermark_seconds=60, expires_at=0)
    assert sink.puts[0] == sink.puts[1]


def test_malformed_transactions_are_skipped_and_counted_without_crashing_the_batch():
    bad = [
        {"hash": "nothex", "fee": 1, "size": 1, "time": T0},
        {"hash": f"{9:064x}", "fee": "12", "size": 1, "time": T0},  # fee as a string
        {"hash": f"{8:064x}", "fee": -1, "size": 1, "time": T0},
        {"hash": f"{7:064x}", "fee": 1, "size": 1, "time": T0 + 3600},  # far after the poll
        "not an object",
    ]
    source = BlockchainInfoSource(transport=FakeTransport([body(tx(1, 5), *bad, tx(2, 6))]))
    store = InMemoryIngestStore()
    report = run(source, store, InMemorySink(), clock=Clock(now=T0 + 10))
    assert (report.malformed_transactions, report.accepted, report.source_errors) == (5, 2, 0)


def test_a_format_change_is_a_source_error_not_a_crash():
    """Given the source renames its fields, then every item is malformed and SourceErrors says so."""
    renamed = json.dumps({"txs": [{"txid": f"{1:064x}", "fee_sat": 5}]}).encode()
    moved = json.dumps({"transactions": []}).encode()
    transport = FakeTransport([renamed, moved, b"<html>maintenance</html>"])
    source = BlockchainInfoSource(transport=transport)
    report = run(source, InMemoryIngestStore(), InMemorySink(), polls=3)
    assert (report.source_errors, report.malformed_transactions, report.accepted) == (3, 1, 0)
    assert transport.calls == 3  # format errors are not retried


def test_a_source_outage_is_retried_with_back_off_then_reported():
    """Given the source times out twice then answers, the poll succeeds after waiting 1 s, 2 s;
    given it never answers, each poll gives up after 3 attempts and the run still closes minutes."""
    flaky = FakeTransport(
        [SourceUnavailable("timed out"), SourceUnavailable("HTTP 503"), body(tx(1, 5))]
    )
    clock = Clock()
    report = run(
        BlockchainInfoSource(transport=flaky), InMemoryIngestStore(), InMemorySink(), clock=clock
    )
    assert clock.sleeps == [1.0, 2.0] and report.accepted == 1 and report.source_errors == 0

    store, sink = InMemoryIngestStore(), InMemorySink()
    ingest_transactions([Transaction("a", 1, T0)], store, expires_at=0)
    down = FakeTransport([SourceUnavailable("connection refused")])
    clock = Clock()
    report = run(
        BlockchainInfoSource(transport=down), store, sink, clock=clock, polls=2, close_at=T0 + 180
    )
    assert report.source_errors == 2 and down.calls == 6
    assert clock.sleeps == [1.0, 2.0, 1.0, 2.0]
    assert report.minutes_closed == 2  # 12:00 and 12:01 still closed on time


def test_no_retry_when_the_function_is_out_of_time():
    down = FakeTransport([SourceUnavailable("timed out")])
    report = run_ingest(
        BlockchainInfoSource(transport=down),
        InMemoryIngestStore(),
        InMemorySink(),
        RunPlan(polls=1, retry=RetryPolicy(attempts=5)),
        sleeper=lambda s: None,
        remaining=lambda: 1.5,
    )
    assert down.calls == 1 and report.source_errors == 1


def test_polls_are_spaced_by_the_interval_and_stop_before_the_deadline():
    transport = FakeTransport([body(tx(1, 5))])
    clock = Clock()
    remaining = {"s": 55.0}

    def left() -> float:
        return remaining["s"] - (clock.now - T0)

    run_ingest(
        BlockchainInfoSource(transport=transport),
        InMemoryIngestStore(),
        InMemorySink(),
        RunPlan(polls=5, interval_seconds=12, reserve_seconds=15),
        clock=clock,
        sleeper=clock.sleep,
        remaining=left,
    )
    assert clock.sleeps == [12, 12, 12] and transport.calls == 4  # a 5th poll at 48 s leaves 7 s


def test_mempool_space_transactions_are_stamped_with_the_poll_time_and_deduplicated_across_minutes():
    item = {"txid": f"{5:064x}", "fee": 700, "vsize": 140.25, "value": 12345}
    transport = FakeTransport([json.dumps([item]).encode()])
    source = MempoolSpaceSource(transport=transport)
    store = InMemoryIngestStore()
    clock = Clock(now=T0 + 55)
    first = run(source, store, InMemorySink(), clock=clock)
    clock.now = T0 + 67  # next poll, next minute, same transaction still listed
    second = run(source, store, InMemorySink(), clock=clock)
    assert first.accepted == 1 and second.duplicates_dropped == 1
    assert counted(store, 0) == (1, 700) and T0 + 60 not in store.minutes


def test_a_racing_writer_makes_the_batch_retry_without_double_counting():
    """Given another collector counts the same transaction between our read and our write,
    then our conditional write fails, we re-read, and the transaction is a duplicate."""

    class RacingStore(InMemoryIngestStore):
        raced = False

        def add(self, minute, expected_version, keys, count, total_fee, expires_at, **sizes):
            if not self.raced:
                self.raced = True
                super().add(minute, expected_version, keys, count, total_fee, expires_at, **sizes)
            return super().add(
                minute, expected_version, keys, count, total_fee, expires_at, **sizes
            )

    store = RacingStore()
    counts = ingest_transactions([Transaction("a", 10, T0)], store, expires_at=0)
    assert (counts.accepted, counts.duplicates) == (0, 1)
    assert store.minutes[T0].count == 1


def test_endless_contention_is_an_error_not_a_silent_loss():
    class Stuck(InMemoryIngestStore):
        def add(self, *args, **kwargs):
            return False

    with pytest.raises(IngestConflict, match="12:00"):
        ingest_transactions([Transaction("a", 10, T0)], Stuck(), expires_at=0)


@settings(max_examples=25, deadline=None)
@given(
    spec=st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 599), st.integers(0, 5000)),
        min_size=1,
        max_size=60,
    ),
    polls=st.integers(1, 6),
    seed=st.integers(0, 1000),
)
def test_property_any_order_any_repeats_gives_the_reference_minutes(spec, polls, seed):
    """Given any stream split into overlapping, shuffled polls, when it is ingested and flushed,
    then every minute written equals the reference aggregation (each id once, own minute)."""
    by_id = {n: Transaction(f"{n:064x}", fee, T0 + second) for n, second, fee in spec}
    stream = list(by_id.values())
    rng = random.Random(seed)
    batches = []
    for _ in range(polls):
        batch = rng.sample(stream, k=rng.randint(1, len(stream)))
        batches.append(PollResult(transactions=batch, received=len(batch)))
    batches.append(PollResult(transactions=stream, received=len(stream)))

    class ListSource:
        name = "list"

        def __init__(self) -> None:
            self.left = list(batches)

        def poll(self, poll_time: int) -> PollResult | None:
            return self.left.pop(0) if self.left else None

    store, sink = InMemoryIngestStore(), InMemorySink()
    report = run_ingest(
        ListSource(),
        store,
        sink,
        RunPlan(
            polls=None,
            interval_seconds=0,
            close_at=None,
            flush=True,
            watermark_seconds=600,
            max_minutes_per_close=None,
        ),
    )
    expected = minutes_of(stream)
    written = sink.latest
    assert len(sink.puts) == len(written)  # each minute written once
    first, last = min(expected), max(expected)
    assert set(written) == {minute_id(m) for m in range(first, last + 60, 60)}
    for m in range(first, last + 60, 60):
        want = expected.get(m, MinuteRecord(m, 0, 0))
        assert written[minute_id(m)] == want  # count, total, median fee and fee rate
    assert report.accepted == len(stream) and report.late_transactions == 0


def test_each_minute_gets_its_median_fee_and_its_vsize_weighted_fee_rate():
    store, sink = InMemoryIngestStore(), InMemorySink()
    stream = [
        Transaction("a", 1000, T0 + 1, vsize=100),
        Transaction("b", 3000, T0 + 2, vsize=200),
        Transaction("c", 50_000, T0 + 3),  # no size: in the median, not in the fee rate
        Transaction("a", 1000, T0 + 4, vsize=100),  # a repeat counts once
    ]
    ingest_transactions(stream, store, expires_at=0)
    ingest_transactions([Transaction("d", 2000, T0 + 30, vsize=100)], store, expires_at=0)
    close_minutes(store, sink, now=T0 + 180, expires_at=0)
    record = sink.latest[minute_id(T0)]
    assert (record.count, record.total_fee) == (4, 56_000)
    assert record.median_fee == 2500.0  # of 1000, 2000, 3000, 50000
    assert record.fee_rate == pytest.approx((1000 + 3000 + 2000) / 400)  # sat/vB
    features = {f["FeatureName"]: f["ValueAsString"] for f in record.to_features()}
    assert features["median_fee_1min"] == "2500.0" and features["fee_rate_1min"] == "15.0"
    assert minutes_of([*stream, Transaction("d", 2000, T0 + 30, vsize=100)])[T0] == record
    empty = sink.latest[minute_id(T0 + 60)]
    assert empty.median_fee is None and "median_fee_1min" not in str(empty.to_features())
