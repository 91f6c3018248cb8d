"""Judging forecasts over many windows: per-window losses, comparisons with intervals, coverage.

One 30-minute window says almost nothing (a single window's loss varies by a factor of ten from
one half-hour to the next), so every claim about a model is made over many rolling windows,
scored on exactly the same windows for every model, with an interval.

Per window w (one forecast origin, `prediction_length` steps) and model m:

    L[m, w] = (2 / |T|) * sum_{tau in T} sum_t QL_tau(q_tau[t], y[t])     (observed y only)
    D[w]    = sum_t |y[t]|

so that the mean weighted quantile loss pooled over a set of windows W is
sum_W L[m, w] / sum_W D[w] (exactly what feecast.metrics computes when all those windows are
scored together), one window's own loss is L[m, w] / D[w], and the ratio of two models pooled
over W is sum_W L[a, w] / sum_W L[b, w] (the weights cancel).

`compare(a, b)` gives, for model a against model b on the windows both could score:
- the pooled ratio, with a 95% interval from a circular block bootstrap: blocks of consecutive
  windows (hours of them) are drawn with replacement until there are as many windows as
  observed, the pooled ratio is recomputed, 2,000 times; the interval is the 2.5th and 97.5th
  percentiles (blocks are shortened so that there are at least 8 of them). Blocks keep the correlation between neighbouring windows (a congestion burst
  spans several) that an ordinary bootstrap would ignore, which would make the interval too
  narrow. The generator is seeded: the same data gives the same interval;
- the median of the per-window ratios (what a typical window looks like);
- the share of windows a won (lower loss; a tie counts half);
- the pooled ratio without the worst 1% of windows (the windows with the largest loss of the
  two models together): a few burst windows carry much of the pooled loss, and this shows
  whether they alone decide the comparison.
`coverage(m)` is the share of observed points inside the model's central interval (the 0.05 to
0.95 quantiles for a 90% interval): a calibrated model covers about 90%.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from feecast.deepar_spec import quantile_key

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "Comparison",
    "WindowScores",
    "block_bootstrap_ratio",
    "compare",
    "rolling_pooled",
    "threshold_from_distribution",
    "window_scores",
]

FloatArray = npt.NDArray[np.float64]

BOOTSTRAP_RESAMPLES = 2000
DEFAULT_SEED = 20260105
TRIM_SHARE = 0.01
# At least this many blocks per resample: with fewer, resamples are little more than rotations
# of the same windows and the interval is falsely narrow (one block of all windows: no width).
MIN_BLOCKS = 8


@dataclass(frozen=True, eq=False)
class WindowScores:
    """One model's scores on a sequence of windows (in time order).

    loss[w] is L (see the module doc), NaN where the window has no observed point; weight[w]
    is D; covered[w] and observed[w] count the observed points inside the central interval and
    all observed points.
    """

    loss: FloatArray
    weight: FloatArray
    covered: FloatArray
    observed: FloatArray

    def __post_init__(self) -> None:
        sizes = {a.shape for a in (self.loss, self.weight, self.covered, self.observed)}
        if len(sizes) != 1 or self.loss.ndim != 1:
            raise ValueError(f"window arrays must be 1-D and of one length, got shapes {sizes}")

    def __len__(self) -> int:
        return int(self.loss.shape[0])

    @property
    def valid(self) -> npt.NDArray[np.bool_]:
        """Windows that can be scored: a finite loss and actual values that do not sum to 0."""
        return np.isfinite(self.loss) & (self.weight > 0)

    def pooled(self, mask: npt.NDArray[np.bool_] | None = None) -> float | None:
        """Mean wQL pooled over the valid windows (optionally only those in `mask`)."""
        keep = self.valid if mask is None else self.valid & mask
        if not keep.any():
            return None
        return float(self.loss[keep].sum() / self.weight[keep].sum())

    def per_window(self) -> FloatArray:
        """Each window's own mean wQL (NaN where it cannot be scored)."""
        out = np.full(len(self), np.nan)
        ok = self.valid
        out[ok] = self.loss[ok] / self.weight[ok]
        return out

    def coverage(self) -> float | None:
        total = float(self.observed.sum())
        return None if total == 0 else float(self.covered.sum() / total)


def window_scores(
    actual: npt.ArrayLike,
    quantile_forecasts: Mapping[str, npt.ArrayLike],
    *,
    interval: tuple[str, str] | None = None,
) -> WindowScores:
    """Score forecasts of shape (windows, horizon) against actuals of the same shape.

    `quantile_forecasts` maps quantile levels ("0.05", 0.5, ...) to arrays; every level is
    scored (the mean over levels is what feecast.metrics reports). `interval` names the lower
    and upper quantile of the central interval for the coverage (default: the lowest and the
    highest level). NaN actuals are missing points: left out of every sum.
    """
    y = np.asarray(actual, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"actual must be 2-D (windows x horizon), got shape {y.shape}")
    if not quantile_forecasts:
        raise ValueError("no quantile forecasts to score")
    forecasts: dict[str, FloatArray] = {}
    for raw_key, raw in quantile_forecasts.items():
        key = quantile_key(raw_key)
        q = np.asarray(raw, dtype=np.float64)
        if q.shape != y.shape:
            raise ValueError(f"quantile {key} has shape {q.shape}, actual has {y.shape}")
        forecasts[key] = q
    keys = sorted(forecasts, key=float)
    observed = ~np.isnan(y)
    y0 = np.where(observed, y, 0.0)
    total = np.zeros(y.shape[0])
    for key in keys:
        tau = float(key)
        diff = forecasts[key] - y0
        if not np.isfinite(diff[observed]).all():
            raise ValueError(f"quantile {key} is not finite at an observed point")
        ql = np.where(diff > 0, (1.0 - tau) * diff, -tau * diff)
        total += np.where(observed, ql, 0.0).sum(axis=1)
    count = observed.sum(axis=1).astype(np.float64)
    loss = np.where(count > 0, 2.0 * total / len(keys), np.nan)
    weight = np.abs(y0).sum(axis=1)
    lower, upper = interval if interval is not None else (keys[0], keys[-1])
    lo, hi = forecasts[quantile_key(lower)], forecasts[quantile_key(upper)]
    inside = observed & (y0 >= lo) & (y0 <= hi)
    return WindowScores(loss, weight, inside.sum(axis=1).astype(np.float64), count)


def block_bootstrap_ratio(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    block: int,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> FloatArray:
    """Pooled ratios sum(a) / sum(b) of `resamples` circular block bootstrap resamples.

    a and b are per-window losses in time order (both finite). Each resample draws
    ceil(n / block) blocks of `block` consecutive windows (wrapping at the end) with uniformly
    random starts and keeps the first n windows.
    """
    la = np.asarray(a, dtype=np.float64)
    lb = np.asarray(b, dtype=np.float64)
    n = la.shape[0]
    if n == 0 or lb.shape != la.shape:
        raise ValueError(f"need two equal, non-empty loss arrays, got {la.shape} and {lb.shape}")
    if block < 1 or resamples < 1:
        raise ValueError(f"block and resamples must be >= 1, got {block} and {resamples}")
    block = min(block, n)
    rng = np.random.default_rng(seed)
    blocks = math.ceil(n / block)
    starts = rng.integers(0, n, size=(resamples, blocks))
    index = (starts[:, :, np.newaxis] + np.arange(block)).reshape(resamples, -1)[:, :n] % n
    num = la[index].sum(axis=1)
    den = lb[index].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.inf)


@dataclass(frozen=True)
class Comparison:
    """Model a against model b on the windows both could score (see the module doc)."""

    windows: int
    ratio: float | None
    ci95: tuple[float, float] | None
    std: float | None  # standard deviation of the bootstrap ratios
    median_window_ratio: float | None
    windows_won: float | None  # share of windows where a's loss is lower (ties count half)
    ratio_without_worst: float | None
    dropped_worst: int
    block: int = 1  # windows per bootstrap block actually used

    def to_dict(self) -> dict[str, Any]:
        return {
            "windows": self.windows,
            "block": self.block,
            "ratio": self.ratio,
            "ci95": list(self.ci95) if self.ci95 is not None else None,
            "std": self.std,
            "median_window_ratio": self.median_window_ratio,
            "windows_won": self.windows_won,
            "ratio_without_worst_1pct": self.ratio_without_worst,
            "dropped_worst": self.dropped_worst,
        }

    def describe(self, a: str, b: str) -> str:
        """One line: "candidate/naive 0.86 (95% CI 0.80-0.93), wins 71% of 144 windows"."""
        if self.ratio is None or self.ci95 is None:
            return f"{a}/{b}: not comparable ({self.windows} common windows)"
        won = f", wins {self.windows_won:.0%}" if self.windows_won is not None else ""
        return (
            f"{a}/{b} {self.ratio:.3f} (95% CI {self.ci95[0]:.3f}-{self.ci95[1]:.3f}){won} "
            f"of {self.windows} windows"
        )


def compare(
    a: WindowScores,
    b: WindowScores,
    *,
    block: int,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = DEFAULT_SEED,
    trim_share: float = TRIM_SHARE,
) -> Comparison:
    """Compare model a with model b on the same windows (a's loss over b's)."""
    if len(a) != len(b):
        raise ValueError(f"the models were scored on different windows ({len(a)} vs {len(b)})")
    both = a.valid & b.valid
    la, lb = a.loss[both], b.loss[both]
    n = int(both.sum())
    if n == 0 or lb.sum() <= 0:
        return Comparison(n, None, None, None, None, None, None, 0)
    ratio = float(la.sum() / lb.sum())
    block = max(1, min(block, n // MIN_BLOCKS))
    boots = block_bootstrap_ratio(la, lb, block=block, resamples=resamples, seed=seed)
    finite = boots[np.isfinite(boots)]
    low, high = np.quantile(finite, [0.025, 0.975]) if finite.size else (math.inf, math.inf)
    positive = lb > 0
    median = float(np.median(la[positive] / lb[positive])) if positive.any() else None
    won = float(np.mean(np.where(la < lb, 1.0, np.where(la == lb, 0.5, 0.0))))
    drop = min(math.ceil(trim_share * n), n - 1) if trim_share > 0 else 0
    keep = np.ones(n, dtype=bool)
    if drop:
        keep[np.argsort(la + lb)[-drop:]] = False
    trimmed = float(la[keep].sum() / lb[keep].sum()) if lb[keep].sum() > 0 else None
    return Comparison(
        windows=n,
        ratio=ratio,
        ci95=(float(low), float(high)),
        std=float(np.std(finite)) if finite.size else None,
        median_window_ratio=median,
        windows_won=won,
        ratio_without_worst=trimmed,
        dropped_worst=drop,
        block=block,
    )


def rolling_pooled(scores: WindowScores, windows: int, step: int = 1) -> FloatArray:
    """Pooled loss over every run of `windows` windows taken `step` apart (in time order).

    Monitoring scores one window per hour and pools the last few hours; backtest windows come
    every 30 minutes, so step=2 pools exactly the windows an hourly monitor would have seen.
    A window that cannot be scored is left out of its pools (as an hour without a loss is);
    a pool with no scorable window is dropped.
    """
    if windows < 1 or step < 1:
        raise ValueError(f"windows and step must be >= 1, got {windows} and {step}")
    ok = scores.valid
    loss = np.where(ok, scores.loss, 0.0)
    weight = np.where(ok, scores.weight, 0.0)
    span = (windows - 1) * step
    n = len(scores)
    if n <= span:
        return np.empty(0)
    ends = np.arange(span, n)
    num = np.zeros(ends.size)
    den = np.zeros(ends.size)
    for k in range(windows):
        num += loss[ends - k * step]
        den += weight[ends - k * step]
    keep = den > 0
    return np.asarray(num[keep] / den[keep], dtype=np.float64)


def threshold_from_distribution(values: Sequence[float] | FloatArray, quantile: float) -> float:
    """The alarm threshold a model earns from its own backtest: the `quantile` of its rolling
    pooled losses, never below their median (a quantile under 0.5 would alarm on a typical
    hour)."""
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        raise ValueError("no rolling losses to set a threshold from")
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    return float(max(np.quantile(arr, quantile), np.median(arr)))
