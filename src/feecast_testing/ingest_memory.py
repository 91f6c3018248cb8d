"""In-memory IngestStore and MinuteSink, with the same conditional semantics as DynamoDB.

Used by the unit tests (as fakes of the adapters) and to compute the minutes a transaction
stream yields without any AWS call (`minutes_of`), e.g. for a demo's expected values.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace

from feecast.ingest.model import MinuteRecord, Transaction, fee_rate, median_fee
from feecast.ingest.store import MinuteState


@dataclass
class InMemoryIngestStore:
    minutes: dict[int, MinuteState] = field(default_factory=dict)
    last_closed: int | None = None
    expires: dict[int, int] = field(default_factory=dict)

    def read(self, minutes: Collection[int]) -> tuple[dict[int, MinuteState], int | None]:
        return {m: self.minutes[m] for m in minutes if m in self.minutes}, self.last_closed

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
        current = self.minutes.get(minute)
        if expected_version is None:
            if current is not None:
                return False
            current = MinuteState(minute=minute, version=0)
        elif current is None or current.version != expected_version or current.closed:
            return False
        assert current.version is not None
        self.minutes[minute] = replace(
            current,
            version=current.version + 1,
            count=current.count + count,
            total_fee=current.total_fee + total_fee,
            seen=current.seen | frozenset(keys),
            fees=tuple(fees),
            vsize_total=current.vsize_total + vsize_total,
            vsize_fee=current.vsize_fee + vsize_fee,
        )
        self.expires[minute] = expires_at
        return True

    def add_late(self, minute: int, expected_version: int, keys: Collection[str]) -> bool:
        current = self.minutes.get(minute)
        if current is None or current.version != expected_version or not current.closed:
            return False
        self.minutes[minute] = replace(
            current, version=expected_version + 1, late_seen=current.late_seen | frozenset(keys)
        )
        return True

    def close(self, minute: int, closed_at: int, expires_at: int) -> MinuteState:
        current = self.minutes.get(minute) or MinuteState(minute=minute, version=0)
        if not current.closed:
            current = replace(current, closed=True)
            self.minutes[minute] = current
            self.expires.setdefault(minute, expires_at)
        return current

    def mark_written(self, minute: int, written_at: int) -> None:
        self.minutes[minute] = replace(self.minutes[minute], written=True)

    def cursor(self) -> int | None:
        return self.last_closed

    def advance_cursor(self, minute: int) -> None:
        if self.last_closed is None or self.last_closed < minute:
            self.last_closed = minute

    def earliest_minute(self) -> int | None:
        return min(self.minutes) if self.minutes else None


@dataclass
class InMemorySink:
    """Keeps every record put, in order (a record put twice appears twice)."""

    puts: list[MinuteRecord] = field(default_factory=list)

    def put_minute(self, record: MinuteRecord) -> None:
        self.puts.append(record)

    @property
    def latest(self) -> dict[str, MinuteRecord]:
        return {record.tx_minute: record for record in self.puts}


def minutes_of(transactions: Iterable[Transaction]) -> dict[int, MinuteRecord]:
    """Reference aggregation: each transaction id once, in the minute of its own time."""
    seen: set[str] = set()
    fees: dict[int, list[int]] = {}
    sized: dict[int, list[int]] = {}  # [vsize total, fees of the sized transactions]
    for tx in transactions:
        if tx.tx_id in seen:
            continue
        seen.add(tx.tx_id)
        fees.setdefault(tx.minute, []).append(tx.fee)
        slot = sized.setdefault(tx.minute, [0, 0])
        if tx.vsize is not None:
            slot[0] += round(tx.vsize)
            slot[1] += tx.fee
    return {
        m: MinuteRecord(
            minute=m,
            count=len(f),
            total_fee=sum(f),
            median_fee=median_fee(f),
            fee_rate=fee_rate(sized[m][1], sized[m][0]),
        )
        for m, f in fees.items()
    }
