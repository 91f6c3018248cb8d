"""Smoke Test Staging on in-memory ports: the context it sends and the answer it accepts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from feecast.adapters.errors import AwsThrottled, NoAnswer
from feecast.deploy.smoke import SmokeTestFailed
from feecast.deploy.smoke_test import EndpointDidNotAnswer, smoke_test
from feecast.series import MINUTE, MinuteSeries, floor_minute

from tests.support.deploy import smoke_settings
from tests.support.fakes import FakeForecaster, FakeMinutes, FakeParameters


def answer(length: int = 30, quantiles: tuple[str, ...] = ("0.05", "0.5", "0.95")) -> bytes:
    base = [20.0 + i * 0.1 for i in range(length)]
    return json.dumps(
        {
            "predictions": [
                {
                    "mean": base,
                    "quantiles": {q: [v + (float(q) - 0.5) for v in base] for q in quantiles},
                }
            ]
        }
    ).encode()


def recent(observed: int) -> MinuteSeries:
    end = floor_minute(datetime.now(UTC))
    values = np.full(observed, 20.0)
    return MinuteSeries(end - observed * MINUTE, values)


def run(forecaster: FakeForecaster, minutes: FakeMinutes, **settings: Any) -> Any:
    return smoke_test(
        "feecast-staging",
        smoke_settings(**settings),
        forecaster=forecaster,
        parameters=FakeParameters(),
        history=minutes,
    )


def test_given_enough_recent_minutes_then_they_are_the_context_and_the_answer_passes() -> None:
    forecaster, minutes = FakeForecaster(answer()), FakeMinutes(recent(200))
    report = run(forecaster, minutes)
    assert report.context_source == "feature_store" and report.context_points == 200
    assert report.prediction_length == 30 and report.mean_first == pytest.approx(20.0)
    [(endpoint, body)] = forecaster.asked
    assert endpoint == "feecast-staging" and len(body["instances"]) == 1
    start, end = minutes.asked[0]
    assert end - start == timedelta(minutes=4 * 30)  # four contexts back


def test_given_too_few_minutes_then_a_synthetic_context_is_sent() -> None:
    report = run(FakeForecaster(answer()), FakeMinutes(recent(5)))
    assert report.context_source == "synthetic" and report.context_points == 30


def test_given_an_unreadable_store_then_the_endpoint_is_still_checked() -> None:
    forecaster = FakeForecaster(answer())
    report = run(forecaster, FakeMinutes(RuntimeError("Athena down")))
    assert report.context_source == "synthetic" and len(forecaster.asked) == 1


def test_given_no_answer_then_the_step_fails_naming_the_fallback() -> None:
    forecaster = FakeForecaster(NoAnswer("ModelError: container crashed"))
    with pytest.raises(EndpointDidNotAnswer, match="EndpointType=Provisioned"):
        run(forecaster, FakeMinutes(recent(200)), endpoint_type="Serverless")


def test_given_throttling_then_the_step_stays_retriable() -> None:
    with pytest.raises(AwsThrottled):
        run(FakeForecaster(AwsThrottled("InvokeEndpoint throttled")), FakeMinutes(recent(200)))


def test_given_a_short_answer_then_the_smoke_test_fails() -> None:
    with pytest.raises(SmokeTestFailed, match="expected 30"):
        run(FakeForecaster(answer(length=10)), FakeMinutes(recent(200)))
