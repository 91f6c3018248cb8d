"""The synthetic fee process of feecast_testing.synthetic, simulated per minute (fast).

The transaction generator writes every transaction (hash, size, weight) and takes ~40 s per 14
days; the gate simulation needs months of minutes for many replicas. This draws the same
quantities the generator draws (Poisson arrivals per second with the daily cycle and the
congestion bursts, log-normal fee rates with a Pareto tail and the 1 sat/vB floor, log-normal
virtual sizes) with the generator's own burst and regime functions, and keeps only each
minute's average fee: the same process, not the same random stream.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
from feecast.series import MinuteSeries

from feecast_testing import synthetic

_DAY = 86400


def minute_averages(
    start: datetime,
    days: float,
    *,
    seed: int,
    rate_per_second: float = 4.0,
    regime_change_at: datetime | None = None,
    fee_multiplier: float = 3.0,
) -> MinuteSeries:
    """avg_fee_1min of the synthetic stream, `days` from `start` (NaN for an empty minute)."""
    config = synthetic.config_for(
        start,
        days,
        seed=seed,
        rate_per_second=rate_per_second,
        regime_change_at=regime_change_at,
        fee_multiplier=fee_multiplier,
    )
    rng = np.random.default_rng(seed)
    t0 = int(config.start.timestamp())
    t1 = t0 + int(config.duration.total_seconds())
    bursts = synthetic._bursts(config, rng, t0, t1)
    minutes = (t1 - t0) // 60
    totals = np.zeros(minutes)
    counts = np.zeros(minutes)
    for day_start in range(t0, t1, _DAY):
        seconds = np.arange(day_start, min(day_start + _DAY, t1), dtype=np.int64)
        phase = 2 * math.pi * ((seconds % 86400) / 3600 - config.peak_hour_utc + 6) / 24
        daily = np.sin(phase)
        burst = synthetic._burst_envelope(seconds.astype(float), bursts)
        fee_regime, rate_regime = synthetic._regimes(config, seconds)
        rate = (
            config.rate_per_second
            * (1 + config.daily_rate_amplitude * daily)
            * (1 + (config.burst_rate_multiplier - 1) * burst)
            * rate_regime
        )
        per_second = rng.poisson(np.clip(rate, 0, None))
        idx = np.repeat(np.arange(seconds.size), per_second)
        n = idx.size
        median = (
            config.fee_rate_median
            * (1 + config.daily_fee_amplitude * daily[idx])
            * (1 + (config.burst_fee_multiplier - 1) * burst[idx])
            * fee_regime[idx]
        )
        fee_rate = median * rng.lognormal(0.0, config.fee_rate_sigma, size=n)
        tail = rng.random(n) < config.tail_probability
        fee_rate[tail] *= 1 + rng.pareto(config.tail_alpha, size=int(tail.sum()))
        fee_rate = np.maximum(fee_rate, 1.0)
        vsize = np.clip(
            np.round(config.vsize_median * rng.lognormal(0.0, config.vsize_sigma, size=n)),
            110,
            100_000,
        )
        fee = np.round(fee_rate * vsize)
        minute = (seconds[idx] - t0) // 60
        totals += np.bincount(minute, weights=fee, minlength=minutes)[:minutes]
        counts += np.bincount(minute, minlength=minutes)[:minutes]
    values = np.full(minutes, np.nan)
    values[counts > 0] = totals[counts > 0] / counts[counts > 0]
    return MinuteSeries(config.start, values)


def days_after(start: datetime, days: float) -> datetime:
    return start + timedelta(days=days)
