"""The ingestion domain: transactions, minutes and the feature-group record (pure Python).

Minutes are handled as epoch seconds of their start (ints: cheap to compare and walk) and shown
as the record identifier `YYYY-MM-DDTHH:MM:00Z`; the feature names and types are those of
feecast.feature_schema (docs/conventions.md, "the feature group").
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from feecast.feature_schema import (
    AVG_FEE,
    COUNT,
    EVENT_TIME,
    FEE_RATE,
    MEDIAN_FEE,
    MINUTE_ID_FORMAT,
    RECORD_ID,
    TOTAL_FEE,
)

MINUTE_SECONDS = 60


def minute_of(epoch_seconds: int) -> int:
    """Start (epoch seconds) of the UTC minute holding `epoch_seconds`."""
    return epoch_seconds - epoch_seconds % MINUTE_SECONDS


def minute_id(minute: int) -> str:
    """`YYYY-MM-DDTHH:MM:00Z` of a minute start."""
    return datetime.fromtimestamp(minute, UTC).strftime(MINUTE_ID_FORMAT)


def parse_minute_id(raw: str) -> int:
    """Inverse of minute_id; rejects anything that is not a minute start in UTC."""
    try:
        moment = datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"{raw!r} is not a minute id (YYYY-MM-DDTHH:MM:00Z)") from exc
    if moment.second:
        raise ValueError(f"{raw!r} is not a minute start")
    return int(moment.timestamp())


def epoch(moment: datetime) -> int:
    """Whole epoch seconds of an aware datetime (naive ones are refused: no guessing zones)."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone")
    return int(moment.timestamp())


def dedup_key(tx_id: str) -> str:
    """The 64-bit key a transaction is remembered by in its minute's seen set.

    16 hex characters instead of the 64 of a txid keep a busy minute's item small (about
    7 KB at 400 transactions); a collision inside one minute has a probability near 1e-14.
    """
    return hashlib.blake2b(tx_id.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class Transaction:
    """One valid transaction, whatever the source: what aggregation needs, nothing more."""

    tx_id: str
    fee: int  # satoshi
    time: int  # event time, epoch seconds
    vsize: float | None = None
    # True when the source gives no timestamp and `time` is the poll time (mempool.space):
    # the same transaction polled again a minute later would land in another minute, so
    # deduplication also looks at the previous minute for these.
    time_is_poll_time: bool = False

    @property
    def minute(self) -> int:
        return self.time - self.time % MINUTE_SECONDS

    @property
    def key(self) -> str:
        return dedup_key(self.tx_id)


def median_fee(fees: Sequence[int]) -> float | None:
    """The median fee (satoshi) of a minute's transactions; None without any."""
    return float(statistics.median(fees)) if fees else None


def fee_rate(vsize_fee: int, vsize_total: int) -> float | None:
    """sat/vB over the transactions with a known size; None without any."""
    return vsize_fee / vsize_total if vsize_total > 0 else None


@dataclass(frozen=True, slots=True)
class MinuteRecord:
    """One closed minute, as written to the feature group (avg, median and fee rate absent when
    they are undefined: no transaction, or none with a size)."""

    minute: int
    count: int
    total_fee: int
    median_fee: float | None = None
    fee_rate: float | None = None

    @property
    def tx_minute(self) -> str:
        return minute_id(self.minute)

    @property
    def avg_fee(self) -> float | None:
        return self.total_fee / self.count if self.count else None

    def to_features(self) -> list[dict[str, str]]:
        """PutRecord's `Record`: feature name / value-as-string pairs; avg left out when empty."""
        features = {
            RECORD_ID: self.tx_minute,
            COUNT: str(self.count),
            TOTAL_FEE: repr(float(self.total_fee)),
            EVENT_TIME: self.tx_minute,
        }
        if self.avg_fee is not None:
            features[AVG_FEE] = repr(self.avg_fee)
        if self.median_fee is not None:
            features[MEDIAN_FEE] = repr(float(self.median_fee))
        if self.fee_rate is not None:
            features[FEE_RATE] = repr(float(self.fee_rate))
        return [{"FeatureName": name, "ValueAsString": value} for name, value in features.items()]

    @classmethod
    def from_features(cls, record: list[dict[str, str]]) -> MinuteRecord:
        """Inverse of to_features (GetRecord's `Record`)."""
        values = {item["FeatureName"]: item["ValueAsString"] for item in record}
        return cls(
            minute=parse_minute_id(values[RECORD_ID]),
            count=int(values[COUNT]),
            total_fee=round(float(values[TOTAL_FEE])),
            median_fee=float(values[MEDIAN_FEE]) if MEDIAN_FEE in values else None,
            fee_rate=float(values[FEE_RATE]) if FEE_RATE in values else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            RECORD_ID: self.tx_minute,
            COUNT: self.count,
            TOTAL_FEE: float(self.total_fee),
            AVG_FEE: self.avg_fee,
            MEDIAN_FEE: self.median_fee,
            FEE_RATE: self.fee_rate,
            EVENT_TIME: self.tx_minute,
        }
