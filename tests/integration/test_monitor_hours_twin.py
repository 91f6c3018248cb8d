"""Monitoring on the twin: Feature Store minutes, a local DeepAR endpoint, the hourly schedule,
CloudWatch metrics and alarm evaluation. A monitoring hour with missing minutes and a replayed
hour; then the clock running fast through a fee regime change until the alarm starts one build."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from tests.support.drivers import MONITOR_HP as HP
from tests.support.drivers import MONITOR_START as START
from tests.support.drivers import fee, put_minutes
from tests.support.models import tiny_model_tar

DIMS = {"Stage": "staging", "EndpointName": "feecast-staging"}


@pytest.fixture(scope="module")
def model_tar() -> bytes:
    """One tiny local DeepAR, trained once for this module."""
    first = START - timedelta(days=1)
    return tiny_model_tar(first, [fee(first + timedelta(minutes=i)) for i in range(900)], **HP)


@pytest.mark.slow
@pytest.mark.twin(start=START)
def test_given_missing_minutes_then_reported_and_the_loss_uses_the_rest_and_a_replay_publishes_nothing(
    twin: Any, model_tar: bytes, serve_stage: Any
) -> None:
    t0, t1 = START, START + timedelta(hours=1)
    gap = {t0 + timedelta(minutes=m) for m in (4, 5, 21)}
    put_minutes(twin, t0 - timedelta(hours=25), t1, skip=gap)
    serve_stage(twin, model_tar, "staging")  # IN_SERVICE -> the staging alarm is set
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


# -- the clock running fast --------------------------------------------------------------------
def chaotic(minute: datetime) -> float:
    """The new regime: fees jump around by a factor of e^±2 from minute to minute."""
    rng = np.random.default_rng(int(minute.timestamp()))
    return round(float(fee(minute) * np.exp(2.0 * rng.standard_normal())), 3)


def put_hour(twin: Any, start: datetime, value: Any) -> None:
    put_minutes(twin, start, start + timedelta(hours=1), value=value)


def alarm_state(twin: Any) -> str:
    alarms = twin.client("cloudwatch").describe_alarms(AlarmNames=["feecast-staging-accuracy"])
    return str(alarms["MetricAlarms"][0]["StateValue"])


@pytest.mark.slow
@pytest.mark.twin(start=START, overrides={"AccuracyAlarmBreaches": "3"})
def test_given_a_fee_regime_change_then_the_alarm_fires_after_3_breaches_and_one_build_starts(
    twin: Any, model_tar: bytes, serve_stage: Any
) -> None:
    # Builds started by the alarm train a tiny model (the defaults would train 182 epochs).
    twin.client("ssm").put_parameter(
        Name="/feecast/hyperparameters",
        Value=json.dumps({"epochs": 1, "mini_batch_size": 32, "num_cells": 8, "num_layers": 1}),
        Overwrite=True,
    )
    # The tiny test model scores ~0.25 on normal fees: each hourly run publishes the threshold
    # SSM holds, which the alarm compares with. A one-hour alarm pool keeps the test to seven hours (the
    # template's six-hour pool is complete only after six runs: tests/unit/test_monitor_run.py);
    # every alarm rebuilds here (the diagnosis itself: tests/unit/test_monitor_retrain.py).
    twin.client("ssm").put_parameter(
        Name="/feecast/validation",
        Value=json.dumps(
            {
                "threshold": 0.4,
                "confidence": 90,
                "alarm_window_hours": 1,
                "retrain_when": "any",
            }
        ),
        Overwrite=True,
    )
    put_minutes(twin, START - timedelta(days=2), START)
    serve_stage(twin, model_tar, "staging")

    regime_change = START + timedelta(hours=2)
    alarm_at = None
    for hour in range(7):
        now = START + timedelta(hours=hour)
        put_hour(twin, now, fee if now < regime_change else chaotic)
        twin.advance(timedelta(hours=1), step=timedelta(minutes=30))
        state = twin.client("cloudwatch").describe_alarms(AlarmNames=["feecast-staging-accuracy"])
        if alarm_at is None and state["MetricAlarms"][0]["StateValue"] == "ALARM":
            alarm_at = twin.clock.now()

    losses = dict(twin.metric_data("feecast", "WeightedQuantileLoss", DIMS))
    hours = sorted(losses)
    assert hours == [START + timedelta(hours=h) for h in range(1, 8)]  # one datapoint per run
    before = [v for t, v in losses.items() if t <= regime_change]
    after = [v for t, v in losses.items() if t > regime_change]
    assert max(before) < 0.4 < min(after), losses
    assert {v for _, v in twin.metric_data("feecast", "Threshold", DIMS)} == {0.4}
    # The alarm's metric: with a one-hour pool, each hour's loss.
    rolling = dict(twin.metric_data("feecast", "RollingWeightedQuantileLoss", DIMS))
    assert rolling == pytest.approx(losses)
    # Three consecutive breaching hours (15:00, 16:00, 17:00 score 14:00-14:30 .. 16:00-16:30).
    assert alarm_at is not None and alarm_at >= regime_change + timedelta(hours=3)

    builds = [
        r
        for r in twin.records_of("execution-started")
        if r.get("state_machine") == "ModelBuildStateMachine"
    ]
    assert len(builds) == 1 and builds[0]["name"].startswith("alarm-feecast-staging-accuracy")
    assert [v for _, v in twin.metric_data("feecast", "RetrainingsStarted") if v] == [1.0]


@pytest.mark.slow
@pytest.mark.twin(start=START)
def test_given_a_threshold_lowered_in_ssm_then_the_alarm_follows_from_the_next_hourly_run(
    twin: Any, model_tar: bytes, serve_stage: Any
) -> None:
    """The accuracy alarm is the template's (metric math: rolling loss - published threshold):
    a threshold changed in SSM reaches it through the next hourly run, with no deployment and
    no change to the alarm itself."""
    twin.client("ssm").put_parameter(
        Name="/feecast/hyperparameters",
        Value=json.dumps({"epochs": 1, "mini_batch_size": 32, "num_cells": 8, "num_layers": 1}),
        Overwrite=True,
    )
    validation = {"threshold": 0.6, "confidence": 90, "alarm_window_hours": 1}
    twin.client("ssm").put_parameter(
        Name="/feecast/validation", Value=json.dumps(validation), Overwrite=True
    )
    put_minutes(twin, START - timedelta(days=2), START)
    serve_stage(twin, model_tar, "staging")
    cloudwatch = twin.client("cloudwatch")
    deployed = cloudwatch.describe_alarms(AlarmNames=["feecast-staging-accuracy"])["MetricAlarms"][
        0
    ]

    def hour(h: int) -> None:
        put_hour(twin, START + timedelta(hours=h), fee)
        twin.advance(timedelta(hours=1), step=timedelta(minutes=30))
        # The run at the hour publishes after that minute's evaluation: the next one sees it.
        twin.advance(timedelta(minutes=1))

    for h in range(3):  # normal fees, the loss well under 0.6 (the clock stays a minute ahead)
        hour(h)
    assert alarm_state(twin) == "OK"

    # An operator lowers the threshold under the model's normal loss (~0.25), by hand.
    twin.client("ssm").put_parameter(
        Name="/feecast/validation",
        Value=json.dumps({**validation, "threshold": 0.05}),
        Overwrite=True,
    )
    changed_at = twin.clock.now()
    hour(3)
    thresholds = twin.metric_data("feecast", "Threshold", DIMS)
    assert [v for t, v in thresholds if t < changed_at] == [0.6] * 3
    assert [v for t, v in thresholds if t > changed_at] == [0.05]  # the next run published it
    assert alarm_state(twin) == "OK"  # one breaching hour of AccuracyAlarmBreaches (2)
    hour(4)
    assert alarm_state(twin) == "ALARM"

    losses = [v for _, v in twin.metric_data("feecast", "RollingWeightedQuantileLoss", DIMS)]
    assert losses[-2:] and min(losses[-2:]) > 0.05
    now = cloudwatch.describe_alarms(AlarmNames=["feecast-staging-accuracy"])["MetricAlarms"][0]
    assert (
        now["AlarmConfigurationUpdatedTimestamp"] == deployed["AlarmConfigurationUpdatedTimestamp"]
    )
    assert now["Metrics"] == deployed["Metrics"]
