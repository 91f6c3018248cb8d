"""bench/bench_forecast_quality.py's knobs: overrides parsed as a build parses SSM, and the
paired comparison of two saved runs on the same windows.

Pure and fast: made-up forecasts, no training, no generated stream.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

# bench/ is a package at the repository root (`python -m bench`), not installed: import it from there.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from feecast.config import ConfigError, FeecastConfig

from bench.bench_forecast_quality import Setup, _save, against_saved

KEYS = ("0.05", "0.5", "0.95")


def test_without_overrides_the_bench_runs_the_ssm_defaults() -> None:
    assert Setup.from_env([]).config() == FeecastConfig()


def test_target_and_hyperparameter_overrides_are_validated_like_the_ssm_parameters() -> None:
    config = Setup.from_env(
        [
            "--target",
            '{"extra_series": ["median_fee_1min", "fee_rate_1min"]}',
            "--features",
            "hour_of_day",
            "--hyperparameters",
            '{"likelihood": "gaussian"}',
        ]
    ).config()
    assert config.target.extra_series == ["median_fee_1min", "fee_rate_1min"]
    assert config.target.dynamic_features == ["hour_of_day"]
    assert config.hyperparameters.likelihood == "gaussian"
    # The rule of /target: an extra series must not repeat the target.
    with pytest.raises(ConfigError, match="target"):
        Setup.from_env(['--target={"extra_series": ["avg_fee_1min"]}']).config()


def _forecasts(level: float, windows: int = 64) -> dict[str, np.ndarray]:
    return {k: np.full((windows, 30), level * (0.5 + float(k))) for k in KEYS}


def test_a_run_compared_with_its_saved_self_ties_and_a_better_one_wins(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    actual = rng.lognormal(0.0, 0.3, (64, 30))
    saved = tmp_path / "base.npz"
    _save(saved, actual, {"deepar": _forecasts(1.0)})

    same = against_saved(saved, actual, _forecasts(1.0), KEYS, block=4)
    assert same.ratio == pytest.approx(1.0)
    assert same.ci95 == pytest.approx((1.0, 1.0))

    # Quantiles twice too high lose every window against the saved ones.
    worse = against_saved(saved, actual, _forecasts(2.0), KEYS, block=4)
    assert worse.ratio is not None and worse.ratio > 1
    assert worse.ci95 is not None and worse.ci95[0] > 1
    assert worse.windows_won == 0


def test_a_saved_run_on_other_windows_is_refused(tmp_path: Path) -> None:
    actual = np.ones((64, 30))
    saved = tmp_path / "base.npz"
    _save(saved, actual, {"deepar": _forecasts(1.0)})
    with pytest.raises(SystemExit, match="other windows"):
        against_saved(saved, actual * 2, _forecasts(1.0), KEYS, block=4)
