"""A naive probabilistic baseline: last observed value x empirical quantiles of the k-step change.

Every evaluation reports it beside the model: on a single fee series DeepAR only matches cheap
baselines (reference local-model.md: this one scored mean wQL 0.2225 against DeepAR's
0.209-0.243), so a model that does not beat it is not worth deploying.

Changes are log-ratios log(y[t+k] / y[t]) when every observed value is > 0: fee averages are
positive and heavy-tailed, so their moves are closer to multiplicative, and the forecast
quantiles stay positive. If any observed value is <= 0 (possible for total_fee_1min) a
log-ratio is undefined, so the whole forecast falls back to plain differences y[t+k] - y[t].
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from feecast.deepar import Forecast, quantile_key
from feecast.series import MinuteSeries

__all__ = ["DEFAULT_MAX_HISTORY", "MIN_PAIRS", "naive_forecast"]

DEFAULT_MAX_HISTORY = 10080  # one week of minutes
MIN_PAIRS = 30  # fewer pairs than this give quantiles that are mostly noise

FloatArray = npt.NDArray[np.float64]


def naive_forecast(
    history: npt.ArrayLike | MinuteSeries,
    prediction_length: int,
    quantiles: Sequence[str | float],
    *,
    max_history: int | None = DEFAULT_MAX_HISTORY,
    min_pairs: int = MIN_PAIRS,
) -> Forecast:
    """Forecast the `prediction_length` minutes right after the end of `history`.

    For each horizon h the lag is k = h + (minutes between the last observed value and the
    end of history), so a gap at the end is handled rather than ignored. The k-step changes are
    taken only between two observed points exactly k minutes apart (NaN never bridged) within
    the last `max_history` minutes. Quantile forecasts are non-crossing in tau; the mean is the
    last value times the mean ratio (or plus the mean difference).

    Raises ValueError when the history is empty, has no observed value, or has fewer than
    `min_pairs` observed pairs for some lag.
    """
    values = history.values if isinstance(history, MinuteSeries) else history
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"history must be 1-D, got shape {y.shape}")
    if isinstance(prediction_length, bool) or not isinstance(prediction_length, int):
        raise ValueError(f"prediction_length must be an integer, got {prediction_length!r}")
    if prediction_length < 1:
        raise ValueError(f"prediction_length must be >= 1, got {prediction_length}")
    if max_history is not None and max_history < 2:
        raise ValueError(f"max_history must be >= 2 or None, got {max_history}")
    if min_pairs < 1:
        raise ValueError(f"min_pairs must be >= 1, got {min_pairs}")
    keys = [quantile_key(q) for q in quantiles]
    if not keys:
        raise ValueError("no quantiles requested")
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate quantiles in {keys}")
    if np.isinf(y).any():
        raise ValueError("history contains infinite values")

    if max_history is not None:
        y = y[-max_history:]
    observed = np.flatnonzero(~np.isnan(y))
    if observed.size == 0:
        raise ValueError(f"history has no observed value in its last {y.size} minutes")
    last = int(observed[-1])
    last_value = float(y[last])
    offset = y.size - 1 - last  # minutes between the last observation and the end of history

    multiplicative = bool(np.all(y[observed] > 0))
    z = np.log(y) if multiplicative else y

    taus = np.array(sorted(float(k) for k in keys))
    q_paths = np.empty((taus.size, prediction_length))
    mean_path = np.empty(prediction_length)
    for h in range(1, prediction_length + 1):
        lag = h + offset
        changes = z[lag:] - z[:-lag] if lag < z.size else np.empty(0)
        changes = changes[~np.isnan(changes)]  # keeps only pairs with both ends observed
        if changes.size < min_pairs:
            raise ValueError(
                f"too little history: {changes.size} pairs of observed points {lag} minutes "
                f"apart in the last {y.size} minutes ({observed.size} observed), "
                f"{min_pairs} needed for horizon {h}"
            )
        qs = np.quantile(changes, taus)
        if multiplicative:
            # Work in logs: last * exp(q) and last * mean(exp(change)) without overflowing.
            top = float(changes.max())
            log_mean_ratio = top + float(np.log(np.mean(np.exp(changes - top))))
            q_paths[:, h - 1] = np.exp(np.log(last_value) + qs)
            mean_path[h - 1] = math.exp(math.log(last_value) + log_mean_ratio)
        else:
            q_paths[:, h - 1] = last_value + qs
            mean_path[h - 1] = last_value + float(np.mean(changes))

    # np.quantile is monotone in tau; the running max guards against float ties reordering.
    q_paths = np.maximum.accumulate(q_paths, axis=0)
    by_level = {quantile_key(t): q_paths[i] for i, t in enumerate(taus)}
    return Forecast(mean=mean_path, quantiles=by_level)
