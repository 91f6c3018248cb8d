"""Monitoring's use cases on adapter-shaped ports, wired by `from_adapters` as the handlers wire
the real adapters (pure: the in-memory fakes of tests/support/fakes.py stand in for AWS)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from feecast.config import FeecastConfig
from feecast.monitor.activate_monitoring import ActivationPorts, handle_endpoint_change
from feecast.monitor.events import MonitorRunRequest, parse_alarm_event, parse_endpoint_event
from feecast.monitor.monitor_endpoint import RunPorts, monitor_endpoint
from feecast.monitor.retrain_on_alarm import RetrainPorts, retrain_on_alarm
from feecast.monitor.settings import ActivationSettings, RetrainSettings, RunSettings
from feecast.series import MinuteSeries

from tests.support.fakes import (
    FakeAlarms,
    FakeEndpoints,
    FakeExecutions,
    FakeForecaster,
    FakeMetrics,
    FakeMinutes,
    FakeNotifier,
    FakeOnce,
    FakeParameters,
    FakeState,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"
CONFIG = FeecastConfig()  # prediction_length 30, threshold 0.24, confidence 90
T = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
STAGING_ALARM = "feecast-staging-accuracy"
COMMON: dict[str, Any] = {
    "project_name": "feecast",
    "ssm_prefix": "/feecast",
    "notification_topic_arn": "arn:aws:sns:eu-west-1:123456789012:feecast-notifications",
    "idempotency_table": "idem",
}


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text()))


# -- ActivateMonitoring ------------------------------------------------------------------------
def test_given_in_service_twice_then_the_alarms_actions_are_enabled_and_told_once() -> None:
    alarms = FakeAlarms(names={STAGING_ALARM}, disabled={STAGING_ALARM})
    notifier, once = FakeNotifier(), FakeOnce()
    ports = ActivationPorts.from_adapters(
        alarms=alarms, endpoints=FakeEndpoints(), notifier=notifier
    )
    change = parse_endpoint_event(load("monitor-endpoint-in-service.json"))
    settings = ActivationSettings(**COMMON)

    first, again = (
        handle_endpoint_change(change, settings, lambda: CONFIG, ports, once=once) for _ in range(2)
    )

    assert first == again and first.alarm_actions_enabled is True and first.threshold == 0.24
    assert alarms.disabled == set() and once.calls == 1
    assert notifier.subjects() == ["feecast: monitoring of feecast-staging active"]


def test_given_a_failure_without_a_reason_then_describe_endpoint_tells_it() -> None:
    endpoints = FakeEndpoints()
    endpoints.serve("feecast-production", "c", status="Failed", FailureReason="no capacity")
    notifier = FakeNotifier()
    ports = ActivationPorts.from_adapters(
        alarms=FakeAlarms(), endpoints=endpoints, notifier=notifier
    )
    event = load("monitor-endpoint-failed.json")
    del event["detail"]["FailureReason"]

    result = handle_endpoint_change(
        parse_endpoint_event(event),
        ActivationSettings(**COMMON),
        lambda: CONFIG,
        ports,
        once=FakeOnce(),
    )

    assert result.failure_reason == "no capacity"
    assert "no capacity" in notifier.sent[0]["message"]


# -- MonitorEndpoint ---------------------------------------------------------------------------
def answer(length: int = 30, value: float = 21.0) -> bytes:
    """What the DeepAR endpoint answers: one forecast in the run's quantiles."""
    quantiles = {q: [value + (float(q) - 0.5)] * length for q in ("0.05", "0.5", "0.95")}
    return json.dumps(
        {"predictions": [{"mean": [value] * length, "quantiles": quantiles}]}
    ).encode()


def test_an_hour_publishes_under_the_stages_dimensions_and_keeps_its_records_once() -> None:
    state, endpoints, metrics, once = FakeState(), FakeEndpoints(), FakeMetrics(), FakeOnce()
    endpoints.serve("feecast-staging", "config-v2")
    forecaster = FakeForecaster(answer())
    minutes = FakeMinutes(MinuteSeries(T - timedelta(days=2), np.full(2880, 20.0)))
    settings = RunSettings(**COMMON, state_table="state", feature_group_name="feecast-fee-minutes")
    ports = RunPorts.from_adapters(
        settings,
        CONFIG,
        state=state,
        endpoints=endpoints,
        forecaster=forecaster,
        metric_sink=metrics,
        history=minutes,
    )
    request = MonitorRunRequest(stage="staging", endpoint_name="feecast-staging", scheduled_time=T)

    result = monitor_endpoint(request, settings, CONFIG, ports, once=once)
    monitor_endpoint(request, settings, CONFIG, ports, once=once)  # the same hour again

    assert result.forecast_source == "recomputed" and result.loss is not None
    [(namespace, dimensions, at, values)] = metrics.put_data
    assert (namespace, at) == ("feecast", T)
    assert dimensions == {"Stage": "staging", "EndpointName": "feecast-staging"}
    assert values["Threshold"] == 0.24 and sorted(values) == result.published
    # The window asked for again at its origin, then the next forecast, from one read.
    assert len(forecaster.asked) == 2 and len(minutes.asked) == 1
    assert set(state.items) == {
        ("FORECAST#feecast-staging", "ORIGIN#2026-01-05T12:00:00Z"),
        ("SCORE#feecast-staging", "WINDOW#2026-01-05T11:00:00Z"),
    }


# -- RetrainOnAlarm ----------------------------------------------------------------------------
def retrain_ports(
    state: FakeState, executions: FakeExecutions, alarms: FakeAlarms, notifier: FakeNotifier
) -> tuple[RetrainSettings, RetrainPorts]:
    settings = RetrainSettings(
        **COMMON,
        state_table="state",
        model_build_state_machine_arn="arn:aws:states:eu-west-1:123456789012:stateMachine:feecast-model-build",
    )
    ports = RetrainPorts.from_adapters(
        settings,
        state=state,
        executions=executions,
        alarms=alarms,
        notifier=notifier,
        parameters=FakeParameters(),
    )
    return settings, ports


def test_an_alarm_starts_one_build_through_start_build_and_keeps_its_episode() -> None:
    state, executions, notifier, once = FakeState(), FakeExecutions(), FakeNotifier(), FakeOnce()
    settings, ports = retrain_ports(state, executions, FakeAlarms(names={STAGING_ALARM}), notifier)
    change = parse_alarm_event(load("retrain-accuracy-alarm.json"))

    result = retrain_on_alarm(change, settings, ports, once=once)

    assert result.outcome == "started" and result.build is not None
    assert executions.started() == [result.build.execution_name]
    episode = state.get(f"MONITOR#ALARM#{STAGING_ALARM}", "EPISODE")
    assert episode is not None and episode["execution_arn"] == result.build.execution_arn
    assert notifier.subjects() == [f"feecast: {STAGING_ALARM} ALARM - build started"]


def test_an_alarm_whose_actions_are_disabled_starts_nothing() -> None:
    state, executions, notifier = FakeState(), FakeExecutions(), FakeNotifier()
    alarms = FakeAlarms(names={STAGING_ALARM}, disabled={STAGING_ALARM})
    settings, ports = retrain_ports(state, executions, alarms, notifier)
    change = parse_alarm_event(load("retrain-accuracy-alarm.json"))

    result = retrain_on_alarm(change, settings, ports, once=FakeOnce())

    assert result.outcome == "skipped"
    assert executions.started() == [] and state.items == {} and notifier.sent == []
