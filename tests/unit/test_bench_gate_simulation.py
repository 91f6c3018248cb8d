"""The gate simulation's shortcuts agree with the library (bench/bench_gate_simulation.py)."""

from __future__ import annotations

import importlib
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from feecast.baseline import naive_forecast

ROOT = Path(__file__).resolve().parents[2]


def _bench(module: str):  # bench/ is not an installed package
    sys.path.insert(0, str(ROOT))
    try:
        return importlib.import_module(f"bench.{module}")
    finally:
        sys.path.remove(str(ROOT))


def test_fast_naive_matches_the_library_naive_forecast() -> None:
    process = _bench("fee_process")
    simulation = _bench("bench_gate_simulation")
    series = process.minute_averages(datetime(2026, 1, 5, tzinfo=UTC), 8, seed=3)
    keys = ["0.05", "0.5", "0.95"]
    fast = simulation.FastNaive(series.values, 30, keys)
    origins = [7 * 1440 + 30 * k for k in range(12)]  # 6 hours: one refresh block
    for origin, got in zip(origins, fast(origins), strict=True):
        exact = naive_forecast(series.values[:origin], 30, keys)
        for k in keys:
            # The change quantiles come from a week of pairs: 6 hours older moves them little.
            assert got.quantiles[k] == pytest.approx(exact.quantiles[k], rel=0.03)


def test_the_fee_process_matches_the_generator_in_level_and_noise() -> None:
    process = _bench("fee_process")
    series = process.minute_averages(datetime(2026, 1, 5, tzinfo=UTC), 2, seed=1)
    values = series.values[~np.isnan(series.values)]
    assert len(series) == 2880 and values.size > 2800
    # The generator's fee rates (median 12 sat/vB) times sizes (median 250 vB), with its tail.
    assert 3000 < float(np.median(values)) < 7000


def test_without_rejections_the_bound_is_still_positive_and_there_is_no_trend() -> None:
    stats = _bench("bench_gate_simulation").RejectionStats.of(np.zeros((24, 20), dtype=bool))
    assert stats.block_rates.tolist() == [0.0] * 4
    # Clopper-Pearson, 0 of 120: 1 - 0.05 ** (1 / 120), not 0 ("never seen" is not "never").
    assert stats.block_upper.tolist() == pytest.approx([1 - 0.05 ** (1 / 120)] * 4)
    assert stats.trend == 0.0 and stats.trend_ci == (0.0, 0.0)


def test_rejection_stats_of_a_ratchet_show_a_trend_whose_interval_excludes_zero() -> None:
    rng = np.random.default_rng(4)
    builds = np.arange(20)
    # The old rule: rejections grow with every build (about 5% at build 1, 55% at build 20).
    rejected = rng.random((24, 20)) < 0.05 + 0.025 * builds
    stats = _bench("bench_gate_simulation").RejectionStats.of(rejected)
    assert stats.trend_ci[0] > 0.1
    assert stats.block_upper[-1] > 0.4 and stats.block_rates[0] < stats.block_rates[-1]


def test_an_even_five_percent_bounds_each_block_as_independent_builds_would() -> None:
    # 100 replicas, replica i rejects build i mod 20 only: every build and block at 5%, and the
    # replicas vary less than independent builds would (design effect 1): 25 of 500 builds.
    rejected = np.zeros((100, 20), dtype=bool)
    rejected[np.arange(100), np.arange(100) % 20] = True
    stats = _bench("bench_gate_simulation").RejectionStats.of(rejected)
    assert stats.per_build.tolist() == pytest.approx([0.05] * 20)
    assert stats.block_rates.tolist() == pytest.approx([0.05] * 4)
    assert stats.block_upper.tolist() == pytest.approx([0.0691] * 4, abs=5e-4)
    assert stats.trend == pytest.approx(0.0)


def test_clustered_rejections_widen_the_bound() -> None:
    simulation = _bench("bench_gate_simulation")
    spread = np.zeros((24, 5))
    spread[np.arange(6), np.arange(6) % 5] = 1  # 6 rejections in 6 replicas
    clustered = np.zeros((24, 5))
    clustered[0, :5] = 1  # 5 rejections in one replica ...
    clustered[1, 0] = 1  # ... and 1 in another: same rate, but one replica carries it
    assert simulation.upper_bound_95(clustered) > simulation.upper_bound_95(spread) + 0.05


def test_a_max_of_twenty_noisy_rates_is_often_high_by_chance() -> None:
    simulation = _bench("bench_gate_simulation")
    rejected = np.zeros((24, 20), dtype=bool)
    rejected[:16, 0] = True  # 16 replicas reject once, all at build 1
    stats = simulation.RejectionStats.of(rejected)
    # Shuffled within their replicas, 16 rejections fall on 20 builds: some build gets 3 or
    # more about 65% of the time (16 balls in 20 bins).
    assert 0.55 < stats.chance_of_max(3 / 24) < 0.75
    assert stats.chance_of_max(0.0) == 1.0


def test_a_smoke_run_with_few_replicas_is_reported_not_judged() -> None:
    simulation = _bench("bench_gate_simulation")
    assert not simulation.RejectionStats.of(np.zeros((4, 20), dtype=bool)).judged
    assert simulation.RejectionStats.of(np.zeros((24, 20), dtype=bool)).judged
