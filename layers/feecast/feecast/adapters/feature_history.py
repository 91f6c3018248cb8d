"""Read the per-minute history of one feature from the feature group (offline + online store).

The offline store (Parquet written by SageMaker under the feature group's ResolvedOutputS3Uri,
partitioned by event time: year=/month=/day=/hour=) holds every version of every record, but
lags ingestion by minutes. The online store holds only the latest version, and is current. So:

1. list the day partitions of the window (concurrently), keep the hour partitions inside it,
   read the Parquet files concurrently (`concurrency` GetObject calls in flight; pyarrow comes
   from the Parquet layer, imported only here). Feature Store decides how many files there are
   (from ~1,300 to ~20,000 small files for 14 days), so the read is bounded by a `deadline`:
   before the caller's time runs out it stops with `HistoryReadTimeout` (retriable: files
   already parsed stay cached in the warm container, so a retry goes further);
2. per tx_minute keep the row with the latest write_time (ties: latest api_invocation_time);
   a minute whose latest row is a deletion (is_deleted) has no value;
3. for the minutes after the last minute the offline store has (at most `online_catchup`
   minutes), ask the online store with BatchGetRecord (100 ids per call). A minute that does
   not exist (not closed yet, or never ingested) is missing, not an error: GetRecord answers an
   unknown identifier with an empty result, and BatchGetRecord leaves it out of `Records` or
   lists it in `Errors` as ResourceNotFound (BatchGetRecordError's ErrorCode refers to
   GetRecord's errors); both forms count as missing. Other per-record errors are not: 5xx /
   throttling is retried, then raised as retriable `AwsThrottled`; a refusal is raised.

Why not Athena: one query per build costs a Glue table, a results bucket, a query (minimum
10 MB billed) and 2-10 s of queueing for a few hundred kilobytes of Parquet. At this size a
direct read is faster, cheaper and has no setup; docs/build.md says when to switch.

Entry points: `read_minutes(...) -> MinuteSeries` (what the conventions promise) and
`read_history(...) -> History` (the series plus where each point came from).
"""

from __future__ import annotations

import io
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlparse

from botocore.config import Config

from feecast.adapters import clients
from feecast.adapters.errors import THROTTLING_CODES, AwsThrottled
from feecast.feature_schema import (
    API_INVOCATION_TIME,
    IS_DELETED,
    MINUTE_ID_FORMAT,
    RECORD_ID,
    WRITE_TIME,
)
from feecast.series import MINUTE, MinuteSeries, floor_minute

__all__ = [
    "BATCH_GET_LIMIT",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_ONLINE_CATCHUP",
    "Deadline",
    "FeatureHistoryError",
    "FeatureHistoryReader",
    "History",
    "HistoryReadTimeout",
    "OfflineRow",
    "latest_values",
    "minute_id",
    "parse_minute_id",
    "partition_hour",
    "read_history",
    "read_minutes",
]

BATCH_GET_LIMIT = 100  # BatchGetRecord: at most 100 record identifiers per feature group
DEFAULT_ONLINE_CATCHUP = timedelta(hours=24)
# GetObject calls in flight: S3 serves each small object in tens of milliseconds, mostly
# waiting, so threads overlap the waits (bench/bench_offline_read.py measures the gain).
DEFAULT_CONCURRENCY = 16
_UNPROCESSED_RETRIES = 5
# BatchGetRecord per-record error codes that mean "no such record" (GetRecord's 404).
_ABSENT_CODES = frozenset({"ResourceNotFound", "ResourceNotFoundException"})
_TRANSIENT_CODES = THROTTLING_CODES | {"InternalFailure", "ServiceUnavailable"}
_PARTITION = re.compile(r"year=(\d{4})/month=(\d{2})/day=(\d{2})/hour=(\d{2})/")
_HOUR = timedelta(hours=1)
# Offline store files are written once (each write is a new object with a random suffix): a
# warm container keeps the rows it parsed, keyed by the object's ETag, so the hourly
# monitoring reads only the files written since its previous run instead of a day of them.
_FILE_CACHE_LIMIT = 25_000  # 14 days of the largest file counts Feature Store writes
_FILE_ROWS: OrderedDict[tuple[str, str, str, str], tuple[OfflineRow, ...]] = OrderedDict()
_CACHE_LOCK = threading.Lock()


class FeatureHistoryError(RuntimeError):
    """The feature group or its stores cannot be read as documented."""


class HistoryReadTimeout(RuntimeError):
    """The offline store could not be read before the deadline (too many files for the time
    left). Retriable by name in the build's state machine: parsed files stay cached, so the
    next attempt in the same warm container reads only the rest."""


class Deadline:
    """When the caller must have an answer: `remaining()` seconds are left.

    In a Lambda function: `Deadline.from_lambda_context(context, reserve_seconds=60)` stops the
    read a minute before the function's timeout, leaving time to say why (never a timeout)."""

    def __init__(self, remaining: Callable[[], float]) -> None:
        self._remaining = remaining

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        end = time.monotonic() + seconds
        return cls(lambda: end - time.monotonic())

    @classmethod
    def from_lambda_context(cls, context: Any, *, reserve_seconds: float) -> Deadline:
        return cls(lambda: context.get_remaining_time_in_millis() / 1000.0 - reserve_seconds)

    def remaining(self) -> float:
        return float(self._remaining())


# -- pure pieces ------------------------------------------------------------------------------
def minute_id(ts: datetime) -> str:
    """The record identifier of a minute: `YYYY-MM-DDTHH:MM:00Z`."""
    return floor_minute(ts).strftime(MINUTE_ID_FORMAT)


def parse_minute_id(raw: str) -> datetime:
    """Inverse of minute_id (also accepts any ISO-8601 instant with a zone)."""
    ts = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return floor_minute(ts)


def partition_hour(key: str) -> datetime | None:
    """The UTC hour of an offline-store object key (None if the key has no hour partition)."""
    match = _PARTITION.search(key)
    if match is None:
        return None
    year, month, day, hour = (int(g) for g in match.groups())
    return datetime(year, month, day, hour, tzinfo=UTC)


def _as_instant(value: object) -> datetime | None:
    """write_time / api_invocation_time as an aware UTC datetime (Parquet gives several types)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str):
        ts = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    raise FeatureHistoryError(f"unexpected timestamp value {value!r}")


def _as_number(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise FeatureHistoryError(f"unexpected boolean feature value {value!r}")
    number = float(value)  # type: ignore[arg-type]  # int, float, Decimal or numeric string
    return None if math.isnan(number) else number


@dataclass(frozen=True)
class OfflineRow:
    """One offline-store row, reduced to what the history needs."""

    minute: datetime
    value: float | None
    write_time: datetime
    api_invocation_time: datetime | None = None
    is_deleted: bool = False

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any], target_col: str) -> OfflineRow:
        write_time = _as_instant(row.get(WRITE_TIME))
        if write_time is None:
            raise FeatureHistoryError(f"offline row for {row.get(RECORD_ID)!r} has no {WRITE_TIME}")
        return cls(
            minute=parse_minute_id(str(row[RECORD_ID])),
            value=_as_number(row.get(target_col)),
            write_time=write_time,
            api_invocation_time=_as_instant(row.get(API_INVOCATION_TIME)),
            is_deleted=bool(row.get(IS_DELETED) or False),
        )


def latest_values(rows: Iterable[OfflineRow]) -> tuple[dict[datetime, float | None], int]:
    """Per minute, the value of the row written last; deleted minutes are dropped.

    Returns (minute -> value (None when the feature is absent), number of rows seen). Ties on
    write_time are broken by api_invocation_time, then by the order given (later wins).
    """
    best: dict[datetime, OfflineRow] = {}
    seen = 0
    epoch = datetime.min.replace(tzinfo=UTC)
    for row in rows:
        seen += 1
        held = best.get(row.minute)
        if held is None or (row.write_time, row.api_invocation_time or epoch) >= (
            held.write_time,
            held.api_invocation_time or epoch,
        ):
            best[row.minute] = row
    return {m: r.value for m, r in best.items() if not r.is_deleted}, seen


def online_minutes(
    start: datetime, end: datetime, offline_last: datetime | None, catchup: timedelta
) -> list[datetime]:
    """The minutes to ask the online store for: after the offline store's last minute, in
    [start, end), and no more than `catchup` before `end`."""
    first = start if offline_last is None else max(start, offline_last + MINUTE)
    first = max(first, floor_minute(end - catchup))
    minutes = []
    current = first
    while current < end:
        minutes.append(current)
        current += MINUTE
    return minutes


@dataclass(frozen=True)
class History:
    """A feature's history over [start, end) and where its points came from."""

    series: MinuteSeries
    offline_points: int  # minutes with a value from the offline store
    online_points: int  # minutes with a value from the online store only
    offline_rows: int  # rows read (all versions, deletions included)
    offline_files: int
    offline_last_minute: datetime | None  # newest minute the offline store had (None: none)

    def to_dict(self) -> dict[str, Any]:
        last = self.offline_last_minute
        return {
            "offline_points": self.offline_points,
            "online_points": self.online_points,
            "offline_rows": self.offline_rows,
            "offline_files": self.offline_files,
            "offline_last_minute": None if last is None else minute_id(last),
        }


def merge_history(
    offline: Mapping[datetime, float | None],
    online: Mapping[datetime, float | None],
    start: datetime,
    end: datetime,
    *,
    offline_rows: int = 0,
    offline_files: int = 0,
    offline_last_minute: datetime | None = None,
) -> History:
    """One regular series over [start, end): offline values, then online values where the
    offline store has none (missing minutes stay NaN)."""
    merged: dict[datetime, float | None] = dict(offline)
    online_only = 0
    for minute, value in online.items():
        if merged.get(minute) is None and value is not None:
            online_only += 1
            merged[minute] = value
    series = MinuteSeries.from_points(merged.items(), start=start, end=end)
    in_window = [m for m, v in offline.items() if v is not None and start <= m < end]
    return History(
        series=series,
        offline_points=len(in_window),
        online_points=online_only,
        offline_rows=offline_rows,
        offline_files=offline_files,
        offline_last_minute=offline_last_minute,
    )


# -- the reader (AWS) -------------------------------------------------------------------------
def _s3_location(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise FeatureHistoryError(f"offline store location {uri!r} is not an s3:// URI")
    return parsed.netloc, parsed.path.lstrip("/").rstrip("/") + "/"


@cache
def _pool(connections: int) -> Config:
    # One Config object per size: the client factory caches a client per config object.
    return Config(max_pool_connections=connections)


class FeatureHistoryReader:
    """Reads a feature group's history through boto3 clients (given, or the factory's)."""

    def __init__(
        self,
        *,
        sagemaker: Any | None = None,
        s3: Any | None = None,
        featurestore: Any | None = None,
        online_catchup: timedelta = DEFAULT_ONLINE_CATCHUP,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        # Any: the stubs' TypedDicts add nothing to these few calls and reject plain dicts.
        self._sagemaker: Any = sagemaker or clients.client("sagemaker")
        # One pooled connection per thread (botocore's default pool holds 10).
        self._s3: Any = s3 or clients.client("s3", _pool(max(10, concurrency)))
        self._featurestore: Any = featurestore or clients.client("sagemaker-featurestore-runtime")
        self.online_catchup = online_catchup
        self.concurrency = concurrency

    def read(
        self,
        feature_group_name: str,
        start: datetime,
        end: datetime,
        target_col: str,
        *,
        deadline: Deadline | None = None,
    ) -> History:
        start, end = floor_minute(start), floor_minute(end)
        if end <= start:
            raise ValueError(f"empty window: end {minute_id(end)} <= start {minute_id(start)}")
        description = self._describe(feature_group_name)
        uri = (
            description.get("OfflineStoreConfig", {})
            .get("S3StorageConfig", {})
            .get("ResolvedOutputS3Uri")
        )
        has_online = bool(description.get("OnlineStoreConfig", {}).get("EnableOnlineStore"))
        if not uri and not has_online:
            raise FeatureHistoryError(
                f"feature group {feature_group_name!r} has neither an offline nor an online store"
            )
        offline: dict[datetime, float | None] = {}
        rows = files = 0
        last: datetime | None = None
        if uri:
            offline, rows, files, last = self._read_offline(uri, start, end, target_col, deadline)
        online: dict[datetime, float | None] = {}
        if has_online:
            minutes = online_minutes(start, end, last, self.online_catchup)
            online = self._read_online(feature_group_name, minutes, target_col)
        return merge_history(
            {m: v for m, v in offline.items() if start <= m < end},
            online,
            start,
            end,
            offline_rows=rows,
            offline_files=files,
            offline_last_minute=last,
        )

    # describe ---------------------------------------------------------------------------
    def _describe(self, feature_group_name: str) -> dict[str, Any]:
        try:
            return dict(self._sagemaker.describe_feature_group(FeatureGroupName=feature_group_name))
        except self._sagemaker.exceptions.ResourceNotFound as exc:
            raise FeatureHistoryError(
                f"feature group {feature_group_name!r} does not exist (is ingestion deployed?)"
            ) from exc

    # offline ----------------------------------------------------------------------------
    def _day_keys(
        self, bucket: str, prefix: str, first_hour: datetime, end: datetime
    ) -> list[tuple[str, str]]:
        paginator = self._s3.get_paginator("list_objects_v2")
        keys = []
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                hour = partition_hour(key)
                if hour is not None and first_hour <= hour < end and key.endswith(".parquet"):
                    keys.append((key, str(obj.get("ETag") or "")))
        return keys

    def _object_keys(
        self, bucket: str, base: str, start: datetime, end: datetime, pool: ThreadPoolExecutor
    ) -> list[tuple[str, str]]:
        # One listing per day partition (not per hour): 14 listings for two weeks, in parallel.
        first_hour = start.replace(minute=0)
        day = first_hour.replace(hour=0)
        prefixes = []
        while day < end:
            prefixes.append(f"{base}year={day:%Y}/month={day:%m}/day={day:%d}/")
            day += timedelta(days=1)
        listed = pool.map(lambda prefix: self._day_keys(bucket, prefix, first_hour, end), prefixes)
        return [key for keys in listed for key in keys]

    def _parse(self, bucket: str, key: str, target_col: str) -> tuple[OfflineRow, ...]:
        """GetObject + Parquet -> rows (runs on a worker thread; touches no shared state)."""
        import pyarrow.parquet as pq  # the Parquet layer ships pyarrow; the shared layer does not

        body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        table = pq.read_table(io.BytesIO(body))
        if RECORD_ID not in table.column_names or WRITE_TIME not in table.column_names:
            raise FeatureHistoryError(
                f"s3://{bucket}/{key} lacks {RECORD_ID}/{WRITE_TIME}: not a feecast offline file"
            )
        wanted = [RECORD_ID, target_col, WRITE_TIME, API_INVOCATION_TIME, IS_DELETED]
        table = table.select([c for c in wanted if c in table.column_names])
        return tuple(OfflineRow.from_mapping(r, target_col) for r in table.to_pylist())

    def _read_offline(
        self,
        uri: str,
        start: datetime,
        end: datetime,
        target_col: str,
        deadline: Deadline | None = None,
    ) -> tuple[dict[datetime, float | None], int, int, datetime | None]:
        """(minute -> latest value, rows read, files read, newest minute seen incl. deletions)."""
        bucket, base = _s3_location(uri)
        collected: list[OfflineRow] = []
        started = time.monotonic()
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="offline-store")
        try:
            keys = self._object_keys(bucket, base, start, end, pool)
            pending: dict[Future[tuple[OfflineRow, ...]], tuple[str, str]] = {}
            for key, etag in keys:
                cache_key = (bucket, key, etag, target_col)
                with _CACHE_LOCK:
                    parsed = _FILE_ROWS.get(cache_key) if etag else None
                    if parsed is not None:
                        _FILE_ROWS.move_to_end(cache_key)
                if parsed is not None:
                    collected.extend(parsed)
                else:
                    future = pool.submit(self._parse, bucket, key, target_col)
                    if etag:  # cached as soon as parsed, even after a timeout: a retry gains
                        future.add_done_callback(_cache_rows(cache_key))
                    pending[future] = (key, etag)
            cached = len(keys) - len(pending)
            while pending:
                timeout = None if deadline is None else deadline.remaining()
                if timeout is not None and timeout <= 0:
                    done: set[Future[tuple[OfflineRow, ...]]] = set()
                else:
                    done, _ = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
                if not done:
                    for future in pending:
                        future.cancel()
                    raise HistoryReadTimeout(
                        f"read {len(keys) - len(pending)} of {len(keys)} offline-store files "
                        f"({cached} from this container's cache) in "
                        f"{time.monotonic() - started:.0f} s with {self.concurrency} in flight; "
                        f"stopped before the time limit. The files read stay cached: retrying "
                        f"continues from there"
                    )
                for future in done:
                    pending.pop(future)
                    collected.extend(future.result())  # a read or parse error propagates
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        # The newest minute seen, deletions included (a deleted minute is still "caught up").
        last_seen = max((r.minute for r in collected), default=None)
        values, rows = latest_values(collected)
        return values, rows, len(keys), last_seen

    # online -----------------------------------------------------------------------------
    def _read_online(
        self, feature_group_name: str, minutes: Sequence[datetime], target_col: str
    ) -> dict[datetime, float | None]:
        """Minute -> value for the minutes the online store has; the others are left out
        (missing), whichever way BatchGetRecord reports them (module docstring, step 3)."""
        out: dict[datetime, float | None] = {}
        for i in range(0, len(minutes), BATCH_GET_LIMIT):
            ids = [minute_id(m) for m in minutes[i : i + BATCH_GET_LIMIT]]
            identifiers: list[dict[str, Any]] = [
                {
                    "FeatureGroupName": feature_group_name,
                    "RecordIdentifiersValueAsString": ids,
                    "FeatureNames": [RECORD_ID, target_col],
                }
            ]
            for _attempt in range(_UNPROCESSED_RETRIES):
                response = self._featurestore.batch_get_record(Identifiers=identifiers)
                for record in response.get("Records", []):
                    features = {
                        f["FeatureName"]: f.get("ValueAsString") for f in record.get("Record", [])
                    }
                    minute = parse_minute_id(record["RecordIdentifierValueAsString"])
                    out[minute] = _as_number(features.get(target_col))
                retry: list[str] = []
                for errored in response.get("Errors", []):
                    code = str(errored.get("ErrorCode") or "")
                    record_id = str(errored.get("RecordIdentifierValueAsString") or "")
                    if code in _ABSENT_CODES:
                        continue  # a minute that does not exist (yet): missing
                    if code in _TRANSIENT_CODES:
                        retry.append(record_id)
                        continue
                    raise FeatureHistoryError(
                        f"online store refused {record_id}: {code} {errored.get('ErrorMessage')}"
                    )
                identifiers = list(response.get("UnprocessedIdentifiers") or [])
                if retry:
                    identifiers.append(
                        {
                            "FeatureGroupName": feature_group_name,
                            "RecordIdentifiersValueAsString": retry,
                            "FeatureNames": [RECORD_ID, target_col],
                        }
                    )
                if not identifiers:
                    break
                time.sleep(min(0.1 * 2**_attempt, 2.0))  # back off before asking again
            else:
                raise AwsThrottled(
                    f"BatchGetRecord left identifiers unprocessed or failing after "
                    f"{_UNPROCESSED_RETRIES} tries"
                )
        return out


def _cache_rows(
    cache_key: tuple[str, str, str, str],
) -> Callable[[Future[tuple[OfflineRow, ...]]], None]:
    def store(future: Future[tuple[OfflineRow, ...]]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        with _CACHE_LOCK:
            _FILE_ROWS[cache_key] = future.result()
            while len(_FILE_ROWS) > _FILE_CACHE_LIMIT:
                _FILE_ROWS.popitem(last=False)

    return store


@cache
def _default_reader() -> FeatureHistoryReader:
    return FeatureHistoryReader()


def read_history(
    feature_group_name: str,
    start: datetime,
    end: datetime,
    target_col: str,
    *,
    reader: FeatureHistoryReader | None = None,
    deadline: Deadline | None = None,
) -> History:
    """The feature's history over [start, end) (floored to minutes) with its provenance;
    `HistoryReadTimeout` when the offline store cannot be read before `deadline`."""
    return (reader or _default_reader()).read(
        feature_group_name, start, end, target_col, deadline=deadline
    )


def read_minutes(
    feature_group_name: str,
    start: datetime,
    end: datetime,
    target_col: str,
    *,
    reader: FeatureHistoryReader | None = None,
) -> MinuteSeries:
    """The feature's values for every minute in [start, end); NaN where no value is stored.

    Offline store (Parquet, latest write_time per minute, deletions skipped) plus the online
    store for the newest minutes the offline store has not caught up with.
    """
    return read_history(feature_group_name, start, end, target_col, reader=reader).series
