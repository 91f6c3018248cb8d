"""The hourly run's comparison: the window, missing minutes, the baseline, stored vs recomputed
forecasts, what is published (pure: the AWS ports are in-memory fakes)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from feecast.config import FeecastConfig
from feecast.deepar import Forecast, from_record
from feecast.monitor.events import MonitorRunRequest
from feecast.monitor.monitor_endpoint import RunPorts, run_hour
from feecast.monitor.records import EndpointState, StoredForecast
from feecast.monitor.rolling import RollingScore, WindowRecord
from feecast.monitor.window import evaluation_window, score_window
from feecast.series import MINUTE, MinuteSeries

T = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
ORIGIN = T - timedelta(hours=1)
Q = ["0.05", "0.5", "0.95"]
CONFIG = FeecastConfig()  # prediction_length 30, threshold 0.24, confidence 90


def fees(start: datetime, minutes: int, seed: int = 7) -> MinuteSeries:
    """A positive fee-like series: a daily wave plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(minutes)
    values = 20 + 5 * np.sin(2 * np.pi * t / 1440) + rng.normal(0, 1.0, minutes)
    return MinuteSeries(start, values)


def flat_forecast(value: float, length: int = 30, spread: float = 2.0) -> Forecast:
    base = np.full(length, value)
    return Forecast(
        mean=base, quantiles={"0.05": base - spread, "0.5": base, "0.95": base + spread}
    )


def test_window_scores_the_previous_runs_forecast_on_minutes_that_closed_30_minutes_ago() -> None:
    window = evaluation_window(T, prediction_length=30)
    assert (window.start, window.end, window.minutes) == (ORIGIN, ORIGIN + 30 * MINUTE, 30)


def test_a_horizon_longer_than_the_run_interval_is_cut_at_the_scheduled_time() -> None:
    window = evaluation_window(T + timedelta(seconds=42), prediction_length=90)
    assert (window.start, window.end) == (ORIGIN, T)


def test_given_missing_actual_minutes_then_they_are_counted_and_left_out_not_zero() -> None:
    history = fees(T - timedelta(days=1), 1440)
    values = history.values.copy()
    gap = [history.index_of(ORIGIN + i * MINUTE) for i in (3, 4, 17)]
    values[gap] = np.nan
    holed = MinuteSeries(history.start, values)
    window = evaluation_window(T, 30)
    forecast = flat_forecast(20.0)

    score = score_window(holed, window, forecast, Q)

    assert score.missing_minutes == 3
    assert score.missing_at == tuple(ORIGIN + i * MINUTE for i in (3, 4, 17))
    assert score.model is not None and score.model.evaluated == 27 and score.model.missing == 3
    # Same loss as scoring only the 27 observed minutes; a zero would have inflated it.
    keep = [i for i in range(30) if i not in (3, 4, 17)]
    actual = holed.window(window.start, window.end).values[keep]
    only_observed = score_window(
        MinuteSeries(ORIGIN, actual),
        evaluation_window(ORIGIN + timedelta(hours=1), 27),
        Forecast(
            mean=forecast.mean[keep], quantiles={k: v[keep] for k, v in forecast.quantiles.items()}
        ),
        Q,
    )
    assert score.loss == pytest.approx(only_observed.loss)
    assert score.baseline_loss is not None


def test_given_every_actual_minute_missing_then_no_loss_and_the_reason_is_given() -> None:
    history = fees(T - timedelta(days=1), 1440)
    values = history.values.copy()
    values[history.index_of(ORIGIN) : history.index_of(ORIGIN) + 30] = np.nan
    score = score_window(
        MinuteSeries(history.start, values), evaluation_window(T, 30), flat_forecast(20), Q
    )
    assert score.loss is None and score.baseline_loss is None
    assert score.missing_minutes == 30
    assert any("every actual point is missing" in n for n in score.notes)


def test_given_actuals_that_sum_to_zero_then_the_loss_is_undefined_not_infinite() -> None:
    history = fees(T - timedelta(days=1), 1440)
    values = history.values.copy()
    values[history.index_of(ORIGIN) : history.index_of(ORIGIN) + 30] = 0.0
    score = score_window(
        MinuteSeries(history.start, values), evaluation_window(T, 30), flat_forecast(1), Q
    )
    assert score.loss is None
    assert any("sum of |actual|" in n for n in score.notes)


# -- run_hour with fakes ----------------------------------------------------------------------
@dataclass
class FakeAws:
    history: MinuteSeries
    state: EndpointState | None = field(
        default_factory=lambda: EndpointState("InService", "config-v2")
    )
    answer: float = 21.0
    stored: dict[tuple[str, datetime], StoredForecast] = field(default_factory=dict)
    published: list[tuple[str, str, str, datetime, dict[str, float]]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    windows: dict[datetime, WindowRecord] = field(default_factory=dict)
    rolling: list[RollingScore] = field(default_factory=list)

    def read(self, start: datetime, end: datetime) -> MinuteSeries:
        return self.history.window(start, end)

    def invoke(self, endpoint: str, body: dict[str, Any]) -> list[Forecast]:
        self.requests.append(body)
        return [flat_forecast(self.answer)]

    def put(self, stored: StoredForecast) -> bool:
        key = (stored.endpoint, stored.origin)
        if key in self.stored:
            return False
        self.stored[key] = stored
        return True

    def ports(self) -> RunPorts:
        return RunPorts(
            read_minutes=self.read,
            describe_endpoint=lambda name: self.state,
            invoke=self.invoke,
            get_forecast=lambda endpoint, origin: self.stored.get((endpoint, origin)),
            put_forecast=self.put,
            publish=lambda *args: self.published.append(args),
            now=lambda: T + timedelta(seconds=5),
            get_windows=lambda endpoint, a, b: [
                r for o, r in sorted(self.windows.items()) if a <= o <= b
            ],
            put_window=self.put_window,
        )

    def put_window(
        self, endpoint: str, record: WindowRecord, rolling: RollingScore, at: datetime
    ) -> None:
        self.windows[record.origin] = record
        self.rolling.append(rolling)


REQUEST = MonitorRunRequest(stage="staging", endpoint_name="feecast-staging", scheduled_time=T)


def run(fake: FakeAws) -> dict[str, Any]:
    """The run's result as the handler answers it (JSON)."""
    result = run_hour(REQUEST, CONFIG, fake.ports(), namespace="feecast", history_minutes=1440)
    return result.model_dump(mode="json")


def test_given_a_stored_forecast_from_the_current_model_then_it_is_scored_and_published() -> None:
    fake = FakeAws(fees(T - timedelta(days=2), 2880))
    fake.stored[("feecast-staging", ORIGIN)] = StoredForecast(
        "feecast-staging", ORIGIN, flat_forecast(20.0), "config-v2", ORIGIN
    )
    result = run(fake)

    assert result["forecast_source"] == "stored"
    ((namespace, stage, endpoint, at, values),) = fake.published
    assert (namespace, stage, endpoint, at) == ("feecast", "staging", "feecast-staging", T)
    # The model's first scored hour: its pool is not complete, so the alarm's metric waits.
    assert set(values) == {
        "WeightedQuantileLoss",
        "BaselineWeightedQuantileLoss",
        "RollingBaselineWeightedQuantileLoss",
        "ModelToNaiveRatio",
        "Threshold",
    }
    assert values["Threshold"] == 0.24
    assert values["WeightedQuantileLoss"] == pytest.approx(result["loss"])
    assert result["rolling"]["complete"] is False and result["rolling"]["windows"] == 1
    assert values["ModelToNaiveRatio"] == pytest.approx(result["loss"] / result["baseline_loss"])
    assert fake.windows[ORIGIN].config == "config-v2" and fake.windows[ORIGIN].weight > 0
    # The next forecast: asked with history up to T, in quantiles of the confidence, stored.
    assert result["next_forecast"]["stored"] is True
    stored_next = fake.stored[("feecast-staging", T)]
    assert stored_next.endpoint_config_name == "config-v2"
    (body,) = fake.requests
    assert body["configuration"]["quantiles"] == Q
    context = from_record(body["instances"][0])
    assert context.end == T and len(context) == 1440


def test_given_no_stored_forecast_then_the_endpoint_is_asked_for_the_same_window() -> None:
    fake = FakeAws(fees(T - timedelta(days=2), 2880))
    result = run(fake)
    assert result["forecast_source"] == "recomputed"
    first, second = (from_record(b["instances"][0]) for b in fake.requests)
    assert first.end == ORIGIN  # only history before the window's origin
    assert second.end == T
    assert result["loss"] is not None


def test_given_a_forecast_stored_by_a_previous_model_then_the_new_model_is_scored() -> None:
    fake = FakeAws(fees(T - timedelta(days=2), 2880))
    fake.stored[("feecast-staging", ORIGIN)] = StoredForecast(
        "feecast-staging", ORIGIN, flat_forecast(99.0), "config-v1", ORIGIN
    )
    assert run(fake)["forecast_source"] == "recomputed"


def test_given_the_endpoint_is_gone_then_the_stored_forecast_is_still_scored_and_none_stored() -> (
    None
):
    fake = FakeAws(fees(T - timedelta(days=2), 2880), state=None)
    fake.stored[("feecast-staging", ORIGIN)] = StoredForecast(
        "feecast-staging", ORIGIN, flat_forecast(20.0), "config-v2", ORIGIN
    )
    result = run(fake)
    assert result["forecast_source"] == "stored" and result["loss"] is not None
    assert result["next_forecast"]["stored"] is False
    assert "not serving" in result["next_forecast"]["reason"]
    assert fake.requests == []


def test_given_no_forecast_at_all_then_only_baseline_and_threshold_are_published() -> None:
    fake = FakeAws(fees(T - timedelta(days=2), 2880), state=EndpointState("Creating", "c"))
    result = run(fake)
    ((_, _, _, _, values),) = fake.published
    assert "WeightedQuantileLoss" not in values
    assert set(values) == {"BaselineWeightedQuantileLoss", "Threshold"}
    assert result["loss"] is None and result["forecast_source"] == "none"


def test_missing_minutes_are_reported_in_the_result() -> None:
    history = fees(T - timedelta(days=2), 2880)
    values = history.values.copy()
    values[history.index_of(ORIGIN + 5 * MINUTE)] = math.nan
    result = run(FakeAws(MinuteSeries(history.start, values)))
    assert result["missing_minutes"] == 1
    assert result["missing_at"] == ["2026-01-05T11:05:00Z"]
    assert result["evaluated_minutes"] == 29


def test_given_no_endpoint_and_nothing_stored_then_the_run_is_skipped_without_reads() -> None:
    """The schedules are always enabled (template.yaml owns their state, issue 16 defect 2): an
    hour without the stage's endpoint costs one DescribeEndpoint and publishes nothing."""

    class NoReads(FakeAws):
        def read(self, start: datetime, end: datetime) -> MinuteSeries:
            raise AssertionError("no history read for an absent endpoint")

    fake = NoReads(fees(T - timedelta(days=2), 2880), state=None)
    ports = fake.ports()
    ports.read_minutes = fake.read
    result = run_hour(REQUEST, CONFIG, ports, namespace="feecast").model_dump(mode="json")
    assert result["skipped"] == "endpoint feecast-staging does not exist"
    assert result["published"] == [] and fake.published == [] and fake.requests == []


def test_the_rolling_loss_pools_the_last_hours_of_the_current_model_only() -> None:
    fake = FakeAws(fees(T - timedelta(days=2), 2880))
    hour = timedelta(hours=1)
    # Earlier windows of the current model, one of the previous model, one too old (6 hours).
    fake.windows[ORIGIN - hour] = WindowRecord(ORIGIN - hour, 0.5, 0.4, 100.0, "config-v2")
    fake.windows[ORIGIN - 2 * hour] = WindowRecord(ORIGIN - 2 * hour, 0.1, 0.2, 300.0, "config-v1")
    fake.windows[ORIGIN - 6 * hour] = WindowRecord(ORIGIN - 6 * hour, 9.0, 9.0, 100.0, "config-v2")
    result = run(fake)
    own = fake.windows[ORIGIN]
    expected = (0.5 * 100 + own.loss * own.weight) / (100 + own.weight)  # type: ignore[operator]
    assert result["rolling"]["windows"] == 2 and result["rolling"]["complete"] is False
    assert result["rolling"]["loss"] == pytest.approx(expected)
    ratio = (0.5 * 100 + own.loss * own.weight) / (0.4 * 100 + own.baseline_loss * own.weight)  # type: ignore[operator]
    assert result["rolling"]["ratio"] == pytest.approx(ratio)
    ((_, _, _, _, values),) = fake.published
    assert "RollingWeightedQuantileLoss" not in values  # the previous model's hour is in the pool


def test_a_complete_pool_of_the_current_model_is_published_for_the_alarm() -> None:
    fake = FakeAws(fees(T - timedelta(days=2), 2880))
    hour = timedelta(hours=1)
    for k in range(1, 6):  # the five hours before: all scored for the current model
        fake.windows[ORIGIN - k * hour] = WindowRecord(
            ORIGIN - k * hour, 0.2, 0.25, 100.0, "config-v2"
        )
    result = run(fake)
    own = fake.windows[ORIGIN]
    expected = (0.2 * 500 + own.loss * own.weight) / (500 + own.weight)  # type: ignore[operator]
    assert result["rolling"]["complete"] is True and result["rolling"]["windows"] == 6
    ((_, _, _, _, values),) = fake.published
    assert values["RollingWeightedQuantileLoss"] == pytest.approx(expected)
