"""The naive probabilistic baseline (feecast.baseline)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from feecast.baseline import naive_forecast, seasonal_naive_forecast
from feecast.deepar import Forecast
from feecast.metrics import wql_from_forecasts
from feecast.series import MinuteSeries
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

Q = ["0.05", "0.5", "0.95"]


def test_given_constant_growth_then_every_quantile_continues_the_growth() -> None:
    """y[t] = 1.01**t: every k-step log-ratio is k*log(1.01), so all quantiles coincide."""
    history = 100 * 1.01 ** np.arange(200.0)
    f = naive_forecast(history, 5, Q, min_pairs=10)
    expected = history[-1] * 1.01 ** np.arange(1.0, 6.0)
    for key in Q:
        np.testing.assert_allclose(f.quantiles[key], expected, rtol=1e-9)
    np.testing.assert_allclose(f.mean, expected, rtol=1e-9)


def test_given_a_zero_in_history_then_additive_differences_are_used() -> None:
    """y[t] = t (starts at 0, so no log-ratio): every k-step difference is k."""
    history = np.arange(0.0, 100.0)
    f = naive_forecast(history, 3, Q, min_pairs=10)
    for key in Q:
        np.testing.assert_allclose(f.quantiles[key], [100.0, 101.0, 102.0])
    np.testing.assert_allclose(f.mean, [100.0, 101.0, 102.0])


def test_given_a_gap_at_the_end_then_lags_count_from_the_last_observation() -> None:
    """Last observed y=94 at t=94, five missing minutes after: horizon 1 is t=100 -> 100."""
    history = np.arange(0.0, 100.0)
    history[-5:] = np.nan
    f = naive_forecast(history, 2, [0.5], min_pairs=10)
    np.testing.assert_allclose(f.quantiles["0.5"], [100.0, 101.0])


def test_given_missing_points_then_changes_never_bridge_them() -> None:
    """Changes at odd lags need an even and an odd index; every odd index is missing."""
    history = np.arange(1.0, 202.0)
    history[1::2] = np.nan  # 201 minutes: the last one (index 200) is observed, so lag = h
    with pytest.raises(ValueError, match="0 pairs of observed points 1 minutes apart"):
        naive_forecast(history, 1, [0.5], min_pairs=1)


def test_given_known_empirical_changes_then_quantiles_and_mean_follow_them() -> None:
    """Ratios alternate x2 and x0.5: 1-step log-ratios are +-log 2, half each."""
    history = np.array([1.0, 2.0] * 50)
    f = naive_forecast(history, 1, [0.05, 0.5, 0.95], min_pairs=10)
    last = 2.0
    changes = np.diff(np.log(history))
    assert f.quantiles["0.05"][0] == pytest.approx(last * 0.5)
    assert f.quantiles["0.95"][0] == pytest.approx(last * 2.0)
    assert f.quantiles["0.5"][0] == pytest.approx(last * np.exp(np.quantile(changes, 0.5)))
    # mean of the ratios (2 and 0.5, 50 and 49 times) times the last value
    assert f.mean[0] == pytest.approx(last * np.mean(np.exp(changes)))


def test_given_max_history_then_only_recent_changes_count() -> None:
    """Wild moves long ago, flat recently: a short window forecasts flat quantiles."""
    rng = np.random.default_rng(1)
    history = np.concatenate([rng.uniform(1, 100, 500), np.full(100, 7.0)])
    f = naive_forecast(history, 3, Q, max_history=60, min_pairs=10)
    for key in Q:
        np.testing.assert_allclose(f.quantiles[key], 7.0)
    wide = naive_forecast(history, 3, Q, max_history=None, min_pairs=10)
    assert wide.quantiles["0.95"][0] > 7.0 * 1.5


def test_given_a_minute_series_then_its_values_are_used() -> None:
    values = 50 * 1.02 ** np.arange(100.0)
    s = MinuteSeries(datetime(2024, 1, 1, tzinfo=UTC), values)
    f = naive_forecast(s, 2, [0.5], min_pairs=10)
    np.testing.assert_allclose(f.quantiles["0.5"], values[-1] * 1.02 ** np.array([1.0, 2.0]))


def test_given_the_defaults_then_a_week_of_history_gives_a_forecast_scored_like_deepar() -> None:
    rng = np.random.default_rng(7)
    y = 20 * np.exp(np.cumsum(rng.normal(0, 0.05, 10_080 + 30)))
    history, actual = y[:-30], y[-30:]
    f = naive_forecast(history, 30, Q)
    assert isinstance(f, Forecast)
    assert len(f) == 30
    assert list(f.quantiles) == ["0.05", "0.5", "0.95"]
    result = wql_from_forecasts(actual, [f], Q)
    assert result.defined and result.mean is not None and 0 < result.mean < 1


@pytest.mark.parametrize(
    ("history", "kwargs", "expected"),
    [
        (np.full(100, np.nan), {}, "history has no observed value"),
        (np.array([]), {}, "history has no observed value"),
        (np.arange(1.0, 20.0), {}, "too little history: 18 pairs"),
        (np.arange(1.0, 200.0), {"max_history": 20, "min_pairs": 30}, "in the last 20 minutes"),
        (np.ones((10, 2)), {}, "must be 1-D"),
        (np.array([1.0, np.inf] * 50), {}, "infinite"),
        (np.arange(1.0, 100.0), {"prediction_length": 0}, "prediction_length must be >= 1"),
        (np.arange(1.0, 100.0), {"prediction_length": 2.0}, "prediction_length must be an integer"),
        (np.arange(1.0, 100.0), {"quantiles": []}, "no quantiles"),
        (np.arange(1.0, 100.0), {"quantiles": [0.5, "0.50"]}, "duplicate"),
        (np.arange(1.0, 100.0), {"quantiles": [1.0]}, "between 0 and 1"),
        (np.arange(1.0, 100.0), {"max_history": 1}, "max_history must be >= 2"),
        (np.arange(1.0, 100.0), {"min_pairs": 0}, "min_pairs must be >= 1"),
    ],
)
def test_given_bad_input_then_value_error_with_reason(
    history: Any, kwargs: dict[str, Any], expected: str
) -> None:
    args: dict[str, Any] = {"prediction_length": 1, "quantiles": [0.5]} | kwargs
    with pytest.raises(ValueError, match=expected):
        naive_forecast(history, **args)


def test_given_a_long_horizon_then_the_error_names_the_horizon_that_lacks_pairs() -> None:
    with pytest.raises(ValueError, match="for horizon 21"):
        naive_forecast(np.arange(1.0, 51.0), 30, [0.5], min_pairs=30)


# -- properties -----------------------------------------------------------------------------
levels = st.lists(
    st.floats(0.01, 0.99).map(lambda q: round(q, 3)), min_size=1, max_size=9, unique=True
)


@settings(deadline=None)
@given(
    history=hnp.arrays(
        np.float64,
        st.integers(60, 300),
        elements=st.just(np.nan) | st.just(0.0) | st.floats(1e-3, 1e4),
    ),
    taus=levels,
    horizon=st.integers(1, 10),
)
def test_given_any_history_then_quantiles_never_cross_and_arrays_agree(
    history: Any, taus: list[float], horizon: int
) -> None:
    try:
        f = naive_forecast(history, horizon, taus, min_pairs=5)
    except ValueError as exc:
        assert "too little history" in str(exc) or "no observed value" in str(exc)
        return
    ordered = [f.quantiles[k] for k in sorted(f.quantiles, key=float)]
    for lower, upper in itertools.pairwise(ordered):
        assert np.all(lower <= upper)
    assert all(len(q) == horizon for q in ordered)
    assert len(f.mean) == horizon
    assert np.isfinite(f.mean).all()


@settings(deadline=None)
@given(
    history=hnp.arrays(np.float64, st.integers(60, 300), elements=st.floats(1e-3, 1e4)),
    taus=levels,
)
def test_given_positive_history_then_quantiles_stay_positive(
    history: Any, taus: list[float]
) -> None:
    f = naive_forecast(history, 5, taus, min_pairs=5)
    assert all(np.all(q > 0) for q in f.quantiles.values())
    assert np.all(f.mean > 0)


# -- seasonal naive -------------------------------------------------------------------------
def test_given_an_exact_daily_cycle_then_the_seasonal_forecast_repeats_yesterday() -> None:
    """y repeats every 10 minutes: every one-season log-ratio is 0, all quantiles coincide."""
    history = np.tile(np.arange(1.0, 11.0), 10)  # ends at 10; next minutes are 1, 2, 3
    f = seasonal_naive_forecast(history, 3, Q, season=10, min_pairs=10)
    for key in Q:
        np.testing.assert_allclose(f.quantiles[key], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(f.mean, [1.0, 2.0, 3.0])


def test_given_known_seasonal_changes_then_quantiles_scale_the_reference() -> None:
    """Each season is twice the one before: every one-season log-ratio is log 2."""
    base = np.arange(1.0, 6.0)
    history = np.concatenate([base * 2.0**k for k in range(8)])  # 8 seasons of 5 minutes
    f = seasonal_naive_forecast(history, 2, [0.05, 0.95], season=5, min_pairs=10)
    expected = base[:2] * 2.0**7 * 2.0  # same minutes of the last season, doubled
    np.testing.assert_allclose(f.quantiles["0.05"], expected)
    np.testing.assert_allclose(f.quantiles["0.95"], expected)


def test_given_a_missing_reference_then_the_season_before_is_used() -> None:
    history = np.tile(np.arange(1.0, 11.0), 10)
    history[-10] = np.nan  # yesterday's value for the first horizon
    f = seasonal_naive_forecast(history, 2, [0.5], season=10, min_pairs=10)
    np.testing.assert_allclose(f.quantiles["0.5"], [1.0, 2.0])


def test_given_a_zero_then_seasonal_changes_are_differences() -> None:
    history = np.arange(0.0, 100.0)  # y[t] - y[t-10] = 10 everywhere
    f = seasonal_naive_forecast(history, 2, [0.5], season=10, min_pairs=10)
    np.testing.assert_allclose(f.quantiles["0.5"], [100.0, 101.0])


def test_given_a_minute_series_and_the_defaults_then_one_day_back_is_the_reference() -> None:
    rng = np.random.default_rng(3)
    day = 10 + 5 * np.sin(np.arange(1440) / 1440 * 2 * np.pi)
    values = np.tile(day, 3) * np.exp(rng.normal(0, 0.1, 3 * 1440))
    s = MinuteSeries(datetime(2024, 1, 1, tzinfo=UTC), values)
    f = seasonal_naive_forecast(s, 30, Q)
    assert len(f) == 30
    assert np.all(f.quantiles["0.05"] < values[-1440:-1410])
    assert np.all(f.quantiles["0.95"] > values[-1440:-1410])
    np.testing.assert_allclose(
        f.quantiles["0.5"] / values[-1440:-1410], f.quantiles["0.5"][0] / values[-1440]
    )


@pytest.mark.parametrize(
    ("history", "kwargs", "expected"),
    [
        (np.arange(1.0, 100.0), {"season": 0}, "season must be an integer >= 1"),
        (np.arange(1.0, 100.0), {"season": 2.0}, "season must be an integer >= 1"),
        (np.arange(1.0, 100.0), {"season": 5, "prediction_length": 6}, "longer than the season"),
        (np.arange(1.0, 100.0), {"season": 200}, "no observed value at the same minute"),
        (np.arange(1.0, 100.0), {"season": 80}, "too little history: 19 pairs"),
        (np.full(100, np.nan), {"season": 10}, "no observed value in its last 100"),
        (np.arange(1.0, 100.0), {"season": 10, "quantiles": []}, "no quantiles"),
        (np.ones((10, 2)), {"season": 10}, "must be 1-D"),
    ],
)
def test_given_bad_input_to_the_seasonal_naive_then_value_error_with_reason(
    history: Any, kwargs: dict[str, Any], expected: str
) -> None:
    args: dict[str, Any] = {"prediction_length": 1, "quantiles": [0.5], "min_pairs": 30} | kwargs
    with pytest.raises(ValueError, match=expected):
        seasonal_naive_forecast(history, **args)


@settings(deadline=None)
@given(
    history=hnp.arrays(
        np.float64,
        st.integers(60, 300),
        elements=st.just(np.nan) | st.just(0.0) | st.floats(1e-3, 1e4),
    ),
    taus=levels,
    horizon=st.integers(1, 10),
)
def test_given_any_history_then_seasonal_quantiles_never_cross(
    history: Any, taus: list[float], horizon: int
) -> None:
    try:
        f = seasonal_naive_forecast(history, horizon, taus, season=12, min_pairs=5)
    except ValueError as exc:
        assert "too little history" in str(exc) or "no observed value" in str(exc)
        return
    ordered = [f.quantiles[k] for k in sorted(f.quantiles, key=float)]
    for lower, upper in itertools.pairwise(ordered):
        assert np.all(lower <= upper)
    assert all(len(q) == horizon for q in ordered)
    assert np.isfinite(f.mean).all()
