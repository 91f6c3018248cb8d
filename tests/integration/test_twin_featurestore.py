"""Feature Store on the twin: runtime API (online store) and the Parquet offline store.

A small template of its own (bucket + feature group in the conventions' schema) keeps these
tests independent of the application's template.yaml.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from botocore.exceptions import ClientError

from feecast_twin.core import Twin
from feecast_twin.featurestore import FeatureStoreTwin

GROUP = "test-fee-minutes"
START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
TEMPLATE = f"""
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  DataBucket:
    Type: AWS::S3::Bucket
  FeeMinutes:
    Type: AWS::SageMaker::FeatureGroup
    Properties:
      FeatureGroupName: {GROUP}
      RecordIdentifierFeatureName: tx_minute
      EventTimeFeatureName: event_time
      FeatureDefinitions:
        - {{FeatureName: tx_minute, FeatureType: String}}
        - {{FeatureName: total_nb_trx_1min, FeatureType: Integral}}
        - {{FeatureName: total_fee_1min, FeatureType: Fractional}}
        - {{FeatureName: avg_fee_1min, FeatureType: Fractional}}
        - {{FeatureName: event_time, FeatureType: String}}
      OnlineStoreConfig: {{EnableOnlineStore: true}}
      OfflineStoreConfig:
        S3StorageConfig:
          S3Uri: !Sub "s3://${{DataBucket}}/feature-store"
      RoleArn: !Sub "arn:aws:iam::${{AWS::AccountId}}:role/feature-store"
"""
OFFLINE_KEY = re.compile(
    r"^feature-store/123456789012/sagemaker/eu-west-1/offline-store/"
    rf"{GROUP}-(\d+)/data/year=(\d{{4}})/month=(\d{{2}})/day=(\d{{2}})/hour=(\d{{2}})/"
    r"(\d{8}T\d{6}Z)_[A-Za-z0-9]{16}\.parquet$"
)


@pytest.fixture
def twin(tmp_path: Path) -> Iterator[Twin]:
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE)
    with Twin(template=template, start=START) as deployed:
        yield deployed


def minute_record(minute: datetime, count: int, total: float | None) -> list[dict[str, str]]:
    """A record as the ingest step writes it: avg_fee_1min absent when the count is 0."""
    stamp = minute.strftime("%Y-%m-%dT%H:%M:00Z")
    record = [
        {"FeatureName": "tx_minute", "ValueAsString": stamp},
        {"FeatureName": "total_nb_trx_1min", "ValueAsString": str(count)},
        {"FeatureName": "event_time", "ValueAsString": stamp},
    ]
    if total is not None:
        record.append({"FeatureName": "total_fee_1min", "ValueAsString": repr(total)})
    if count:
        assert total is not None
        record.append({"FeatureName": "avg_fee_1min", "ValueAsString": repr(total / count)})
    return record


def as_dict(record: list[dict[str, str]]) -> dict[str, str]:
    return {value["FeatureName"]: value["ValueAsString"] for value in record}


def offline_keys(twin: Twin) -> list[str]:
    s3 = twin.client("s3")
    bucket = twin.physical_id("DataBucket")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="feature-store/")
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def read_offline(twin: Twin) -> pd.DataFrame:
    s3 = twin.client("s3")
    bucket = twin.physical_id("DataBucket")
    frames = [
        pd.read_parquet(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
        for key in offline_keys(twin)
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def featurestore(twin: Twin) -> FeatureStoreTwin:
    return next(c for c in twin.components if isinstance(c, FeatureStoreTwin))


def test_put_then_get_and_batch_get_round_trip(twin: Twin) -> None:
    runtime = twin.client("sagemaker-featurestore-runtime")
    minute = START - timedelta(minutes=1)
    runtime.put_record(FeatureGroupName=GROUP, Record=minute_record(minute, 4, 1000.0))

    got = runtime.get_record(
        FeatureGroupName=GROUP, RecordIdentifierValueAsString="2026-01-05T09:59:00Z"
    )
    assert as_dict(got["Record"]) == {
        "tx_minute": "2026-01-05T09:59:00Z",
        "total_nb_trx_1min": "4",
        "event_time": "2026-01-05T09:59:00Z",
        "total_fee_1min": "1000.0",
        "avg_fee_1min": "250.0",
    }
    only = runtime.get_record(
        FeatureGroupName=GROUP,
        RecordIdentifierValueAsString="2026-01-05T09:59:00Z",
        FeatureNames=["avg_fee_1min"],
    )
    assert only["Record"] == [{"FeatureName": "avg_fee_1min", "ValueAsString": "250.0"}]
    missing = runtime.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString="nope")
    assert "Record" not in missing

    batch = runtime.batch_get_record(
        Identifiers=[
            {
                "FeatureGroupName": GROUP,
                "RecordIdentifiersValueAsString": ["2026-01-05T09:59:00Z", "nope"],
                "FeatureNames": ["total_nb_trx_1min"],
            },
            {"FeatureGroupName": "no-such-group", "RecordIdentifiersValueAsString": ["x"]},
        ]
    )
    assert batch["Records"] == [
        {
            "FeatureGroupName": GROUP,
            "RecordIdentifierValueAsString": "2026-01-05T09:59:00Z",
            "Record": [{"FeatureName": "total_nb_trx_1min", "ValueAsString": "4"}],
        }
    ]
    assert [(e["FeatureGroupName"], e["ErrorCode"]) for e in batch["Errors"]] == [
        ("no-such-group", "ResourceNotFound")
    ]
    assert batch["UnprocessedIdentifiers"] == []


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ([{"FeatureName": "total_nb_trx_1min", "ValueAsString": "1"}], "tx_minute"),
        ([{"FeatureName": "tx_minute", "ValueAsString": "2026-01-05T09:59:00Z"}], "event_time"),
        (
            [
                {"FeatureName": "tx_minute", "ValueAsString": "m"},
                {"FeatureName": "event_time", "ValueAsString": "2026-01-05 09:59:00"},
            ],
            "EventTime",
        ),
        (
            [
                {"FeatureName": "tx_minute", "ValueAsString": "m"},
                {"FeatureName": "event_time", "ValueAsString": "2026-01-05T09:59:00Z"},
                {"FeatureName": "median_fee", "ValueAsString": "1"},
            ],
            "median_fee",
        ),
        (
            [
                {"FeatureName": "tx_minute", "ValueAsString": "m"},
                {"FeatureName": "event_time", "ValueAsString": "2026-01-05T09:59:00Z"},
                {"FeatureName": "total_nb_trx_1min", "ValueAsString": "1.5"},
            ],
            "Integral",
        ),
    ],
    ids=["no-identifier", "no-event-time", "bad-event-time", "unknown-feature", "bad-type"],
)
def test_invalid_records_are_rejected_like_aws(
    twin: Twin, record: list[dict[str, str]], message: str
) -> None:
    runtime = twin.client("sagemaker-featurestore-runtime")
    with pytest.raises(ClientError) as raised:
        runtime.put_record(FeatureGroupName=GROUP, Record=record)
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert message in raised.value.response["Error"]["Message"]


def test_unknown_feature_group_is_resource_not_found(twin: Twin) -> None:
    runtime = twin.client("sagemaker-featurestore-runtime")
    with pytest.raises(runtime.exceptions.ResourceNotFound):
        runtime.put_record(FeatureGroupName="no-such-group", Record=minute_record(START, 1, 1.0))
    with pytest.raises(runtime.exceptions.ResourceNotFound):
        runtime.get_record(FeatureGroupName="no-such-group", RecordIdentifierValueAsString="x")
    with pytest.raises(ClientError, match="ResourceNotFound"):
        twin.client("sagemaker").describe_feature_group(FeatureGroupName="no-such-group")


def test_the_latest_event_time_wins_online_and_every_write_goes_offline(twin: Twin) -> None:
    """Given a record, when an older version of it arrives later, then the online store keeps
    the newer one (PutRecord: older = historic, offline only); both reach the offline store."""
    runtime = twin.client("sagemaker-featurestore-runtime")
    newer = minute_record(START, 2, 30.0)
    older = minute_record(START, 9, 90.0)
    older[2]["ValueAsString"] = "2026-01-05T09:00:00Z"  # event_time an hour earlier
    runtime.put_record(FeatureGroupName=GROUP, Record=newer)
    runtime.put_record(FeatureGroupName=GROUP, Record=older)
    got = runtime.get_record(
        FeatureGroupName=GROUP, RecordIdentifierValueAsString="2026-01-05T10:00:00Z"
    )
    assert as_dict(got["Record"])["total_nb_trx_1min"] == "2"

    corrected = minute_record(START, 3, 45.0)  # same event time: the later write wins
    runtime.put_record(FeatureGroupName=GROUP, Record=corrected)
    got = runtime.get_record(
        FeatureGroupName=GROUP, RecordIdentifierValueAsString="2026-01-05T10:00:00Z"
    )
    assert as_dict(got["Record"])["total_nb_trx_1min"] == "3"

    twin.settle()
    offline = read_offline(twin)
    assert sorted(offline["total_nb_trx_1min"]) == [2, 3, 9]


def test_offline_store_layout_types_and_missing_average(twin: Twin) -> None:
    """Given minutes over two hours (one with no transactions), when the clock ticks, then the
    offline store holds Parquet files in SageMaker's layout, readable with pandas, typed per
    the feature definitions, with null for the absent average."""
    runtime = twin.client("sagemaker-featurestore-runtime")
    minutes = [START - timedelta(minutes=2), START - timedelta(minutes=1), START]
    runtime.put_record(FeatureGroupName=GROUP, Record=minute_record(minutes[0], 4, 1000.0))
    runtime.put_record(FeatureGroupName=GROUP, Record=minute_record(minutes[1], 0, 0.0))
    runtime.put_record(FeatureGroupName=GROUP, Record=minute_record(minutes[2], 1, 7.5))
    twin.advance(timedelta(minutes=1))

    described = twin.client("sagemaker").describe_feature_group(FeatureGroupName=GROUP)
    assert described["OnlineStoreConfig"] == {"EnableOnlineStore": True}
    resolved = described["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"]
    created = int(described["CreationTime"].timestamp())
    bucket = twin.physical_id("DataBucket")
    assert resolved == (
        f"s3://{bucket}/feature-store/123456789012/sagemaker/eu-west-1/offline-store/"
        f"{GROUP}-{created}/data"
    )
    keys = offline_keys(twin)
    assert len(keys) == 2  # one file per event-time hour
    partitions = []
    for key in keys:
        match = OFFLINE_KEY.match(key)
        assert match, key
        assert f"s3://{bucket}/{key}".startswith(resolved + "/")
        partitions.append(match.groups()[1:])
    assert partitions == [
        ("2026", "01", "05", "09", "20260105T095900Z"),  # named after its latest event time
        ("2026", "01", "05", "10", "20260105T100000Z"),
    ]

    frame = read_offline(twin).sort_values("tx_minute", ignore_index=True)
    assert list(frame.columns) == [
        "tx_minute",
        "total_nb_trx_1min",
        "total_fee_1min",
        "avg_fee_1min",
        "event_time",
        "write_time",
        "api_invocation_time",
        "is_deleted",
    ]
    assert str(frame["total_nb_trx_1min"].dtype) == "int64"
    assert str(frame["avg_fee_1min"].dtype) == "float64"
    assert str(frame["is_deleted"].dtype) == "bool"
    assert str(frame["write_time"].dt.tz) == "UTC"
    assert frame["tx_minute"].tolist() == [
        "2026-01-05T09:58:00Z",
        "2026-01-05T09:59:00Z",
        "2026-01-05T10:00:00Z",
    ]
    assert frame["avg_fee_1min"].isna().tolist() == [False, True, False]
    assert frame["avg_fee_1min"][0] == 250.0
    assert (frame["write_time"] >= frame["api_invocation_time"]).all()
    assert not frame["is_deleted"].any()


def test_offline_lag_holds_records_back(twin: Twin) -> None:
    """Given an offline store 15 minutes behind, then a reader sees nothing until then."""
    featurestore(twin).offline_lag_minutes = 15
    runtime = twin.client("sagemaker-featurestore-runtime")
    runtime.put_record(FeatureGroupName=GROUP, Record=minute_record(START, 1, 3.0))
    twin.settle()
    twin.advance(timedelta(minutes=14), step=timedelta(minutes=7))
    assert offline_keys(twin) == []
    assert featurestore(twin).pending_rows == 1
    twin.advance(timedelta(minutes=2))
    assert len(offline_keys(twin)) == 1
    assert featurestore(twin).pending_rows == 0


def test_soft_and_hard_delete(twin: Twin) -> None:
    runtime = twin.client("sagemaker-featurestore-runtime")
    runtime.put_record(FeatureGroupName=GROUP, Record=minute_record(START, 2, 10.0))
    identifier = "2026-01-05T10:00:00Z"
    with pytest.raises(ClientError, match="ValidationError"):  # HardDelete must be later
        runtime.delete_record(
            FeatureGroupName=GROUP,
            RecordIdentifierValueAsString=identifier,
            EventTime="2026-01-05T09:00:00Z",
            DeletionMode="HardDelete",
        )
    runtime.delete_record(
        FeatureGroupName=GROUP,
        RecordIdentifierValueAsString=identifier,
        EventTime="2026-01-05T10:05:00Z",
    )
    assert "Record" not in runtime.get_record(
        FeatureGroupName=GROUP, RecordIdentifierValueAsString=identifier
    )
    twin.settle()
    offline = read_offline(twin).sort_values("event_time", ignore_index=True)
    assert offline["is_deleted"].tolist() == [False, True]
    assert pd.isna(offline["total_nb_trx_1min"][1])  # the marker's features are null
    # A newer record brings it back online.
    runtime.put_record(
        FeatureGroupName=GROUP, Record=minute_record(START + timedelta(minutes=10), 1, 1.0)
    )
    runtime.put_record(
        FeatureGroupName=GROUP,
        Record=[
            {"FeatureName": "tx_minute", "ValueAsString": identifier},
            {"FeatureName": "event_time", "ValueAsString": "2026-01-05T10:06:00.000Z"},
            {"FeatureName": "total_nb_trx_1min", "ValueAsString": "5"},
        ],
    )
    got = runtime.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString=identifier)
    assert as_dict(got["Record"])["total_nb_trx_1min"] == "5"


def test_ttl_expires_records_on_the_twin_clock(twin: Twin) -> None:
    runtime = twin.client("sagemaker-featurestore-runtime")
    runtime.put_record(
        FeatureGroupName=GROUP,
        Record=minute_record(START, 1, 1.0),
        TtlDuration={"Unit": "Minutes", "Value": 5},
    )
    got = runtime.get_record(
        FeatureGroupName=GROUP,
        RecordIdentifierValueAsString="2026-01-05T10:00:00Z",
        ExpirationTimeResponse="Enabled",
    )
    assert got["ExpiresAt"] == "2026-01-05T10:05:00Z"
    twin.advance(timedelta(minutes=6), step=timedelta(minutes=3))
    assert "Record" not in runtime.get_record(
        FeatureGroupName=GROUP, RecordIdentifierValueAsString="2026-01-05T10:00:00Z"
    )


def test_runtime_answers_through_moto_server(twin: Twin) -> None:
    """`feecast local serve` runs moto's server: the runtime must be routed there too."""
    pytest.importorskip("flask", reason="moto[server] (flask) is not installed")
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        runtime = boto3.client(
            "sagemaker-featurestore-runtime",
            region_name="eu-west-1",
            endpoint_url=f"http://{host}:{port}",
        )
        runtime.put_record(FeatureGroupName=GROUP, Record=minute_record(START, 6, 60.0))
        got = runtime.get_record(
            FeatureGroupName=GROUP, RecordIdentifierValueAsString="2026-01-05T10:00:00Z"
        )
        assert as_dict(got["Record"])["avg_fee_1min"] == "10.0"
        batch = runtime.batch_get_record(
            Identifiers=[
                {
                    "FeatureGroupName": GROUP,
                    "RecordIdentifiersValueAsString": ["2026-01-05T10:00:00Z"],
                }
            ]
        )
        assert len(batch["Records"]) == 1
    finally:
        server.stop()
