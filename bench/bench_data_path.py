"""The build's data path on a year of minutes, with the project's own code.

1. One year of per-minute values (525,600, 2 % missing) -> DeepAR JSON Lines:
   `feecast.deepar.to_jsonl` (one series, the conversion itself) and `build_channels` (what the
   build's prepare step does: checks, train/test split, gap report, both channels).
2. The mean weighted quantile loss over one year of forecasts: 17,520 forecasts of 30 minutes
   (the year), 9 quantiles each, against the actual minutes (`feecast.metrics`).

Goals (issue 10): conversion under 1 s, loss under 0.1 s. Median of 5 runs after a warm-up
(numpy and json are imported before timing: a Lambda pays that once per container).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from bench.common import measurement, result

MINUTES = 525_600
HORIZON = 30
QUANTILES = ("0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9")
RUNS = 5


def _median_seconds(fn: Callable[[], Any], runs: int = RUNS) -> tuple[float, Any]:
    out = fn()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def year_of_minutes(seed: int = 1) -> np.ndarray:
    """A fee-like year: a daily cycle, noise, 2 % of minutes missing (NaN)."""
    rng = np.random.default_rng(seed)
    t = np.arange(MINUTES)
    y = np.exp(3 + 0.3 * np.sin(2 * np.pi * t / 1440) + rng.normal(0, 0.25, MINUTES))
    y = np.round(y, 3)
    y[rng.random(MINUTES) < 0.02] = np.nan
    return y


def main() -> dict[str, Any]:
    from feecast.deepar import build_channels, to_jsonl
    from feecast.metrics import weighted_quantile_loss
    from feecast.series import MinuteSeries

    values = year_of_minutes()
    series = MinuteSeries(datetime(2025, 1, 1, tzinfo=UTC), values)

    jsonl_s, text = _median_seconds(lambda: to_jsonl([series]))
    channels_s, channels = _median_seconds(lambda: build_channels(series, HORIZON))

    # One year of 30-minute forecasts: quantile q of a forecast = actual x a level-dependent
    # factor x noise (the loss's speed does not depend on how good the forecasts are).
    rng = np.random.default_rng(2)
    actual = values.reshape(-1, HORIZON)
    filled = np.where(np.isnan(actual), np.nanmean(values), actual)
    forecasts = {
        q: filled * (0.8 + 0.4 * float(q)) * rng.lognormal(0, 0.1, actual.shape) for q in QUANTILES
    }
    loss_s, loss = _median_seconds(lambda: weighted_quantile_loss(actual, forecasts))

    measurements = [
        measurement(
            "to_jsonl (1 year)",
            jsonl_s,
            "s",
            below=1.0,
            note=f"{MINUTES:,} minutes -> {len(text) / 1e6:.1f} MB",
        ),
        measurement(
            "build_channels (1 year)",
            channels_s,
            "s",
            below=1.0,
            note="checks + gap report + train and test channels",
        ),
        measurement(
            "mean wQL (1 year)",
            loss_s,
            "s",
            below=0.1,
            note=f"{actual.shape[0]:,} forecasts x {HORIZON} min x {len(QUANTILES)} quantiles",
            digits=4,
        ),
    ]
    return result(
        "data_path",
        "Data path: one year of minutes -> DeepAR JSON Lines, and its loss",
        measurements,
        {
            "minutes": MINUTES,
            "missing": int(np.isnan(values).sum()),
            "jsonl_bytes": len(text),
            "channel_bytes": len(channels.train_jsonl) + len(channels.test_jsonl),
            "loss": loss.mean,
            "runs": RUNS,
        },
    )


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
