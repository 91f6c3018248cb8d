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
