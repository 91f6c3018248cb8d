"""A monitoring hour on the twin: Feature Store minutes, a local DeepAR endpoint, the hourly
schedule, CloudWatch metrics; missing minutes and a replayed hour."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # the twin's clock at deploy
HP = {
    "epochs": "2",
    "prediction_length": "30",
    "context_length": "30",
    "time_freq": "1min",
    "mini_batch_size": "32",
    "num_cells": "16",
    "num_layers": "1",
}
IMAGE = "224300973850.dkr.ecr.eu-west-1.amazonaws.com/forecasting-deepar:1"
DIMS = {"Stage": "staging", "EndpointName": "feecast-staging"}


def fee(minute: datetime, level: float = 20.0) -> float:
    """A fee-like value for a minute: a slow wave plus deterministic noise."""
    t = minute.timestamp() / 60
    return round(level + 4 * np.sin(t / 90) + 1.5 * np.sin(t * 7.3), 3)


@pytest.fixture(scope="module")
def model_tar() -> bytes:
    """One tiny local DeepAR, trained once for this module."""
    from feecast_twin.deepar import run_training

    first = START - timedelta(days=1)
    target = [fee(first + timedelta(minutes=i)) for i in range(900)]
    record = json.dumps({"start": f"{first:%Y-%m-%d %H:%M:%S}", "target": target}).encode()
    return run_training({"train": [("train.json", record)]}, HP).model_tar


def put_minutes(
    twin: Any,
    start: datetime,
    end: datetime,
    skip: set[datetime] = frozenset(),
    level: float = 20.0,
) -> None:
    runtime = twin.client("sagemaker-featurestore-runtime")
    minute = start
    while minute < end:
        if minute not in skip:
            stamp = minute.strftime("%Y-%m-%dT%H:%M:00Z")
            avg = fee(minute, level)
            runtime.put_record(
                FeatureGroupName="feecast-fee-minutes",
                Record=[
                    {"FeatureName": "tx_minute", "ValueAsString": stamp},
                    {"FeatureName": "total_nb_trx_1min", "ValueAsString": "10"},
                    {"FeatureName": "total_fee_1min", "ValueAsString": str(avg * 10)},
                    {"FeatureName": "avg_fee_1min", "ValueAsString": str(avg)},
                    {"FeatureName": "event_time", "ValueAsString": stamp},
                ],
            )
        minute += timedelta(minutes=1)


def serve_staging(twin: Any, model_tar: bytes) -> None:
    """Create the staging endpoint as the deploy stage would; the twin takes it InService."""
    bucket = twin.physical_id("ArtifactBucket")
    twin.client("s3").put_object(Bucket=bucket, Key="models/tiny/model.tar.gz", Body=model_tar)
    sm = twin.client("sagemaker")
    sm.create_model(
        ModelName="feecast-tiny",
        ExecutionRoleArn=twin.att("SageMakerExecutionRole", "Arn"),
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": f"s3://{bucket}/models/tiny/model.tar.gz",
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName="feecast-staging-tiny",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "feecast-tiny",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 1},
            }
        ],
    )
    sm.create_endpoint(EndpointName="feecast-staging", EndpointConfigName="feecast-staging-tiny")
    twin.settle()


@pytest.mark.slow
@pytest.mark.twin(start=START)
def test_given_missing_minutes_then_reported_and_the_loss_uses_the_rest_and_a_replay_publishes_nothing(
    twin: Any, model_tar: bytes
) -> None:
    t0, t1 = START, START + timedelta(hours=1)
    gap = {t0 + timedelta(minutes=m) for m in (4, 5, 21)}
    put_minutes(twin, t0 - timedelta(hours=25), t1, skip=gap)
    serve_staging(twin, model_tar)  # IN_SERVICE -> the staging schedule is enabled
    assert (
        twin.client("scheduler").get_schedule(Name="feecast-staging-monitoring")["State"]
        == "ENABLED"
    )

    # The run at 12:00 forecasts 12:00-12:30 and stores it (invoked as the schedule would).
    first = twin.invoke(
        "MonitorEndpointFunction",
        {
            "stage": "staging",
            "endpoint_name": "feecast-staging",
            "scheduled_time": "2026-01-05T12:00:00Z",
        },
    )
    assert first["next_forecast"]["stored"] is True
    assert first["forecast_source"] == "recomputed"  # nothing stored yet: 11:00-11:30 re-asked

    # An hour later the schedule fires on its own: the stored forecast is scored.
    twin.advance(timedelta(hours=1), step=timedelta(minutes=30))
    losses = twin.metric_data("feecast", "WeightedQuantileLoss", DIMS)
    assert [ts for ts, _ in losses] == [t0, t1]
    assert 0 < losses[1][1] < 1
    baseline = twin.metric_data("feecast", "BaselineWeightedQuantileLoss", DIMS)
    assert [ts for ts, _ in baseline] == [t0, t1]
    assert twin.metric_data("feecast", "Threshold", DIMS) == [(t0, 0.24), (t1, 0.24)]

    # Replaying 13:00 returns the first result and publishes nothing again.
    replay = twin.invoke(
        "MonitorEndpointFunction",
        {
            "stage": "staging",
            "endpoint_name": "feecast-staging",
            "scheduled_time": "2026-01-05T13:00:00Z",
        },
    )
    assert replay["replayed"] is True
    assert replay["forecast_source"] == "stored"
    assert replay["missing_minutes"] == 3
    assert replay["missing_at"] == [
        "2026-01-05T12:04:00Z",
        "2026-01-05T12:05:00Z",
        "2026-01-05T12:21:00Z",
    ]
    assert replay["evaluated_minutes"] == 27 and replay["model"]["evaluated"] == 27
    assert replay["loss"] == pytest.approx(losses[1][1])
    assert len(twin.metric_data("feecast", "WeightedQuantileLoss", DIMS)) == 2
    missing = [v for _, v in twin.metric_data("feecast", "MissingActualMinutes") if v]
    assert missing == [3.0]  # EMF: the 13:00 run saw 3 missing minutes, the replay added none
