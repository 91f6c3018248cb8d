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
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from feecast.deepar import Forecast, quantile_key
from feecast.series import MinuteSeries

__all__ = [
    "DEFAULT_MAX_HISTORY",
    "DEFAULT_SEASON",
    "MIN_PAIRS",
    "RobustBaseline",
    "ewma_levels",
    "naive_forecast",
    "robust_features",
    "robust_forecast",
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


# -- the robust baseline ---------------------------------------------------------------------------
# A strong cheap yardstick (numpy only): per horizon h, a linear median regression of
# log(value[t + h]) on log features known at t (the last value, means of the last 5, 15, 60 and
# 240 steps, a smoothed level, the recent slope and the hour of day), plus the quantiles of its
# residuals at that horizon. Fitted once on a training part, then applied at every origin, like
# a trained model. Means over many minutes see through the noise of single minutes (most of
# the minute-to-minute variance of an average fee is noise), and the long means and the slope
# let it follow a congestion burst.
ROBUST_ANCHORS = (1, 2, 3, 5, 8, 12, 18, 24, 30, 45, 60, 90, 120, 180, 240, 300, 400)
ROBUST_MAX_ROWS = 5000
ROBUST_WARMUP = 240  # steps of history before the first row (the longest mean)
_IRLS_ITERATIONS = 30


def ewma_levels(values: npt.ArrayLike, half_life: float) -> FloatArray:
    """Exponentially weighted moving average of `values`, NaN skipped (the level holds).

    levels[t] uses values[0..t] only (causal); before the first observed value it is NaN.
    """
    z = np.asarray(values, dtype=np.float64)
    if half_life <= 0:
        raise ValueError(f"half_life must be > 0, got {half_life}")
    alpha = 1.0 - 0.5 ** (1.0 / half_life)
    out = np.full(z.shape, np.nan)
    level = math.nan
    for t, value in enumerate(z.tolist()):
        if value == value:  # not NaN
            level = value if level != level else level + alpha * (value - level)
        out[t] = level
    return out


def _forward_fill(z: FloatArray) -> FloatArray:
    """NaN replaced by the last observed value (NaN before the first one)."""
    index = np.where(np.isnan(z), 0, np.arange(z.size))
    np.maximum.accumulate(index, out=index)
    filled = z[index]
    filled[: int(np.argmax(~np.isnan(z)))] = np.nan
    return filled


def robust_features(
    z: npt.ArrayLike, minute_of_day: npt.ArrayLike, step_minutes: int = 1
) -> FloatArray:
    """The robust baseline's features at every step (row t uses z[0..t] only).

    z is the series in the space the baseline works in (log values for a positive series);
    minute_of_day gives each step's minute of the UTC day. Window lengths are in minutes and
    converted to steps (at least one).
    """
    zz = np.asarray(z, dtype=np.float64)
    filled = _forward_fill(zz)
    cumulative = np.concatenate([[0.0], np.cumsum(np.nan_to_num(filled))])
    n = zz.size

    def mean_last(minutes: int) -> FloatArray:
        k = max(1, round(minutes / step_minutes))
        out = np.full(n, np.nan)
        idx = np.arange(k - 1, n)
        out[idx] = (cumulative[idx + 1] - cumulative[idx + 1 - k]) / k
        return out

    m15 = mean_last(15)
    lag = max(1, round(15 / step_minutes))
    slope = np.full(n, np.nan)
    slope[lag:] = m15[lag:] - m15[:-lag]
    angle = 2 * np.pi * np.asarray(minute_of_day, dtype=np.float64) / 1440.0
    return np.stack(
        [
            np.ones(n),
            filled,
            mean_last(5),
            m15,
            mean_last(60),
            mean_last(240),
            ewma_levels(zz, max(1.0, 16 / step_minutes)),
            slope,
            np.sin(angle),
            np.cos(angle),
        ],
        axis=1,
    )


def _median_regression(x: FloatArray, y: FloatArray) -> FloatArray:
    """Least absolute deviations by iteratively reweighted least squares (a small ridge keeps
    collinear features solvable)."""
    ridge = 1e-6 * np.eye(x.shape[1])
    beta = np.linalg.solve(x.T @ x + ridge, x.T @ y)
    for _ in range(_IRLS_ITERATIONS):
        weights = 1.0 / np.maximum(np.abs(y - x @ beta), 1e-4)
        xw = x * weights[:, np.newaxis]
        beta = np.linalg.solve(x.T @ xw + ridge, xw.T @ y)
    return np.asarray(beta, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class RobustBaseline:
    """A fitted robust baseline: coefficients and residual quantiles per horizon."""

    prediction_length: int
    keys: tuple[str, ...]
    multiplicative: bool
    step_minutes: int
    coefficients: FloatArray  # (prediction_length, features)
    residual_quantiles: FloatArray  # (prediction_length, quantiles), sorted by level
    residual_log_mean_exp: FloatArray  # (prediction_length,) for the mean forecast
    rows: int

    @classmethod
    def fit(
        cls,
        values: npt.ArrayLike | MinuteSeries,
        prediction_length: int,
        quantiles: Sequence[str | float],
        *,
        start: datetime | None = None,
        step_minutes: int = 1,
        fit_end: int | None = None,
        max_history: int | None = 4 * DEFAULT_MAX_HISTORY,
        min_pairs: int = MIN_PAIRS,
    ) -> RobustBaseline:
        """Fit on values[:fit_end] (the whole series by default). `start` is the time of
        values[0] (a MinuteSeries carries it); without one the hour of day is not used."""
        if isinstance(values, MinuteSeries):
            start = values.start if start is None else start
            values = values.values
        y = np.asarray(values, dtype=np.float64)
        end = y.size if fit_end is None else fit_end
        train, keys = _checked(y[:end], prediction_length, quantiles, max_history, min_pairs)
        if step_minutes < 1:
            raise ValueError(f"step_minutes must be >= 1, got {step_minutes}")
        observed = train[~np.isnan(train)]
        if observed.size == 0:
            raise ValueError("no observed value to fit the robust baseline on")
        multiplicative = bool(np.all(observed > 0))
        x, z = cls._design(y[:end], start, step_minutes, multiplicative)
        low = ROBUST_WARMUP // step_minutes
        if max_history is not None:
            low = max(low, end - max_history)
        taus = np.array(sorted(float(k) for k in keys))
        anchors = sorted({h for h in ROBUST_ANCHORS if h < prediction_length} | {prediction_length})
        fitted: dict[int, FloatArray] = {}
        rows = 0
        for h in anchors:
            t = np.arange(low, end - h)
            t = t[np.isfinite(z[t + h]) & np.isfinite(x[t]).all(axis=1)]
            if t.size < max(min_pairs, 3 * x.shape[1]):
                raise ValueError(
                    f"too little history for the robust baseline: {t.size} usable pairs "
                    f"{h} steps apart, {max(min_pairs, 3 * x.shape[1])} needed"
                )
            if t.size > ROBUST_MAX_ROWS:
                t = t[np.linspace(0, t.size - 1, ROBUST_MAX_ROWS).astype(int)]
            rows = max(rows, int(t.size))
            fitted[h] = _median_regression(x[t], z[t + h])
        horizons = np.arange(1, prediction_length + 1)
        anchor_arr = np.array(anchors, dtype=np.float64)
        stacked = np.stack([fitted[h] for h in anchors])
        coefficients = np.stack(
            [np.interp(horizons, anchor_arr, stacked[:, j]) for j in range(stacked.shape[1])],
            axis=1,
        )
        qs = np.empty((prediction_length, taus.size))
        lme = np.empty(prediction_length)
        for step in horizons.tolist():
            t = np.arange(low, end - step)
            t = t[np.isfinite(z[t + step]) & np.isfinite(x[t]).all(axis=1)]
            if t.size > ROBUST_MAX_ROWS:
                t = t[np.linspace(0, t.size - 1, ROBUST_MAX_ROWS).astype(int)]
            h = int(step)
            r = z[t + h] - x[t] @ coefficients[h - 1]
            qs[h - 1] = np.quantile(r, taus)
            top = float(r.max())
            lme[h - 1] = top + math.log(float(np.mean(np.exp(r - top))))
        return cls(
            prediction_length=prediction_length,
            keys=tuple(quantile_key(t) for t in taus),
            multiplicative=multiplicative,
            step_minutes=step_minutes,
            coefficients=coefficients,
            residual_quantiles=np.maximum.accumulate(qs, axis=1),
            residual_log_mean_exp=lme,
            rows=rows,
        )

    @staticmethod
    def _design(
        y: FloatArray, start: datetime | None, step_minutes: int, multiplicative: bool
    ) -> tuple[FloatArray, FloatArray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.log(y) if multiplicative else y.copy()
        if multiplicative:
            z[~(y > 0)] = np.nan  # a value <= 0 after the fit: treated as missing
        minute_of_day = np.zeros(y.size)
        if start is not None:
            first = start.hour * 60 + start.minute
            minute_of_day = ((first + step_minutes * np.arange(y.size)) % 1440).astype(float)
        return robust_features(z, minute_of_day, step_minutes), z

    def forecasts(
        self,
        values: npt.ArrayLike | MinuteSeries,
        origins: Sequence[int],
        *,
        start: datetime | None = None,
    ) -> list[Forecast]:
        """The forecast at each origin (an index: it covers values[origin : origin + length]
        from values[:origin] only)."""
        if isinstance(values, MinuteSeries):
            start = values.start if start is None else start
            values = values.values
        y = np.asarray(values, dtype=np.float64)
        if not origins:
            return []
        x, _ = self._design(y[: max(origins)], start, self.step_minutes, self.multiplicative)
        out = []
        for origin in origins:
            if not 0 < origin <= y.size:
                raise ValueError(f"origin {origin} is outside the series (0, {y.size}]")
            row = x[origin - 1]
            if not np.isfinite(row).all():
                raise ValueError(
                    f"no observed value (or too little history) before origin {origin}"
                )
            centre = self.coefficients @ row
            paths = centre[np.newaxis, :] + self.residual_quantiles.T
            mean = centre + self.residual_log_mean_exp
            if self.multiplicative:
                paths, mean = np.exp(paths), np.exp(mean)
            out.append(Forecast(mean=mean, quantiles=dict(zip(self.keys, paths, strict=True))))
        return out


def robust_forecast(
    history: npt.ArrayLike | MinuteSeries,
    prediction_length: int,
    quantiles: Sequence[str | float],
    *,
    start: datetime | None = None,
    step_minutes: int = 1,
) -> Forecast:
    """Fit the robust baseline on `history` and forecast the steps right after it."""
    model = RobustBaseline.fit(
        history, prediction_length, quantiles, start=start, step_minutes=step_minutes
    )
    size = len(history.values if isinstance(history, MinuteSeries) else np.asarray(history))
    return model.forecasts(history, [size], start=start)[0]
