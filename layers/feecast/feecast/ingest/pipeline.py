"""The ingestion pipeline: poll -> validate -> deduplicate + aggregate -> close minutes.

`run_ingest` is the one entry point: the scheduled CollectTransactionsFunction calls it with a
live source and the scheduled time as "now"; `feecast ingest replay FILE` calls it with a
FileSource and lets the stream's own event time drive the watermark. Nothing else differs.

Rules (docs/ingest.md):
- a transaction counts in the minute of its own timestamp, once (store.py explains how);
- a minute is final once now >= minute end + watermark; the closer then walks every minute from
  the last closed one, so a minute without transactions is written too (count 0, no average);
- the record of a closed minute is put to the feature store until the minute is marked written:
  a crash between the two puts the same record again (identical content, so harmless);
- a transaction whose minute is already closed is late: counted (LateTransactions), logged,
  remembered so a re-poll does not count it again, and never changes a written record.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from feecast.ingest.model import MINUTE_SECONDS, MinuteRecord, Transaction, minute_id, minute_of
from feecast.ingest.sources import PollResult, Source, SourceError
from feecast.ingest.store import IngestStore, MinuteSink, MinuteState
from feecast.observability import logger

METRIC_NAMES = (
    "TransactionsPolled",
    "DuplicatesDropped",
    "MalformedTransactions",
    "LateTransactions",
    "MinutesClosed",
    "SourceErrors",
)
DEFAULT_WATERMARK_SECONDS = 60
DEFAULT_TTL_SECONDS = 7 * 24 * 3600
# Optimistic writes retried this many times per batch before giving up (heavy contention).
MAX_WRITE_ATTEMPTS = 8


class IngestConflict(RuntimeError):
    """Another writer kept changing the same minutes; the batch was not fully counted."""


class IngestReport(BaseModel):
    """What one run did (CollectTransactionsFunction's result); counters grow during the run."""

    polls: int = 0
    transactions_polled: int = 0  # valid transactions received (duplicates included)
    accepted: int = 0
    duplicates_dropped: int = 0
    malformed_transactions: int = 0
    late_transactions: int = 0
    minutes_closed: int = 0
    minutes_written: int = 0  # records put to the feature store (a re-put after a crash counts)
    source_errors: int = 0
    last_closed: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    def metric_values(self) -> dict[str, int]:
        return {
            "TransactionsPolled": self.transactions_polled,
            "DuplicatesDropped": self.duplicates_dropped,
            "MalformedTransactions": self.malformed_transactions,
            "LateTransactions": self.late_transactions,
            "MinutesClosed": self.minutes_closed,
            "SourceErrors": self.source_errors,
        }


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per poll, exponential back-off base_delay * 2**n capped at max_delay."""

    attempts: int = 3
    base_delay: float = 1.0
    max_delay: float = 8.0

    def delay(self, failures: int) -> float:
        return float(min(self.max_delay, self.base_delay * 2 ** (failures - 1)))


@dataclass(frozen=True)
class RunPlan:
    """How one run polls and closes.

    polls: polls in this run (None: until the source is exhausted, i.e. a file).
    close_at: epoch seconds used as "now" to close minutes (the scheduled time); None means the
      stream's own clock: the latest event time seen (replay).
    flush: at the end, also close every minute up to the last one seen (a finished file).
    max_minutes_per_close: cap on minutes closed per run (catching up after a long outage
      spreads over several runs instead of timing one out).
    reserve_seconds: stop polling when the function has less than this left (closing needs it).
    """

    polls: int | None = 4
    interval_seconds: float = 12.0
    retry: RetryPolicy = RetryPolicy()
    watermark_seconds: int = DEFAULT_WATERMARK_SECONDS
    close_at: int | None = None
    flush: bool = False
    max_minutes_per_close: int | None = 240
    ttl_seconds: int = DEFAULT_TTL_SECONDS
    reserve_seconds: float = 15.0


@dataclass
class BatchCounts:
    accepted: int = 0
    duplicates: int = 0
    late: int = 0


# -- deduplicate + aggregate --------------------------------------------------------------------
def _group(transactions: Iterable[Transaction]) -> tuple[dict[int, list[Transaction]], int]:
    """Drop repeats inside the batch, group the rest by event-time minute."""
    groups: dict[int, list[Transaction]] = defaultdict(list)
    seen: set[str] = set()
    repeats = 0
    for tx in transactions:
        key = tx.key
        if key in seen:
            repeats += 1
            continue
        seen.add(key)
        groups[tx.minute].append(tx)
    return groups, repeats


def _fresh(
    txs: Sequence[Transaction], state: MinuteState | None, previous: MinuteState | None
) -> list[Transaction]:
    """The transactions neither this minute nor (for poll-timed ones) the previous one knows."""
    fresh = []
    for tx in txs:
        key = tx.key
        if state is not None and state.knows(key):
            continue
        if tx.time_is_poll_time and previous is not None and previous.knows(key):
            continue
        fresh.append(tx)
    return fresh


def ingest_transactions(
    transactions: Iterable[Transaction], store: IngestStore, *, expires_at: int
) -> BatchCounts:
    """Count each new transaction once in its event-time minute; report duplicates and late ones."""
    groups, repeats = _group(transactions)
    counts = BatchCounts(duplicates=repeats)
    pending = dict(groups)
    late_minutes: list[int] = []
    for _attempt in range(MAX_WRITE_ATTEMPTS):
        if not pending:
            break
        wanted = set(pending)
        wanted |= {m - MINUTE_SECONDS for m, txs in pending.items() if txs[0].time_is_poll_time}
        states, cursor = store.read(wanted)
        for minute in sorted(pending):
            txs = pending[minute]
            state = states.get(minute)
            fresh = _fresh(txs, state, states.get(minute - MINUTE_SECONDS))
            done = True
            if state is None and cursor is not None and minute <= cursor:
                # Closed and its item gone (older than the TTL, or before the history began):
                # nothing left to deduplicate against, so count it late and move on.
                counts.late += len(fresh)
                counts.duplicates += len(txs) - len(fresh)
                late_minutes.append(minute)
            elif not fresh:
                counts.duplicates += len(txs)
            elif state is not None and state.closed:
                assert state.version is not None
                done = store.add_late(minute, state.version, [tx.key for tx in fresh])
                if done:
                    counts.late += len(fresh)
                    counts.duplicates += len(txs) - len(fresh)
                    late_minutes.append(minute)
            else:
                sized = [tx for tx in fresh if tx.vsize is not None]
                done = store.add(
                    minute,
                    None if state is None else state.version,
                    [tx.key for tx in fresh],
                    len(fresh),
                    sum(tx.fee for tx in fresh),
                    expires_at,
                    fees=[*(state.fees if state is not None else ()), *(tx.fee for tx in fresh)],
                    vsize_total=sum(round(tx.vsize or 0) for tx in sized),
                    vsize_fee=sum(tx.fee for tx in sized),
                )
                if done:
                    counts.accepted += len(fresh)
                    counts.duplicates += len(txs) - len(fresh)
            if done:
                del pending[minute]
    if pending:
        raise IngestConflict(
            f"minutes {[minute_id(m) for m in sorted(pending)]} kept changing under "
            f"{MAX_WRITE_ATTEMPTS} attempts; their transactions will be counted on a later poll"
        )
    if counts.late:
        logger.warning(
            "late transactions: their minute was already closed",
            extra={
                "late_transactions": counts.late,
                "minutes": [minute_id(m) for m in sorted(set(late_minutes))][:20],
            },
        )
    return counts


# -- close minutes ------------------------------------------------------------------------------
def last_closable_minute(now: int, watermark_seconds: int) -> int:
    """The latest minute whose end + watermark is not after `now`."""
    return minute_of(now - watermark_seconds - MINUTE_SECONDS)


def close_minutes(
    store: IngestStore,
    sink: MinuteSink,
    *,
    now: int,
    watermark_seconds: int = DEFAULT_WATERMARK_SECONDS,
    max_minutes: int | None = None,
    expires_at: int,
) -> tuple[int, int | None]:
    """Close every minute from the cursor up to the watermark; returns (closed, last closed)."""
    limit = last_closable_minute(now, watermark_seconds)
    cursor = store.cursor()
    if cursor is None:
        first = store.earliest_minute()
        if first is None:
            return 0, None  # nothing ever counted: no history to start from yet
        minute = first
    else:
        minute = cursor + MINUTE_SECONDS
    closed, last = 0, cursor
    while minute <= limit and (max_minutes is None or closed < max_minutes):
        state = store.close(minute, closed_at=now, expires_at=expires_at)
        if not state.written:
            sink.put_minute(state.record())
            store.mark_written(minute, written_at=now)
        closed += 1
        last = minute
        if closed % 60 == 0:  # keep the cursor close behind on long walks (crash = less redo)
            store.advance_cursor(minute)
        minute += MINUTE_SECONDS
    if closed and last is not None:
        store.advance_cursor(last)
        logger.info(
            "minutes closed",
            extra={
                "minutes_closed": closed,
                "last_closed": minute_id(last),
                "up_to": minute_id(limit),
            },
        )
    return closed, last


# -- one run ------------------------------------------------------------------------------------
def _poll_with_retries(
    source: Source,
    poll_time: int,
    retry: RetryPolicy,
    sleeper: Callable[[float], None],
    remaining: Callable[[], float] | None,
    report: IngestReport,
) -> PollResult | bool | None:
    """A poll result, None when the source is exhausted, False when this poll failed."""
    failures = 0
    while True:
        try:
            return source.poll(poll_time)
        except SourceError as exc:
            failures += 1
            extra = {"source": source.name, "attempt": failures, "error": str(exc)}
            if not exc.retryable:
                report.source_errors += 1
                logger.error(
                    "source answered in an unexpected format: check the adapter", extra=extra
                )
                return False
            if failures >= retry.attempts:
                report.source_errors += 1
                logger.error("source unavailable after retries", extra=extra)
                return False
            delay = retry.delay(failures)
            if remaining is not None and remaining() - delay < 1:
                report.source_errors += 1
                logger.error("source unavailable, no time left to retry", extra=extra)
                return False
            logger.warning("source unavailable, retrying", extra={**extra, "retry_in_s": delay})
            sleeper(delay)


def _record_poll(result: PollResult, source: Source, report: IngestReport) -> None:
    report.transactions_polled += len(result.transactions)
    report.malformed_transactions += result.malformed
    if result.looks_like_format_change:
        report.source_errors += 1
        logger.error(
            "every transaction failed validation: the source format probably changed",
            extra={"source": source.name, "received": result.received, "examples": result.problems},
        )
    elif result.malformed:
        logger.warning(
            "malformed transactions skipped",
            extra={
                "source": source.name,
                "malformed": result.malformed,
                "examples": result.problems,
            },
        )


def run_ingest(
    source: Source,
    store: IngestStore,
    sink: MinuteSink,
    plan: RunPlan,
    *,
    clock: Callable[[], float] = time.time,
    sleeper: Callable[[float], None] = time.sleep,
    remaining: Callable[[], float] | None = None,
) -> IngestReport:
    """Poll the source per the plan, count every transaction once, close what is final."""
    report = IngestReport()
    started = clock()

    class CountingSink:
        def put_minute(self, record: MinuteRecord) -> None:
            sink.put_minute(record)
            report.minutes_written += 1

    high_water: int | None = None  # latest event time seen (the stream's clock, for replay)

    def close(now: int) -> None:
        closed, last = close_minutes(
            store,
            CountingSink(),
            now=now,
            watermark_seconds=plan.watermark_seconds,
            max_minutes=plan.max_minutes_per_close,
            expires_at=int(clock()) + plan.ttl_seconds,
        )
        report.minutes_closed += closed
        if last is not None:
            report.last_closed = minute_id(last)

    index = 0
    while plan.polls is None or index < plan.polls:
        if index and plan.interval_seconds > 0:
            wait = started + index * plan.interval_seconds - clock()
            if remaining is not None and remaining() - max(wait, 0) < plan.reserve_seconds:
                break
            if wait > 0:
                sleeper(wait)
        index += 1
        result = _poll_with_retries(source, int(clock()), plan.retry, sleeper, remaining, report)
        if result is None:
            break  # a finite source is exhausted
        report.polls += 1
        if result is False:
            continue
        assert isinstance(result, PollResult)
        _record_poll(result, source, report)
        counts = ingest_transactions(
            result.transactions, store, expires_at=int(clock()) + plan.ttl_seconds
        )
        report.accepted += counts.accepted
        report.duplicates_dropped += counts.duplicates
        report.late_transactions += counts.late
        if result.transactions:
            newest = max(tx.time for tx in result.transactions)
            high_water = newest if high_water is None else max(high_water, newest)
        if plan.close_at is None and high_water is not None:
            close(high_water)

    if plan.close_at is not None:
        close(plan.close_at)
    if plan.flush and high_water is not None:
        # The whole stream is in: its last minute is final too.
        close(minute_of(high_water) + MINUTE_SECONDS + plan.watermark_seconds)
    logger.info("ingest run done", extra={"source": source.name, **report.to_dict()})
    return report


def publish_metrics(report: IngestReport, metrics: Any) -> None:
    """Add the six ingestion metrics (zeros included: alarms and dashboards see every run)."""
    from aws_lambda_powertools.metrics import MetricUnit

    for name, value in report.metric_values().items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
