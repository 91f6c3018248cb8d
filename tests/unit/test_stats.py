"""feecast.stats: per-window losses, comparisons with block-bootstrap intervals, threshold rule.

Fixed data with answers worked out by hand (or by feecast.metrics, the reference wQL)."""

from __future__ import annotations

import numpy as np
import pytest
from feecast.backtest import alarm_calibration
from feecast.metrics import weighted_quantile_loss
from feecast.stats import (
    WindowScores,
    block_bootstrap_ratio,
    compare,
    rolling_pooled,
    threshold_from_distribution,
    window_scores,
)


def scores(loss: list[float], weight: list[float] | None = None) -> WindowScores:
    n = len(loss)
    w = np.ones(n) if weight is None else np.asarray(weight, dtype=float)
    return WindowScores(np.asarray(loss, dtype=float), w, np.zeros(n), np.ones(n))


# -- window scores --------------------------------------------------------------------------
def test_given_one_window_then_its_loss_is_the_hand_computed_wql() -> None:
    # y = 10, 10; median forecast 12, 8: pinball 0.5*2 + 0.5*2 = 2; wQL = 2 * 2 / 20 = 0.2
    s = window_scores(np.array([[10.0, 10.0]]), {"0.5": np.array([[12.0, 8.0]])})
    assert s.loss.tolist() == [4.0] and s.weight.tolist() == [20.0]
    assert s.pooled() == pytest.approx(0.2)
    assert s.per_window().tolist() == [pytest.approx(0.2)]


def test_given_many_windows_then_the_pooled_loss_equals_feecast_metrics() -> None:
    rng = np.random.default_rng(3)
    y = rng.lognormal(3, 0.5, size=(40, 30))
    y[5, :4] = np.nan  # missing minutes are left out of both
    q = {k: y * rng.lognormal(0, 0.2, size=y.shape) for k in ("0.05", "0.5", "0.95")}
    q["0.05"][np.isnan(q["0.05"])] = 1.0
    for k in q:
        q[k] = np.nan_to_num(q[k], nan=1.0)
    s = window_scores(y, q)
    assert s.pooled() == pytest.approx(weighted_quantile_loss(y, q).mean, rel=1e-12)


def test_given_a_window_without_observed_minutes_then_it_cannot_be_scored() -> None:
    y = np.array([[np.nan, np.nan], [1.0, 3.0]])
    s = window_scores(y, {"0.5": np.ones((2, 2))})
    assert s.valid.tolist() == [False, True]
    assert s.pooled() == pytest.approx(2 * (0.5 * 0 + 0.5 * 2) / 4)


def test_coverage_counts_observed_points_inside_the_interval() -> None:
    y = np.array([[1.0, 5.0, 9.0, np.nan]])
    q = {"0.05": np.full((1, 4), 2.0), "0.5": np.full((1, 4), 5.0), "0.95": np.full((1, 4), 8.0)}
    assert window_scores(y, q).coverage() == pytest.approx(1 / 3)


# -- comparisons ----------------------------------------------------------------------------
def test_given_a_constant_ratio_then_every_statistic_is_that_ratio() -> None:
    b = scores([1.0, 3.0, 2.0, 5.0, 4.0, 1.5] * 10)
    a = scores((b.loss * 0.8).tolist())
    c = compare(a, b, block=4, resamples=500)
    assert c.ratio == pytest.approx(0.8)
    assert c.ci95 == (pytest.approx(0.8), pytest.approx(0.8))
    assert c.median_window_ratio == pytest.approx(0.8)
    assert c.windows_won == 1.0
    assert c.ratio_without_worst == pytest.approx(0.8)


def test_windows_won_count_ties_as_half_and_the_median_is_per_window() -> None:
    c = compare(scores([1.0, 2.0, 3.0]), scores([2.0, 2.0, 1.0]), block=1, resamples=200)
    assert c.windows_won == pytest.approx(0.5)
    assert c.median_window_ratio == pytest.approx(1.0)  # ratios 0.5, 1, 3
    assert c.ratio == pytest.approx(6 / 5)


def test_the_ratio_without_the_worst_1_percent_drops_the_burst_window() -> None:
    a = [1.0] * 99 + [300.0]
    b = [2.0] * 99 + [100.0]
    c = compare(scores(a), scores(b), block=5, resamples=200)
    assert c.dropped_worst == 1
    assert c.ratio == pytest.approx(399 / 298)
    assert c.ratio_without_worst == pytest.approx(0.5)


def test_given_one_block_of_all_windows_then_every_resample_is_the_pooled_ratio() -> None:
    # A circular block as long as the series is a rotation of it: the same sums every time.
    a, b = [1.0, 4.0, 2.0, 7.0], [2.0, 2.0, 3.0, 1.0]
    boots = block_bootstrap_ratio(a, b, block=4, resamples=50)
    assert np.allclose(boots, 14 / 8)


def test_the_bootstrap_is_seeded() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.gamma(2, size=50), rng.gamma(2, size=50)
    first = block_bootstrap_ratio(a, b, block=5, resamples=300, seed=7)
    assert np.array_equal(first, block_bootstrap_ratio(a, b, block=5, resamples=300, seed=7))
    assert not np.array_equal(first, block_bootstrap_ratio(a, b, block=5, resamples=300, seed=8))


def test_the_95_percent_interval_covers_the_true_ratio_about_95_percent_of_the_time() -> None:
    # Windows whose losses follow a known process (true pooled ratio 0.9): over 200 simulated
    # backtests of 144 windows the interval must contain 0.9 in roughly 95% of them.
    rng = np.random.default_rng(11)
    covered = 0
    runs = 200
    for _ in range(runs):
        base = rng.gamma(2.0, 1.0, 144)
        a = base * 0.9 * rng.lognormal(-0.02, 0.2, 144)
        c = compare(scores(a.tolist()), scores(base.tolist()), block=1, resamples=400, seed=1)
        true_ratio = 0.9 * np.exp(-0.02 + 0.2**2 / 2)  # E[a] / E[b] = 0.9 exactly
        assert c.ci95 is not None
        covered += c.ci95[0] <= true_ratio <= c.ci95[1]
    assert 0.88 <= covered / runs <= 0.99


def test_blocks_widen_the_interval_when_neighbouring_windows_are_alike() -> None:
    # Bursts last several windows: the losses come in runs of 8 equal values. Resampling single
    # windows treats 144 windows as independent and gives a too narrow interval.
    rng = np.random.default_rng(5)
    runs = np.repeat(rng.gamma(1.0, 1.0, 18), 8)
    a = scores(
        (runs * rng.lognormal(0, 0.05, 144) * np.repeat(rng.lognormal(0, 0.3, 18), 8)).tolist()
    )
    b = scores(runs.tolist())
    narrow = compare(a, b, block=1, resamples=1000)
    wide = compare(a, b, block=8, resamples=1000)
    assert narrow.ci95 is not None and wide.ci95 is not None
    assert wide.ci95[1] - wide.ci95[0] > 1.5 * (narrow.ci95[1] - narrow.ci95[0])


def test_given_different_window_counts_then_comparing_is_refused() -> None:
    with pytest.raises(ValueError, match="different windows"):
        compare(scores([1.0, 2.0]), scores([1.0]), block=1)


# -- rolling pools and the threshold rule ----------------------------------------------------
def test_rolling_pools_take_windows_step_apart() -> None:
    s = scores([1.0, 10.0, 3.0, 20.0, 5.0, 30.0], weight=[1, 1, 1, 1, 1, 1])
    # pools of 2 windows one hour apart (step 2 at 30-minute spacing): (0,2) (1,3) (2,4) (3,5)
    assert rolling_pooled(s, 2, 2).tolist() == [2.0, 15.0, 4.0, 25.0]


def test_rolling_pools_weigh_windows_by_their_actual_values() -> None:
    s = WindowScores(np.array([2.0, 8.0]), np.array([10.0, 30.0]), np.zeros(2), np.ones(2))
    assert rolling_pooled(s, 2, 1).tolist() == [pytest.approx(10 / 40)]


def test_the_threshold_is_the_quantile_of_the_pools_never_below_their_median() -> None:
    values = np.arange(1, 101, dtype=float)
    assert threshold_from_distribution(values, 0.95) == pytest.approx(95.05)
    assert threshold_from_distribution(values, 0.99) == pytest.approx(99.01)
    assert threshold_from_distribution(values, 0.3) == pytest.approx(50.5)  # the median


def test_alarm_calibration_pools_hourly_windows_from_a_30_minute_backtest() -> None:
    # 12 windows, 30 minutes apart: 3-hour pools take windows i, i-2, i-4 (8 pools).
    losses = [1.0, 0.0] * 6
    calibration = alarm_calibration(
        scores(losses), spacing_minutes=30, alarm_window_hours=3, quantile=0.95
    )
    assert calibration.pools == 8
    # pools ending on even windows: (1+1+1)/3 = 1; on odd windows: 0.
    assert calibration.median == pytest.approx(0.5)
    assert calibration.threshold == pytest.approx(1.0)


def test_given_too_few_windows_for_one_pool_then_no_threshold() -> None:
    with pytest.raises(ValueError, match="too few windows"):
        alarm_calibration(
            scores([1.0, 2.0]), spacing_minutes=30, alarm_window_hours=3, quantile=0.9
        )
