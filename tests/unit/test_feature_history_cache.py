"""The offline reader parses each Parquet file once per container (keyed by its ETag)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from feecast.adapters import feature_history
from feecast.adapters.feature_history import FeatureHistoryReader, minute_id

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
M = timedelta(minutes=1)
BASE = "s3://bucket/offline/fg/data"


def parquet(values: dict[datetime, float], written: datetime) -> bytes:
    table = pa.Table.from_pylist(
        [
            {"tx_minute": minute_id(m), "avg_fee_1min": v, "write_time": written}
            for m, v in values.items()
        ],
        schema=pa.schema(
            [
                ("tx_minute", pa.string()),
                ("avg_fee_1min", pa.float64()),
                ("write_time", pa.timestamp("ms", tz="UTC")),
            ]
        ),
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


class S3:
    """list_objects_v2 with ETags (as S3 returns them) and a count of GetObject calls."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.gets: list[str] = []

    def put(self, name: str, body: bytes, etag: str) -> None:
        key = f"offline/fg/data/year=2026/month=01/day=05/hour=10/{name}.parquet"
        self.objects[key] = (body, etag)

    def get_paginator(self, name: str) -> S3:
        return self

    def paginate(self, Bucket: str, Prefix: str) -> list[dict[str, Any]]:
        found = [{"Key": k, "ETag": e} for k, (_, e) in sorted(self.objects.items())]
        return [{"Contents": [o for o in found if o["Key"].startswith(Prefix)]}]

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        self.gets.append(Key.rsplit("/", 1)[-1])
        return {"Body": io.BytesIO(self.objects[Key][0])}


class SageMaker:
    def describe_feature_group(self, FeatureGroupName: str) -> dict[str, Any]:
        return {"OfflineStoreConfig": {"S3StorageConfig": {"ResolvedOutputS3Uri": BASE}}}


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    feature_history._FILE_ROWS.clear()


def _read(s3: S3) -> list[float]:
    reader = FeatureHistoryReader(sagemaker=SageMaker(), s3=s3, featurestore=object())
    return reader.read("fg", T0, T0 + 3 * M, "avg_fee_1min").series.values.tolist()


def test_given_a_second_read_then_only_new_or_changed_files_are_fetched() -> None:
    s3 = S3()
    s3.put("a", parquet({T0: 1.0, T0 + M: 2.0}, T0 + 5 * M), '"etag-a"')
    assert _read(s3) == [1.0, 2.0, pytest.approx(float("nan"), nan_ok=True)]
    assert s3.gets == ["a.parquet"]

    s3.put("b", parquet({T0 + 2 * M: 3.0}, T0 + 6 * M), '"etag-b"')
    assert _read(s3) == [1.0, 2.0, 3.0]
    assert s3.gets == ["a.parquet", "b.parquet"]  # "a" came from the cache

    # An object rewritten under the same key has a new ETag: it is read again.
    s3.put("a", parquet({T0: 10.0, T0 + M: 20.0}, T0 + 7 * M), '"etag-a2"')
    assert _read(s3) == [10.0, 20.0, 3.0]
    assert s3.gets == ["a.parquet", "b.parquet", "a.parquet"]


def test_given_no_etag_then_nothing_is_cached() -> None:
    s3 = S3()
    s3.put("a", parquet({T0: 1.0}, T0 + 5 * M), "")
    _read(s3)
    _read(s3)
    assert s3.gets == ["a.parquet", "a.parquet"]
    assert not feature_history._FILE_ROWS
