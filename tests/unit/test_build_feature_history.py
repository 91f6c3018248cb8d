"""Reading a feature's history: offline Parquet (latest write per minute) + online catch-up."""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from feecast.adapters.feature_history import (
    FeatureHistoryError,
    FeatureHistoryReader,
    OfflineRow,
    latest_values,
    merge_history,
    minute_id,
    online_minutes,
    partition_hour,
)

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
M = timedelta(minutes=1)
BASE = "s3://bucket/offline/123456789012/sagemaker/eu-west-1/offline-store/fg-1/data"


def row(minute: datetime, value: float | None, written: int, deleted: bool = False) -> OfflineRow:
    return OfflineRow(minute, value, T0 + timedelta(seconds=written), None, deleted)


# -- pure merging -----------------------------------------------------------------------------
def test_given_two_versions_of_a_minute_then_the_latest_write_wins() -> None:
    values, seen = latest_values([row(T0, 2.0, 20), row(T0, 1.0, 10), row(T0 + M, 3.0, 5)])
    assert values == {T0: 2.0, T0 + M: 3.0}
    assert seen == 3


def test_given_the_latest_row_is_a_deletion_then_the_minute_has_no_value() -> None:
    values, _ = latest_values([row(T0, 1.0, 10), row(T0, 1.0, 20, deleted=True)])
    assert values == {}


def test_given_a_deletion_then_a_rewrite_then_the_rewrite_counts() -> None:
    values, _ = latest_values([row(T0, 1.0, 10, deleted=True), row(T0, 5.0, 20)])
    assert values == {T0: 5.0}


def test_given_equal_write_times_then_api_invocation_time_breaks_the_tie() -> None:
    early = OfflineRow(T0, 1.0, T0, T0, False)
    late = OfflineRow(T0, 2.0, T0, T0 + M, False)
    assert latest_values([late, early])[0] == {T0: 2.0}


def test_given_rows_from_parquet_types_then_they_are_normalised() -> None:
    r = OfflineRow.from_mapping(
        {
            "tx_minute": "2026-01-05T10:00:00Z",
            "avg_fee_1min": None,
            "write_time": datetime(2026, 1, 5, 10, 5),  # naive = UTC
            "api_invocation_time": "2026-01-05T10:04:00Z",
            "is_deleted": False,
        },
        "avg_fee_1min",
    )
    assert r.minute == T0 and r.value is None
    assert r.write_time == datetime(2026, 1, 5, 10, 5, tzinfo=UTC)


def test_given_the_offline_store_ends_early_then_online_covers_the_rest_within_catchup() -> None:
    end = T0 + 10 * M
    assert online_minutes(T0, end, T0 + 6 * M, timedelta(hours=1)) == [
        T0 + i * M for i in range(7, 10)
    ]
    # Catch-up bounds the online read even when the offline store is empty.
    assert online_minutes(T0, end, None, timedelta(minutes=3)) == [T0 + i * M for i in (7, 8, 9)]
    assert online_minutes(T0, end, end, timedelta(hours=1)) == []


def test_given_offline_and_online_values_then_the_series_is_regular_with_nan_gaps() -> None:
    history = merge_history(
        {T0: 1.0, T0 + M: None, T0 + 2 * M: 3.0},
        {T0 + 4 * M: 5.0, T0 + 2 * M: 99.0},  # online never overrides an offline value
        T0,
        T0 + 6 * M,
    )
    values = history.series.values.tolist()
    assert values[0] == 1.0 and values[2] == 3.0 and values[4] == 5.0
    assert math.isnan(values[1]) and math.isnan(values[3]) and math.isnan(values[5])
    assert (history.offline_points, history.online_points) == (2, 1)


def test_partition_hour_and_minute_id() -> None:
    key = "offline/data/year=2026/month=01/day=05/hour=10/20260105T101500Z_abcdef0123456789.parquet"
    assert partition_hour(key) == T0
    assert partition_hour("offline/data/other.parquet") is None
    assert minute_id(T0 + timedelta(seconds=59)) == "2026-01-05T10:00:00Z"


# -- the reader with in-memory stores ----------------------------------------------------------
def parquet(rows: list[dict[str, Any]]) -> bytes:
    schema = pa.schema(
        [
            ("tx_minute", pa.string()),
            ("total_nb_trx_1min", pa.int64()),
            ("total_fee_1min", pa.float64()),
            ("avg_fee_1min", pa.float64()),
            ("event_time", pa.string()),
            ("write_time", pa.timestamp("ms", tz="UTC")),
            ("api_invocation_time", pa.timestamp("ms", tz="UTC")),
            ("is_deleted", pa.bool_()),
        ]
    )
    table = pa.Table.from_pylist(rows, schema=schema)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def record(minute: datetime, avg: float | None, written_after: int = 60, deleted: bool = False):
    return {
        "tx_minute": minute_id(minute),
        "total_nb_trx_1min": 3,
        "total_fee_1min": None if avg is None else avg * 3,
        "avg_fee_1min": avg,
        "event_time": minute_id(minute),
        "write_time": minute + timedelta(seconds=written_after),
        "api_invocation_time": minute + timedelta(seconds=written_after - 1),
        "is_deleted": deleted,
    }


class FakeS3:
    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.listed: list[str] = []

    def get_paginator(self, name: str) -> FakeS3:
        assert name == "list_objects_v2"
        return self

    def paginate(self, Bucket: str, Prefix: str) -> list[dict[str, Any]]:
        self.listed.append(Prefix)
        return [{"Contents": [{"Key": k} for k in sorted(self.objects) if k.startswith(Prefix)]}]

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        return {"Body": io.BytesIO(self.objects[Key])}


class FakeSageMaker:
    class exceptions:
        class ResourceNotFound(Exception):
            pass

    def __init__(self, online: bool = True) -> None:
        self.online = online

    def describe_feature_group(self, FeatureGroupName: str) -> dict[str, Any]:
        if FeatureGroupName != "fg":
            raise self.exceptions.ResourceNotFound(FeatureGroupName)
        return {
            "OfflineStoreConfig": {"S3StorageConfig": {"ResolvedOutputS3Uri": BASE}},
            "OnlineStoreConfig": {"EnableOnlineStore": self.online},
        }


class FakeOnline:
    def __init__(self, values: dict[str, float | None], unprocessed_once: bool = False) -> None:
        self.values = values
        self.calls: list[list[str]] = []
        self.unprocessed_once = unprocessed_once

    def batch_get_record(self, Identifiers: list[dict[str, Any]]) -> dict[str, Any]:
        ids = Identifiers[0]["RecordIdentifiersValueAsString"]
        self.calls.append(ids)
        if self.unprocessed_once:
            self.unprocessed_once = False
            return {"Records": [], "Errors": [], "UnprocessedIdentifiers": Identifiers}
        records = []
        for i in ids:
            if i in self.values:
                features = [{"FeatureName": "tx_minute", "ValueAsString": i}]
                if self.values[i] is not None:
                    features.append(
                        {"FeatureName": "avg_fee_1min", "ValueAsString": str(self.values[i])}
                    )
                records.append({"RecordIdentifierValueAsString": i, "Record": features})
        return {"Records": records, "Errors": [], "UnprocessedIdentifiers": []}


def key(hour: datetime, name: str) -> str:
    prefix = BASE.removeprefix("s3://bucket/")
    return f"{prefix}/year={hour:%Y}/month={hour:%m}/day={hour:%d}/hour={hour:%H}/{name}.parquet"


def test_given_offline_files_and_a_lagging_offline_store_then_the_reader_merges_both() -> None:
    """Given hour 10 offline (minute 10:02 written twice, 10:03 deleted) and an hour outside the
    window, When reading 10:00-10:10, Then latest values are used, the old hour is not read, and
    10:06-10:09 come from the online store."""
    s3 = FakeS3(
        {
            key(T0, "a"): parquet([record(T0 + i * M, float(i + 1)) for i in range(6)]),
            key(T0, "b"): parquet(
                [record(T0 + 2 * M, 30.0, 300), record(T0 + 3 * M, 4.0, 300, deleted=True)]
            ),
            key(T0 - timedelta(days=1), "old"): b"not parquet: must never be read",
        }
    )
    online = FakeOnline({minute_id(T0 + i * M): 100.0 + i for i in range(6, 10)})
    reader = FeatureHistoryReader(sagemaker=FakeSageMaker(), s3=s3, featurestore=online)
    history = reader.read("fg", T0, T0 + 10 * M, "avg_fee_1min")
    values = history.series.values.tolist()
    assert values[:3] == [1.0, 2.0, 30.0]
    assert math.isnan(values[3])
    assert values[4:] == [5.0, 6.0, 106.0, 107.0, 108.0, 109.0]
    assert history.offline_last_minute == T0 + 5 * M
    assert (history.offline_points, history.online_points, history.offline_files) == (5, 4, 2)
    assert online.calls == [[minute_id(T0 + i * M) for i in range(6, 10)]]


def test_given_more_than_100_online_minutes_then_batch_get_record_is_chunked_and_retried() -> None:
    ids = {minute_id(T0 + i * M): 1.0 for i in range(250)}
    online = FakeOnline(ids, unprocessed_once=True)
    reader = FeatureHistoryReader(sagemaker=FakeSageMaker(), s3=FakeS3({}), featurestore=online)
    history = reader.read("fg", T0, T0 + 250 * M, "avg_fee_1min")
    assert history.series.observed_count == 250
    assert [len(c) for c in online.calls] == [100, 100, 100, 50]


def test_given_an_unknown_feature_group_then_the_error_names_it() -> None:
    reader = FeatureHistoryReader(
        sagemaker=FakeSageMaker(), s3=FakeS3({}), featurestore=FakeOnline({})
    )
    with pytest.raises(FeatureHistoryError, match="'nope' does not exist"):
        reader.read("nope", T0, T0 + M, "avg_fee_1min")


# -- issue 16: concurrent, bounded offline reads; missing online minutes ------------------------
class SlowS3(FakeS3):
    """Each GetObject waits like S3's first byte (real threads overlap the waits)."""

    def __init__(self, objects: dict[str, bytes], delay: float, gate: Any = None) -> None:
        super().__init__(objects)
        self.delay, self.gate = delay, gate
        self.reads: list[str] = []

    def paginate(self, Bucket: str, Prefix: str) -> list[dict[str, Any]]:
        pages = super().paginate(Bucket, Prefix)
        for page in pages:  # S3 lists an ETag per object (the reader's cache key)
            for obj in page["Contents"]:
                obj["ETag"] = f'"{hash(obj["Key"]) & 0xFFFFFFFF:08x}"'
        return pages

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        import time

        if self.gate is not None:
            self.gate.wait()
        time.sleep(self.delay)
        self.reads.append(Key)
        return super().get_object(Bucket, Key)


def many_files(count: int) -> dict[str, bytes]:
    """`count` one-row files over the hour T0 (Feature Store writes small files)."""
    return {
        key(T0, f"f{i:05d}"): parquet([record(T0 + (i % 60) * M, float(i), written_after=i)])
        for i in range(count)
    }


def test_concurrent_and_sequential_reads_give_the_same_history() -> None:
    objects = many_files(120)
    results = []
    for concurrency in (1, 16):
        from feecast.adapters import feature_history

        feature_history._FILE_ROWS.clear()
        reader = FeatureHistoryReader(
            sagemaker=FakeSageMaker(online=False),
            s3=SlowS3(objects, delay=0.0),
            featurestore=FakeOnline({}),
            concurrency=concurrency,
        )
        history = reader.read("fg", T0, T0 + 60 * M, "avg_fee_1min")
        results.append(
            (history.series.values.tolist(), history.offline_files, history.offline_rows)
        )
    assert results[0] == results[1]
    values, files, rows = results[1]
    assert (files, rows) == (120, 120)
    assert values[0] == 60.0  # minute 0 written by files 0 and 60: the later write wins


def test_a_read_that_cannot_finish_before_the_deadline_stops_with_a_retriable_error() -> None:
    """The deadline is the Lambda's remaining time minus a reserve: past it the read stops with
    HistoryReadTimeout (retried by the state machine), never a Lambda timeout; what was parsed
    stays cached, so the retry goes further."""
    import threading

    from feecast.adapters import feature_history
    from feecast.adapters.feature_history import Deadline, HistoryReadTimeout

    feature_history._FILE_ROWS.clear()
    objects = {k: v for k, v in many_files(40).items()}
    gate = threading.Event()
    s3 = SlowS3(objects, delay=0.0, gate=gate)
    reader = FeatureHistoryReader(
        sagemaker=FakeSageMaker(online=False), s3=s3, featurestore=FakeOnline({}), concurrency=4
    )
    # Nothing can be fetched (the gate is shut) and the deadline is already near: stop.
    clock = iter([0.05, 0.0, -1.0, -1.0, -1.0])
    with pytest.raises(HistoryReadTimeout, match="of 40 offline-store files"):
        reader.read(
            "fg", T0, T0 + 60 * M, "avg_fee_1min", deadline=Deadline(lambda: next(clock, -1.0))
        )
    gate.set()
    # The fetches in flight when it stopped (4 workers) still complete and are cached.
    import time

    waited_until = time.monotonic() + 10
    while len(feature_history._FILE_ROWS) < 4 and time.monotonic() < waited_until:
        time.sleep(0.01)
    assert len(feature_history._FILE_ROWS) == 4
    # Read again with time to spare: complete, and the files fetched by the first attempt
    # (those in flight when it stopped included) are not fetched again.
    history = reader.read("fg", T0, T0 + 60 * M, "avg_fee_1min", deadline=Deadline.after(60))
    assert history.offline_files == 40 and history.offline_rows == 40
    assert len(s3.reads) == len(set(s3.reads))


def test_a_deadline_from_the_lambda_context_keeps_a_reserve() -> None:
    from feecast.adapters.feature_history import Deadline

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 120_000

    assert Deadline.from_lambda_context(Context(), reserve_seconds=60).remaining() == 60.0


class ErrorsOnline(FakeOnline):
    """BatchGetRecord reporting per-record errors (BatchGetRecordError)."""

    def __init__(self, values: dict[str, float | None], codes: dict[str, list[str]]) -> None:
        super().__init__(values)
        self.codes = codes  # record id -> error codes to answer, one per call

    def batch_get_record(self, Identifiers: list[dict[str, Any]]) -> dict[str, Any]:
        ids = [i for ident in Identifiers for i in ident["RecordIdentifiersValueAsString"]]
        self.calls.append(ids)
        records, errors = [], []
        for i in ids:
            pending = self.codes.get(i)
            if pending:
                errors.append(
                    {
                        "FeatureGroupName": "fg",
                        "RecordIdentifierValueAsString": i,
                        "ErrorCode": pending.pop(0),
                        "ErrorMessage": "x",
                    }
                )
            elif i in self.values:
                records.append(
                    {
                        "RecordIdentifierValueAsString": i,
                        "Record": [
                            {"FeatureName": "avg_fee_1min", "ValueAsString": str(self.values[i])}
                        ],
                    }
                )
        return {"Records": records, "Errors": errors, "UnprocessedIdentifiers": []}


def test_minutes_the_online_store_does_not_have_are_missing_not_errors() -> None:
    """Minutes not closed yet: left out of Records, or reported as ResourceNotFound (the
    ErrorCode refers to GetRecord's errors): both are missing minutes."""
    values = {minute_id(T0 + i * M): 10.0 + i for i in (0, 1, 2)}
    online = ErrorsOnline(values, {minute_id(T0 + 4 * M): ["ResourceNotFound"]})
    reader = FeatureHistoryReader(sagemaker=FakeSageMaker(), s3=FakeS3({}), featurestore=online)
    history = reader.read("fg", T0, T0 + 6 * M, "avg_fee_1min")
    observed = history.series.values.tolist()
    assert observed[:3] == [10.0, 11.0, 12.0]
    assert all(math.isnan(v) for v in observed[3:])
    assert len(online.calls) == 1  # nothing retried


def test_transient_per_record_errors_are_retried_and_refusals_raised() -> None:
    from feecast.adapters.errors import AwsThrottled

    values = {minute_id(T0): 1.0, minute_id(T0 + M): 2.0}
    online = ErrorsOnline(values, {minute_id(T0 + M): ["InternalFailure", "ThrottlingException"]})
    reader = FeatureHistoryReader(sagemaker=FakeSageMaker(), s3=FakeS3({}), featurestore=online)
    history = reader.read("fg", T0, T0 + 2 * M, "avg_fee_1min")
    assert history.series.values.tolist() == [1.0, 2.0]
    assert online.calls[1:] == [[minute_id(T0 + M)], [minute_id(T0 + M)]]

    failing = ErrorsOnline(values, {minute_id(T0): ["ServiceUnavailable"] * 10})
    reader = FeatureHistoryReader(sagemaker=FakeSageMaker(), s3=FakeS3({}), featurestore=failing)
    with pytest.raises(AwsThrottled):
        reader.read("fg", T0, T0 + 2 * M, "avg_fee_1min")

    refused = ErrorsOnline(values, {minute_id(T0): ["AccessForbidden"]})
    reader = FeatureHistoryReader(sagemaker=FakeSageMaker(), s3=FakeS3({}), featurestore=refused)
    with pytest.raises(FeatureHistoryError, match="AccessForbidden"):
        reader.read("fg", T0, T0 + 2 * M, "avg_fee_1min")
