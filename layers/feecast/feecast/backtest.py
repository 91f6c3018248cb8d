"""The rolling-origin backtest: which windows, what the batch transform forecasts, the scores.

A build holds out the last `backtest_days` of its history. The model is trained on what comes
before; then, from an origin every `origin_spacing_minutes` in the held-out part, it forecasts
the next `prediction_length` minutes from the history before that origin only, exactly as a
deployed model forecasts from the minutes it is sent. Every model (the candidate, the model in
production, the naive forecast, the robust baseline) is scored on the same windows, and
feecast.stats compares them with intervals. `feecast backtest` and bench/ run the same code on
any series.

Indexes here are positions in the series (step 0 = its first value); an origin o forecasts
values[o : o + prediction_length] from values[:o].
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from feecast.deepar import Forecast, quantile_key, to_record
from feecast.features import dynamic_features
from feecast.series import MinuteSeries
from feecast.stats import (
    BOOTSTRAP_RESAMPLES,
    DEFAULT_SEED,
    Comparison,
    WindowScores,
    compare,
    rolling_pooled,
    threshold_from_distribution,
    window_scores,
)

__all__ = [
    "AlarmCalibration",
    "BacktestPlan",
    "BacktestResult",
    "actual_windows",
    "alarm_calibration",
    "evaluate_backtest",
    "naive_verdict",
    "plan_backtest",
    "stack_quantiles",
    "transform_input",
]

FloatArray = npt.NDArray[np.float64]
_ISO = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class BacktestPlan:
    """The origins of a backtest over a series of `length` steps."""

    length: int
    first: int  # where the held-out part starts: the training data is values[:first]
    origins: tuple[int, ...]
    skipped: tuple[int, ...]  # origins left out: no observed value in the window or before it
    spacing: int  # steps between origins
    prediction_length: int
    context: int  # steps of history each transform line carries

    def __len__(self) -> int:
        return len(self.origins)

    def to_dict(self, start: datetime | None = None, step_minutes: int = 1) -> dict[str, Any]:
        out: dict[str, Any] = {
            "origins": len(self.origins),
            "skipped": len(self.skipped),
            "first_index": self.first,
            "spacing_steps": self.spacing,
            "prediction_length": self.prediction_length,
            "context_steps": self.context,
        }
        if start is not None and self.origins:
            step = timedelta(minutes=step_minutes)
            out["start"] = f"{start + self.first * step:{_ISO}}"
            out["first_origin"] = f"{start + self.origins[0] * step:{_ISO}}"
            out["last_origin"] = f"{start + self.origins[-1] * step:{_ISO}}"
            out["end"] = f"{start + (self.origins[-1] + self.prediction_length) * step:{_ISO}}"
        return out


def plan_backtest(
    values: npt.ArrayLike | MinuteSeries,
    *,
    holdout: int,
    spacing: int,
    prediction_length: int,
    context: int,
) -> BacktestPlan:
    """Origins every `spacing` steps from the start of the last `holdout` steps, as long as a
    whole window fits. An origin whose window has no observed value (nothing to score) or
    whose context has none (nothing to forecast from) is skipped and counted."""
    y = np.asarray(values.values if isinstance(values, MinuteSeries) else values, dtype=float)
    n = y.size
    for name, value in (
        ("holdout", holdout),
        ("spacing", spacing),
        ("prediction_length", prediction_length),
        ("context", context),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if holdout >= n:
        raise ValueError(
            f"the series has {n} steps: holding out {holdout} leaves nothing to train on"
        )
    first = n - holdout
    observed = ~np.isnan(y)
    seen = np.concatenate([[0], np.cumsum(observed)])
    origins: list[int] = []
    skipped: list[int] = []
    for origin in range(first, n - prediction_length + 1, spacing):
        in_window = seen[origin + prediction_length] - seen[origin]
        before = seen[origin] - seen[max(0, origin - context)]
        (origins if in_window > 0 and before > 0 else skipped).append(origin)
    return BacktestPlan(
        n, first, tuple(origins), tuple(skipped), spacing, prediction_length, context
    )


def transform_input(series: MinuteSeries, plan: BacktestPlan, features: Sequence[str] = ()) -> str:
    """The batch transform's input: one DeepAR JSON line per origin, in order.

    Each line is the series ending right before its origin, at most `plan.context` steps
    long; with `features`, its dynamic_feat covers the context and the prediction_length
    minutes after it (what DeepAR requires for inference).
    """
    lines = []
    for origin in plan.origins:
        context = series[max(0, origin - plan.context) : origin]
        dyn = (
            dynamic_features(context.start, len(context) + plan.prediction_length, features)
            if features
            else None
        )
        lines.append(json.dumps(to_record(context, dynamic_feat=dyn), allow_nan=False) + "\n")
    return "".join(lines)


def actual_windows(
    values: npt.ArrayLike | MinuteSeries, origins: Sequence[int], prediction_length: int
) -> FloatArray:
    """(origins, prediction_length): the values each window is scored against."""
    y = np.asarray(values.values if isinstance(values, MinuteSeries) else values, dtype=float)
    return np.stack([y[o : o + prediction_length] for o in origins])


def stack_quantiles(
    forecasts: Sequence[Forecast], keys: Sequence[str], prediction_length: int | None = None
) -> dict[str, FloatArray]:
    """{quantile: (windows, horizon)} from one forecast per window (ValueError if one lacks a
    quantile or has the wrong length)."""
    out: dict[str, FloatArray] = {}
    for key in keys:
        rows = []
        for i, forecast in enumerate(forecasts):
            if key not in forecast.quantiles:
                raise ValueError(
                    f"forecast {i} has no quantile {key} (has {list(forecast.quantiles)})"
                )
            if prediction_length is not None and len(forecast) != prediction_length:
                raise ValueError(
                    f"forecast {i} has {len(forecast)} steps, expected {prediction_length}"
                )
            rows.append(forecast.quantiles[key])
        out[key] = np.stack(rows)
    return out


@dataclass(frozen=True)
class BacktestResult:
    """Every model scored on the same windows, and the comparisons of the subject model."""

    subject: str
    keys: tuple[str, ...]
    interval: tuple[str, str]
    scores: dict[str, WindowScores]
    comparisons: dict[str, Comparison]  # other model -> subject against it
    block: int
    resamples: int
    seed: int
    origins: tuple[int, ...] = field(default=())

    def pooled(self, model: str) -> float | None:
        return self.scores[model].pooled()

    def ratio(self, other: str) -> Comparison | None:
        return self.comparisons.get(other)

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "quantiles": list(self.keys),
            "interval": list(self.interval),
            "windows": len(self.scores[self.subject]),
            "bootstrap": {
                "method": "circular block bootstrap of the pooled ratio, 95% percentile interval",
                "block_windows": self.block,
                "resamples": self.resamples,
                "seed": self.seed,
            },
            "models": {
                name: {
                    "wql": _round(s.pooled()),
                    "coverage": _round(s.coverage()),
                    "scored_windows": int(s.valid.sum()),
                }
                for name, s in self.scores.items()
            },
            "comparisons": {
                f"{self.subject}/{other}": _rounded(c.to_dict())
                for other, c in self.comparisons.items()
            },
        }

    def per_window(self) -> dict[str, list[float | None]]:
        """Each model's own loss per window (None where a window cannot be scored)."""
        return {
            name: [None if math.isnan(v) else round(float(v), 5) for v in s.per_window()]
            for name, s in self.scores.items()
        }


def _round(value: float | None, digits: int = 5) -> float | None:
    return None if value is None else round(float(value), digits)


def _rounded(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, float):
            out[key] = round(value, 5)
        elif isinstance(value, list):
            out[key] = [round(v, 5) if isinstance(v, float) else v for v in value]
        else:
            out[key] = value
    return out


def evaluate_backtest(
    actual: npt.ArrayLike,
    forecasts: Mapping[str, Sequence[Forecast] | Mapping[str, npt.ArrayLike]],
    *,
    quantiles: Sequence[str | float],
    subject: str,
    block: int,
    interval: tuple[str, str] | None = None,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = DEFAULT_SEED,
    origins: Sequence[int] = (),
) -> BacktestResult:
    """Score every model on the same windows and compare `subject` with each of the others.

    `forecasts` maps a model name to one Forecast per window (or to ready quantile arrays).
    """
    y = np.asarray(actual, dtype=np.float64)
    keys = tuple(quantile_key(q) for q in quantiles)
    ordered = tuple(sorted(keys, key=float))
    span = interval or (ordered[0], ordered[-1])
    if subject not in forecasts:
        raise ValueError(f"no forecasts of the subject model {subject!r}")
    scores: dict[str, WindowScores] = {}
    for name, fc in forecasts.items():
        arrays = (
            {quantile_key(k): np.asarray(v, dtype=np.float64) for k, v in fc.items()}
            if isinstance(fc, Mapping)
            else stack_quantiles(fc, keys, y.shape[1])
        )
        if next(iter(arrays.values())).shape[0] != y.shape[0]:
            raise ValueError(f"model {name!r} has forecasts for another number of windows")
        scores[name] = window_scores(y, {k: arrays[k] for k in keys}, interval=span)
    comparisons = {
        other: compare(scores[subject], scores[other], block=block, resamples=resamples, seed=seed)
        for other in scores
        if other != subject
    }
    return BacktestResult(
        subject, keys, span, scores, comparisons, block, resamples, seed, tuple(origins)
    )


@dataclass(frozen=True)
class AlarmCalibration:
    """The alarm threshold a model earns from its backtest, and the distribution behind it."""

    threshold: float
    quantile: float
    pools: int  # rolling pools the distribution has
    windows_per_pool: int
    median: float
    p90: float
    p99: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": round(self.threshold, 6),
            "quantile": self.quantile,
            "pools": self.pools,
            "windows_per_pool": self.windows_per_pool,
            "median": round(self.median, 6),
            "p90": round(self.p90, 6),
            "p99": round(self.p99, 6),
        }


def alarm_calibration(
    scores: WindowScores,
    *,
    spacing_minutes: int,
    alarm_window_hours: int,
    quantile: float,
) -> AlarmCalibration:
    """The threshold for the hourly alarm from the model's own backtest (feecast.stats).

    Monitoring scores one window an hour and the alarm watches the loss pooled over the last
    `alarm_window_hours` of them; the backtest windows come every `spacing_minutes`, so the
    pools take every (60 / spacing)-th window: exactly what an hourly monitor would have pooled.
    """
    step = max(1, round(60 / spacing_minutes))
    pools = rolling_pooled(scores, alarm_window_hours, step)
    if pools.size == 0:
        raise ValueError(f"the backtest has too few windows for one {alarm_window_hours}-hour pool")
    threshold = threshold_from_distribution(pools, quantile)
    p50, p90, p99 = np.quantile(pools, [0.5, 0.9, 0.99])
    return AlarmCalibration(
        threshold, quantile, int(pools.size), alarm_window_hours, float(p50), float(p90), float(p99)
    )


def naive_verdict(comparison: Comparison | None) -> str:
    """Plain words for a model against the naive forecast, from the 95% interval.

    "beats naive clearly" (the whole interval below 0.9), "beats naive", "barely beats naive"
    (better, but by less than 5% or with an interval reaching past 0.97), "no better than
    naive" (the interval straddles 1), "worse than naive" (the whole interval above 1).
    """
    if comparison is None or comparison.ratio is None or comparison.ci95 is None:
        return "not compared with naive"
    low, high = comparison.ci95
    ratio = comparison.ratio
    if high < 0.9:
        return f"beats naive clearly ({1 - ratio:.0%} lower loss)"
    if high < 1.0:
        if ratio > 0.95 or high > 0.97:
            return f"barely beats naive ({1 - ratio:.0%} lower loss, 95% CI up to {high:.2f})"
        return f"beats naive ({1 - ratio:.0%} lower loss)"
    if low > 1.0:
        return f"worse than naive ({ratio - 1:.0%} higher loss)"
    return f"no better than naive (ratio {ratio:.2f}, 95% CI {low:.2f}-{high:.2f} includes 1)"
