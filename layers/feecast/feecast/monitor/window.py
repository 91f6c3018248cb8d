"""What an hourly run compares, and the comparison itself (pure: no AWS calls).

The forecast horizon is `prediction_length` minutes (30) and runs are hourly, so the run at
scheduled time T scores the forecast made at the previous run's time O = T - 1 h, over the
minutes [O, O + horizon) = [T-60, T-30). Those minutes closed at least 30 minutes ago, so
ingestion and the offline store have caught up with them: a missing minute there is a real gap,
not lag. (A horizon longer than the run interval is cut at T: only minutes that happened count.)

The naive baseline is scored on the same minutes, forecast from the same origin with only the
history before it, so the two losses are comparable point for point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from feecast.baseline import naive_forecast
from feecast.deepar import Forecast
from feecast.metrics import LossResult, wql_from_forecasts
from feecast.series import MINUTE, MinuteSeries, floor_minute
from feecast.times import iso

__all__ = [
    "RUN_INTERVAL",
    "EvaluationWindow",
    "WindowScore",
    "context_before",
    "evaluation_window",
    "score_window",
    "truncate",
]

RUN_INTERVAL = timedelta(hours=1)
MAX_LISTED_MISSING = 10  # missing minutes named in the result (the count is always complete)


@dataclass(frozen=True)
class EvaluationWindow:
    """The minutes [start, end) scored at a run; `origin` == start, where the forecast began."""

    start: datetime
    end: datetime

    @property
    def origin(self) -> datetime:
        return self.start

    @property
    def minutes(self) -> int:
        return (self.end - self.start) // MINUTE

    def to_dict(self) -> dict[str, Any]:
        return {"start": iso(self.start), "end": iso(self.end), "minutes": self.minutes}


def evaluation_window(
    scheduled: datetime, prediction_length: int, interval: timedelta = RUN_INTERVAL
) -> EvaluationWindow:
    """The window scored by the run scheduled at `scheduled` (see the module doc)."""
    if prediction_length < 1:
        raise ValueError(f"prediction_length must be >= 1, got {prediction_length}")
    now = floor_minute(scheduled)
    origin = now - interval
    return EvaluationWindow(origin, min(origin + prediction_length * MINUTE, now))


def context_before(history: MinuteSeries, origin: datetime, minutes: int) -> MinuteSeries:
    """The `minutes` minutes right before `origin` (NaN where the history has no value)."""
    return history.window(origin - minutes * MINUTE, origin)


def truncate(forecast: Forecast, length: int) -> Forecast:
    """The first `length` steps of a forecast (a window cut at "now" is shorter than the horizon)."""
    if length > len(forecast):
        raise ValueError(f"forecast has {len(forecast)} steps, {length} are needed")
    return Forecast(
        mean=forecast.mean[:length],
        quantiles={k: v[:length] for k, v in forecast.quantiles.items()},
    )


@dataclass(frozen=True)
class WindowScore:
    """The model's and the baseline's loss over one window, with what was missing."""

    window: EvaluationWindow
    model: LossResult | None  # None when there was no forecast to score
    baseline: LossResult | None  # None when the baseline could not be formed (reason in notes)
    missing_minutes: int
    missing_at: tuple[datetime, ...]  # the first MAX_LISTED_MISSING missing minutes
    notes: tuple[str, ...] = field(default=())
    weight: float = 0.0  # sum of |actual| over the observed minutes (pools windows: rolling.py)

    @property
    def loss(self) -> float | None:
        return self.model.mean if self.model is not None and self.model.defined else None

    @property
    def baseline_loss(self) -> float | None:
        return self.baseline.mean if self.baseline is not None and self.baseline.defined else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window.to_dict(),
            "loss": self.loss,
            "baseline_loss": self.baseline_loss,
            "evaluated_minutes": self.window.minutes - self.missing_minutes,
            "missing_minutes": self.missing_minutes,
            "missing_at": [iso(m) for m in self.missing_at],
            "weight": self.weight,
            "model": None if self.model is None else self.model.to_dict(),
            "baseline": None if self.baseline is None else self.baseline.to_dict(),
            "notes": list(self.notes),
        }


def score_window(
    history: MinuteSeries,
    window: EvaluationWindow,
    forecast: Forecast | None,
    quantiles: Sequence[str],
) -> WindowScore:
    """Score `forecast` (made at window.origin) and the naive baseline on the window's minutes.

    `history` must cover the window and enough minutes before it for the baseline. Missing
    actual minutes are left out of both losses (never read as 0) and counted; when none is
    left, or the actual values sum to 0, the losses are undefined (LossResult.reason says why).
    """
    actual = history.window(window.start, window.end)
    notes: list[str] = []
    missing = [ts for ts, value in actual.points() if value is None]

    model = None
    if forecast is None:
        notes.append("no forecast for this window")
    else:
        model = wql_from_forecasts(actual.values, [truncate(forecast, len(actual))], quantiles)
        if not model.defined:
            notes.append(f"model loss undefined: {model.reason}")

    baseline = None
    before = history.window(history.start, window.origin)
    try:
        naive = naive_forecast(before, len(actual), quantiles)
    except ValueError as exc:
        notes.append(f"no baseline: {exc}")
    else:
        baseline = wql_from_forecasts(actual.values, [naive], quantiles)
        if not baseline.defined:
            notes.append(f"baseline loss undefined: {baseline.reason}")

    observed = actual.values[~np.isnan(actual.values)]
    return WindowScore(
        window=window,
        model=model,
        baseline=baseline,
        missing_minutes=len(missing),
        missing_at=tuple(missing[:MAX_LISTED_MISSING]),
        notes=tuple(notes),
        weight=float(np.abs(observed).sum()),
    )
