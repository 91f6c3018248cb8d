"""A naive probabilistic baseline: last observed value x empirical quantiles of the k-step change.

Every evaluation reports it beside the model: on a single fee series DeepAR only matches cheap
baselines (reference local-model.md: this one scored mean wQL 0.2225 against DeepAR's
0.209-0.243), so a model that does not beat it is not worth deploying.

Changes are log-ratios log(y[t+k] / y[t]) when every observed value is > 0: fee averages are
positive and heavy-tailed, so their moves are closer to multiplicative, and the forecast
quantiles stay positive. If any observed value is <= 0 (possible for total_fee_1min) a
log-ratio is undefined, so the whole forecast falls back to plain differences y[t+k] - y[t].

`seasonal_naive_forecast` is the other classic yardstick: the value one season earlier (one day
of minutes by default) x empirical quantiles of the one-season change. Fees have a daily cycle,
but per-minute averages are so noisy that it loses to the last value (bench/: forecast quality).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from feecast.deepar import Forecast, quantile_key
from feecast.series import MinuteSeries

__all__ = [
    "DEFAULT_MAX_HISTORY",
    "DEFAULT_SEASON",
    "MIN_PAIRS",
    "naive_forecast",
    "seasonal_naive_forecast",
]

DEFAULT_MAX_HISTORY = 10080  # one week of minutes
MIN_PAIRS = 30  # fewer pairs than this give quantiles that are mostly noise
DEFAULT_SEASON = 1440  # one day of minutes

FloatArray = npt.NDArray[np.float64]


def _checked(
    history: npt.ArrayLike | MinuteSeries,
    prediction_length: int,
    quantiles: Sequence[str | float],
    max_history: int | None,
    min_pairs: int,
) -> tuple[FloatArray, list[str]]:
    """The history as a float array and the canonical quantile keys; ValueError if invalid."""
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
    return y, keys


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
    y, keys = _checked(history, prediction_length, quantiles, max_history, min_pairs)
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


def seasonal_naive_forecast(
    history: npt.ArrayLike | MinuteSeries,
    prediction_length: int,
    quantiles: Sequence[str | float],
    *,
    season: int = DEFAULT_SEASON,
    max_history: int | None = DEFAULT_MAX_HISTORY,
    min_pairs: int = MIN_PAIRS,
) -> Forecast:
    """Forecast minute t as the value at t - season x empirical quantiles of one-season changes.

    The reference for a horizon is the same minute one season earlier; if it is missing, the
    same minute in the season before (and so on) within the history. The changes
    log(y[t] / y[t - season]) (or differences when a value is <= 0, as in `naive_forecast`)
    are taken between observed pairs within the last `max_history` minutes; their distribution
    is the same for every horizon, so one set of quantiles serves all. Quantiles never cross.

    Raises ValueError on bad arguments, when prediction_length > season (the reference would
    be in the future), when a horizon has no observed reference, or when there are fewer than
    `min_pairs` observed pairs one season apart.
    """
    if isinstance(season, bool) or not isinstance(season, int) or season < 1:
        raise ValueError(f"season must be an integer >= 1, got {season!r}")
    y, keys = _checked(history, prediction_length, quantiles, max_history, min_pairs)
    if prediction_length > season:
        raise ValueError(
            f"prediction_length {prediction_length} is longer than the season {season}: the "
            "same minute one season earlier would be in the future"
        )
    window = y if max_history is None else y[-max_history:]
    observed = ~np.isnan(window)
    if not observed.any():
        raise ValueError(f"history has no observed value in its last {window.size} minutes")
    multiplicative = bool(np.all(window[observed] > 0))

    # Reference of horizon h (minute n-1+h): n-1+h-season, or a whole number of seasons earlier.
    n = y.size
    references = np.empty(prediction_length)
    for h in range(1, prediction_length + 1):
        first = n - 1 + h - season
        candidates = y[first::-season] if first >= 0 else np.empty(0)
        found = candidates[~np.isnan(candidates)]
        if found.size == 0:
            raise ValueError(
                f"no observed value at the same minute of an earlier season for horizon {h} "
                f"(season {season}, {n} minutes of history)"
            )
        references[h - 1] = found[0]
    if multiplicative and not np.all(references > 0):  # a reference older than max_history
        multiplicative = False

    z = np.log(window) if multiplicative else window
    changes = z[season:] - z[:-season] if season < z.size else np.empty(0)
    changes = changes[~np.isnan(changes)]
    if changes.size < min_pairs:
        raise ValueError(
            f"too little history: {changes.size} pairs of observed points {season} minutes "
            f"apart in the last {window.size} minutes, {min_pairs} needed"
        )
    taus = np.array(sorted(float(k) for k in keys))
    qs = np.maximum.accumulate(np.quantile(changes, taus))
    if multiplicative:
        top = float(changes.max())
        log_mean_ratio = top + float(np.log(np.mean(np.exp(changes - top))))
        q_paths = np.exp(np.log(references)[np.newaxis, :] + qs[:, np.newaxis])
        mean_path = np.exp(np.log(references) + log_mean_ratio)
    else:
        q_paths = references[np.newaxis, :] + qs[:, np.newaxis]
        mean_path = references + float(np.mean(changes))
    q_paths = np.maximum.accumulate(q_paths, axis=0)
    by_level = {quantile_key(t): q_paths[i] for i, t in enumerate(taus)}
    return Forecast(mean=mean_path, quantiles=by_level)
