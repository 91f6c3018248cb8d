"""Weighted quantile loss, exactly as SageMaker DeepAR reports test:mean_wQuantileLoss.

    wQL[tau] = 2 * sum_{i,t} QL_tau(q, y) / sum_{i,t} |y|
    QL_tau   = (1 - tau) * (q - y) if q > y else tau * (y - q)
    mean     = average of wQL[tau] over the evaluated quantiles

Missing actual points (NaN) are left out of both sums and counted. When nothing is left, or
sum |y| is 0, the loss is undefined and reported as such instead of dividing by zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from feecast.deepar import Forecast, quantile_key

__all__ = ["LossResult", "weighted_quantile_loss", "wql_from_forecasts"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LossResult:
    """The weighted quantile loss of a set of forecasts.

    When `defined` is False, `mean` and every per-quantile value are None and `reason` says why.
    `evaluated` counts the actual points used, `missing` those skipped because they are NaN.
    """

    mean: float | None
    per_quantile: dict[str, float | None]
    defined: bool
    reason: str | None
    evaluated: int
    missing: int
    quantiles: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantiles", tuple(self.per_quantile))

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "per_quantile": dict(self.per_quantile),
            "defined": self.defined,
            "reason": self.reason,
            "evaluated": self.evaluated,
            "missing": self.missing,
        }


def _as_2d(values: npt.ArrayLike, what: str) -> FloatArray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be numeric") from None
    if arr.ndim == 1:
        return arr[np.newaxis, :]
    if arr.ndim == 2:
        return arr
    raise ValueError(f"{what} must be 1-D (horizon) or 2-D (series x horizon), got {arr.ndim}-D")


def weighted_quantile_loss(
    actual: npt.ArrayLike,
    quantile_forecasts: Mapping[str, npt.ArrayLike] | Mapping[float, npt.ArrayLike],
) -> LossResult:
    """wQL per quantile and their mean over all series and horizon points (see module doc).

    `actual` and every forecast are 1-D (one series) or 2-D (series x horizon) of the same
    shape. Quantile keys may be floats or strings; results are keyed canonically ("0.5").
    """
    y = _as_2d(actual, "actual")
    if not quantile_forecasts:
        raise ValueError("no quantile forecasts to score")
    if np.isinf(y).any():
        raise ValueError("actual contains infinite values")

    forecasts: dict[str, FloatArray] = {}
    for raw_key, raw in quantile_forecasts.items():
        key = quantile_key(raw_key)
        if key in forecasts:
            raise ValueError(f"quantile {raw_key!r} given twice (as {key!r})")
        q = _as_2d(raw, f"forecast for quantile {key}")
        if q.shape != y.shape:
            raise ValueError(
                f"forecast for quantile {key} has shape {q.shape}, actual has shape {y.shape}"
            )
        forecasts[key] = q
    keys = sorted(forecasts, key=float)

    observed = ~np.isnan(y)
    evaluated = int(observed.sum())
    missing = int(y.size - evaluated)
    # Each quantile's forecasts at the observed points, one row at a time: a year of minutes
    # x 9 quantiles stacked into one array (plus its temporaries) cost 4x the time in memory
    # traffic (bench/bench_data_path.py).
    q_obs: dict[str, FloatArray] = {}
    for key in keys:
        q_obs[key] = forecasts[key][observed]
        if not np.isfinite(q_obs[key]).all():
            raise ValueError(f"forecast for quantile {key} is not finite at an observed point")

    def undefined(reason: str) -> LossResult:
        return LossResult(None, dict.fromkeys(keys), False, reason, evaluated, missing)

    if evaluated == 0:
        return undefined(f"every actual point is missing ({missing} points)")
    y_obs = y[observed]
    denominator = float(np.abs(y_obs).sum())
    if denominator == 0.0:
        return undefined(
            f"sum of |actual| over {evaluated} observed points is 0: the weighted loss is undefined"
        )

    sums = []
    for key in keys:
        tau = float(key)
        diff = q_obs[key] - y_obs
        # (1 - tau) * diff above the actual, -tau * diff below: the same products as a
        # np.where over both, with one multiplication instead of two.
        diff *= np.where(diff > 0, 1.0 - tau, -tau)
        sums.append(diff.sum())
    wql = 2.0 * np.array(sums) / denominator
    per_quantile: dict[str, float | None] = {k: float(v) for k, v in zip(keys, wql, strict=True)}
    return LossResult(float(wql.mean()), per_quantile, True, None, evaluated, missing)


def wql_from_forecasts(
    actual: npt.ArrayLike, forecasts: Sequence[Forecast], quantiles: Sequence[str | float]
) -> LossResult:
    """Score parsed forecasts: `actual` row i (or the 1-D array, for one forecast) vs forecast i."""
    if isinstance(forecasts, Forecast):
        forecasts = [forecasts]
    if not forecasts:
        raise ValueError("no forecasts to score")
    keys = [quantile_key(q) for q in quantiles]
    if not keys:
        raise ValueError("no quantiles to score")
    y = _as_2d(actual, "actual")
    if y.shape[0] != len(forecasts):
        raise ValueError(f"actual has {y.shape[0]} series but there are {len(forecasts)} forecasts")
    stacked: dict[str, FloatArray] = {}
    for key in keys:
        rows = []
        for i, f in enumerate(forecasts):
            if key not in f.quantiles:
                raise ValueError(f"forecast {i} has no quantile {key} (has {list(f.quantiles)})")
            if len(f) != y.shape[1]:
                raise ValueError(
                    f"forecast {i} has {len(f)} points, actual has {y.shape[1]} per series"
                )
            rows.append(f.quantiles[key])
        stacked[key] = np.stack(rows)
    return weighted_quantile_loss(y, stacked)
