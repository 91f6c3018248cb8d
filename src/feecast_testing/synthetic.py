"""Synthetic Bitcoin transaction streams (SYNTHETIC data: for the twin, tests, demos, load tests).

Not a model of Bitcoin; a stream with the features a fee forecaster has to cope with:
- Poisson arrivals at `rate_per_second` (mainnet: roughly 3-7 tx/s), scaled by a daily cycle
  (peak around `peak_hour_utc`) and by congestion bursts;
- fee rates (sat/vB) log-normal around a median that follows the same daily cycle, rises during
  bursts, with a Pareto tail (a few transactions pay many times the going rate);
- virtual sizes log-normal around ~250 vB; fee = fee rate x vsize, in satoshi;
- congestion bursts: start as a Poisson process (`bursts_per_day`), last an exponential time
  (`burst_minutes` on average), ramp up and down (half a sine);
- regime changes: from time T on, fees (and/or arrivals) multiplied (e.g. x3), for drift tests;
- optional re-emission of transactions (`duplicate_fraction`, as a later poll would return them)
  and emission out of event-time order (`max_disorder_seconds`), to exercise deduplication and
  the watermark.

Output: blockchain.info's unconfirmed-transaction shape (hash, fee, size, weight, time), one JSON
object per line, so `feecast ingest replay FILE` reads it like a recording. Seeded: the same
config gives the same stream. Generation is vectorised per hour (~1M transactions in seconds).
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

_HOUR = 3600


@dataclass(frozen=True)
class RegimeChange:
    """From `at` on, multiply fee rates and arrival rates (multipliers compound in order)."""

    at: datetime
    fee_multiplier: float = 1.0
    rate_multiplier: float = 1.0


@dataclass(frozen=True)
class SyntheticConfig:
    start: datetime
    duration: timedelta
    seed: int = 0
    rate_per_second: float = 4.0
    daily_rate_amplitude: float = 0.3  # +-30% arrivals over the day
    daily_fee_amplitude: float = 0.25  # +-25% median fee rate over the day
    peak_hour_utc: float = 15.0
    fee_rate_median: float = 12.0  # sat/vB
    fee_rate_sigma: float = 0.7  # log-normal spread of fee rates
    tail_probability: float = 0.03  # share of transactions paying a Pareto multiple
    tail_alpha: float = 1.6
    vsize_median: float = 250.0
    vsize_sigma: float = 0.6
    bursts_per_day: float = 3.0
    burst_minutes: float = 40.0
    burst_rate_multiplier: float = 1.8
    burst_fee_multiplier: float = 3.0
    regime_changes: Sequence[RegimeChange] = field(default_factory=tuple)
    duplicate_fraction: float = 0.0
    max_disorder_seconds: int = 0

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
        if self.duration <= timedelta(0):
            raise ValueError("duration must be positive")
        if self.rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        if not 0 <= self.duplicate_fraction < 1:
            raise ValueError("duplicate_fraction must be in [0, 1)")
        if not 0 <= self.daily_rate_amplitude < 1 or not 0 <= self.daily_fee_amplitude < 1:
            raise ValueError("daily amplitudes must be in [0, 1)")


def _bursts(config: SyntheticConfig, rng: np.random.Generator, t0: int, t1: int) -> np.ndarray:
    """(start, end) epoch seconds of each congestion burst over the whole stream."""
    days = (t1 - t0) / 86400
    n = rng.poisson(config.bursts_per_day * days)
    starts = rng.uniform(t0 - _HOUR, t1, size=n)
    lengths = rng.exponential(config.burst_minutes * 60, size=n) + 300
    return np.stack([starts, starts + lengths], axis=1) if n else np.zeros((0, 2))


def _burst_envelope(seconds: np.ndarray, bursts: np.ndarray) -> np.ndarray:
    """0 outside bursts, rising to 1 in the middle of each (half a sine); overlaps add up."""
    envelope = np.zeros(seconds.shape, dtype=float)
    for start, end in bursts:
        if end < seconds[0] or start > seconds[-1]:
            continue
        inside = (seconds >= start) & (seconds < end)
        envelope[inside] += np.sin(math.pi * (seconds[inside] - start) / (end - start))
    return envelope


def _regimes(config: SyntheticConfig, seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    fee = np.ones(seconds.shape)
    rate = np.ones(seconds.shape)
    for change in config.regime_changes:
        after = seconds >= change.at.timestamp()
        fee[after] *= change.fee_multiplier
        rate[after] *= change.rate_multiplier
    return fee, rate


def _transactions(config: SyntheticConfig) -> Iterator[tuple[int, dict[str, Any]]]:
    """(emission second, transaction) in emission order."""
    rng = np.random.default_rng(config.seed)
    t0 = int(config.start.timestamp())
    t1 = t0 + int(config.duration.total_seconds())
    bursts = _bursts(config, rng, t0, t1)
    pending: list[tuple[int, int, dict[str, Any]]] = []  # heap of (emit, order, tx)
    order = 0
    for hour_start in range(t0, t1, _HOUR):
        seconds = np.arange(hour_start, min(hour_start + _HOUR, t1), dtype=np.int64)
        phase = 2 * math.pi * ((seconds % 86400) / 3600 - config.peak_hour_utc + 6) / 24
        daily = np.sin(phase)  # +1 at the peak hour
        burst = _burst_envelope(seconds.astype(float), bursts)
        fee_regime, rate_regime = _regimes(config, seconds)
        rate = (
            config.rate_per_second
            * (1 + config.daily_rate_amplitude * daily)
            * (1 + (config.burst_rate_multiplier - 1) * burst)
            * rate_regime
        )
        counts = rng.poisson(np.clip(rate, 0, None))
        times = np.repeat(seconds, counts)
        n = int(times.size)
        if n == 0:
            continue
        idx = np.repeat(np.arange(seconds.size), counts)
        median = (
            config.fee_rate_median
            * (1 + config.daily_fee_amplitude * daily[idx])
            * (1 + (config.burst_fee_multiplier - 1) * burst[idx])
            * fee_regime[idx]
        )
        fee_rate = median * rng.lognormal(0.0, config.fee_rate_sigma, size=n)
        tail = rng.random(n) < config.tail_probability
        fee_rate[tail] *= 1 + rng.pareto(config.tail_alpha, size=int(tail.sum()))
        fee_rate = np.maximum(fee_rate, 1.0)  # the default minimum relay fee rate
        vsize = np.clip(
            np.round(config.vsize_median * rng.lognormal(0.0, config.vsize_sigma, size=n)),
            110,
            100_000,
        ).astype(np.int64)
        weight = 4 * vsize - rng.integers(0, 4, size=n)
        size = np.minimum(np.round(vsize * rng.uniform(1.0, 1.6, size=n)), weight).astype(np.int64)
        fee = np.round(fee_rate * vsize).astype(np.int64)
        hashes = rng.bytes(32 * n).hex()
        disorder = (
            rng.integers(0, config.max_disorder_seconds + 1, size=n)
            if config.max_disorder_seconds
            else np.zeros(n, dtype=np.int64)
        )
        repeat = rng.random(n) < config.duplicate_fraction
        repeat_delay = rng.integers(5, 60, size=n)
        for i in range(n):
            tx = {
                "hash": hashes[64 * i : 64 * i + 64],
                "fee": int(fee[i]),
                "size": int(size[i]),
                "weight": int(weight[i]),
                "time": int(times[i]),
            }
            emit = int(times[i] + disorder[i])
            heapq.heappush(pending, (emit, order, tx))
            order += 1
            if repeat[i]:
                heapq.heappush(pending, (emit + int(repeat_delay[i]), order, tx))
                order += 1
        horizon = hour_start + _HOUR  # nothing later in this loop can be emitted before it
        while pending and pending[0][0] < horizon:
            emit, _, tx = heapq.heappop(pending)
            yield emit, tx
    while pending:
        emit, _, tx = heapq.heappop(pending)
        yield emit, tx


def generate(config: SyntheticConfig) -> Iterator[dict[str, Any]]:
    """The synthetic transactions, in the order a poller would have seen them."""
    for _, tx in _transactions(config):
        yield tx


def write_jsonl(path: str | Path, config: SyntheticConfig) -> int:
    """Write the stream as JSON Lines (blockchain.info transaction shape); returns lines written."""
    lines = 0
    with Path(path).open("w", encoding="utf-8") as out:
        for tx in generate(config):
            out.write(json.dumps(tx, separators=(",", ":")))
            out.write("\n")
            lines += 1
    return lines


def config_for(
    start: datetime,
    days: float,
    *,
    seed: int = 0,
    rate_per_second: float = 4.0,
    regime_change_at: datetime | None = None,
    fee_multiplier: float = 3.0,
    **overrides: Any,
) -> SyntheticConfig:
    """A SyntheticConfig from the few knobs a demo or test usually turns."""
    regimes: tuple[RegimeChange, ...] = ()
    if regime_change_at is not None:
        regimes = (
            RegimeChange(at=regime_change_at.astimezone(UTC), fee_multiplier=fee_multiplier),
        )
    return SyntheticConfig(
        start=start.astimezone(UTC),
        duration=timedelta(days=days),
        seed=seed,
        rate_per_second=rate_per_second,
        regime_changes=regimes,
        **overrides,
    )
