"""Monitoring's StateTable records (feecast.monitor.records) on the shared FakeState."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from feecast.deepar import Forecast
from feecast.monitor.episode import Episode
from feecast.monitor.records import (
    EndpointState,
    EpisodeStore,
    ForecastStore,
    ScoreStore,
    StoredForecast,
    endpoint_state,
)
from feecast.monitor.rolling import RollingScore, WindowRecord

from tests.support.fakes import FakeState

T = datetime(2026, 1, 5, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


def stored(value: float, config: str | None = "cfg-1") -> StoredForecast:
    forecast = Forecast(mean=np.full(3, value), quantiles={"0.5": np.full(3, value)})
    return StoredForecast("feecast-staging", T, forecast, config, T + timedelta(seconds=5))


def test_a_forecast_is_stored_once_per_origin_and_read_back() -> None:
    store = ForecastStore(FakeState())
    assert store.put(stored(1.5)) is True
    assert store.put(stored(9.0)) is False  # a retried run does not overwrite it
    got = store.get("feecast-staging", T)
    assert got is not None and got.endpoint_config_name == "cfg-1"
    assert got.forecast.quantiles["0.5"].tolist() == [1.5, 1.5, 1.5]
    assert got.made_at == T + timedelta(seconds=5)
    assert store.get("feecast-staging", T + HOUR) is None


def test_scored_windows_are_read_by_origin_range_and_the_newest_is_the_latest() -> None:
    scores = ScoreStore(FakeState())
    for hours, loss in ((0, 0.2), (1, None), (2, 0.4)):
        record = WindowRecord(T + hours * HOUR, loss, 0.3, 10.0, "cfg-1")
        rolling = RollingScore(
            hours=3,
            windows=hours + 1,
            loss=loss,
            baseline_loss=0.3,
            ratio=None,
            complete=hours == 2,
        )
        scores.put("feecast-staging", record, rolling, T + hours * HOUR + timedelta(minutes=60))
    windows = scores.window_records("feecast-staging", T + HOUR, T + 2 * HOUR)
    assert [(w.origin, w.loss, w.weight, w.config) for w in windows] == [
        (T + HOUR, None, 10.0, "cfg-1"),
        (T + 2 * HOUR, 0.4, 10.0, "cfg-1"),
    ]
    latest = scores.latest("feecast-staging")
    assert latest is not None and latest.record.origin == T + 2 * HOUR
    assert (latest.rolling.windows, latest.rolling.loss, latest.rolling.ratio) == (3, 0.4, None)
    assert latest.rolling.complete is True and latest.scheduled_time == "2026-01-05T15:00:00Z"
    assert scores.latest("feecast-production") is None


def test_an_episode_opens_once_per_cooldown_and_keeps_only_its_own_build() -> None:
    episodes = EpisodeStore(FakeState())
    cooldown = timedelta(hours=6)
    opened, first = episodes.try_open("feecast-staging-accuracy", T, cooldown)
    assert opened and first == Episode("feecast-staging-accuracy", T)
    again, held = episodes.try_open("feecast-staging-accuracy", T + HOUR, cooldown)
    assert not again and held.started_at == T
    episodes.record_build(first, "started", "arn:exec:1")
    assert episodes.get("feecast-staging-accuracy") == Episode(
        "feecast-staging-accuracy", T, "started", "arn:exec:1"
    )
    reopened, second = episodes.try_open("feecast-staging-accuracy", T + cooldown, cooldown)
    assert reopened and second.started_at == T + cooldown
    episodes.record_build(first, "joined", "arn:exec:old")  # the replaced episode: no effect
    current = episodes.get("feecast-staging-accuracy")
    assert current is not None and current.build_status is None


def test_describe_endpoint_answers_become_an_endpoint_state() -> None:
    assert endpoint_state(None) is None
    assert endpoint_state(
        {"EndpointStatus": "Failed", "EndpointConfigName": "c", "FailureReason": "no capacity"}
    ) == EndpointState("Failed", "c", "no capacity")
