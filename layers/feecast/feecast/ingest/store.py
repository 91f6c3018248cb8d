"""The state ingestion keeps between invocations, behind a small interface.

One item per minute holds its running count and fee total, the set of transactions already
counted in it (`seen`, 64-bit keys) and a `version`. Counting a batch is one conditional write
per minute: "add these transactions and their keys if the version is still what I read and the
minute is still open". So deduplication and aggregation happen in the same atomic write: a crash
can neither lose a transaction that was marked seen nor count one twice, and two writers racing
on a minute simply retry. A closed minute accepts only late keys (`late_seen`), never counts.

A cursor remembers the last minute closed; the closer walks forward from it.

Implementations: `feecast.adapters.ingest_table.DynamoIngestStore` (AWS, and the twin) and
`feecast_testing.ingest_memory.InMemoryIngestStore` (tests, and computing minutes without AWS).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from feecast.ingest.model import MinuteRecord, fee_rate, median_fee


@dataclass(frozen=True)
class MinuteState:
    """A minute's item as read. `version` is None when the item does not exist."""

    minute: int
    version: int | None = None
    count: int = 0
    total_fee: int = 0
    seen: frozenset[str] = frozenset()
    late_seen: frozenset[str] = frozenset()
    closed: bool = False
    written: bool = False
    fees: tuple[int, ...] = ()  # each counted transaction's fee (the median)
    vsize_total: int = 0  # vsize of the counted transactions that have one
    vsize_fee: int = 0  # and their fees (the fee rate)

    @property
    def exists(self) -> bool:
        return self.version is not None

    def knows(self, key: str) -> bool:
        return key in self.seen or key in self.late_seen

    def record(self) -> MinuteRecord:
        return MinuteRecord(
            minute=self.minute,
            count=self.count,
            total_fee=self.total_fee,
            median_fee=median_fee(self.fees),
            fee_rate=fee_rate(self.vsize_fee, self.vsize_total),
        )


class IngestStore(Protocol):
    def read(self, minutes: Collection[int]) -> tuple[dict[int, MinuteState], int | None]:
        """Consistent read of these minutes (missing ones left out) and the cursor."""
        ...

    def add(
        self,
        minute: int,
        expected_version: int | None,
        keys: Collection[str],
        count: int,
        total_fee: int,
        expires_at: int,
        *,
        fees: Sequence[int] = (),
        vsize_total: int = 0,
        vsize_fee: int = 0,
    ) -> bool:
        """Count transactions in an open minute; False if the version moved or it closed.

        `fees` is the minute's list of fees after this batch (those read with
        `expected_version` plus the new transactions'): set in the same conditional write, so
        it is right whenever the write succeeds. `vsize_total`/`vsize_fee` are the vsize and
        fees of the new transactions with a known size, added."""
        ...

    def add_late(self, minute: int, expected_version: int, keys: Collection[str]) -> bool:
        """Remember late keys on a closed minute (counts unchanged); False if the version moved."""
        ...

    def close(self, minute: int, closed_at: int, expires_at: int) -> MinuteState:
        """Close the minute (creating it empty if absent); idempotent; returns its final state."""
        ...

    def mark_written(self, minute: int, written_at: int) -> None:
        """The minute's record reached the feature store."""
        ...

    def cursor(self) -> int | None:
        """The last minute closed so far (None before the first close)."""
        ...

    def advance_cursor(self, minute: int) -> None:
        """Move the cursor forward to `minute` (never backward)."""
        ...

    def earliest_minute(self) -> int | None:
        """The first minute that has an item (where closing starts when there is no cursor)."""
        ...


class MinuteSink(Protocol):
    """Where closed minutes go: the feature group (feecast.adapters.feature_store)."""

    def put_minute(self, record: MinuteRecord) -> None: ...
