"""Smoke test of a freshly deployed endpoint (pure): the context to send and the answer's checks.

The answer must hold one forecast of prediction_length points with the mean and every requested
quantile, all finite, and quantiles that do not cross (lower <= median <= upper at every step).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from pydantic import BaseModel

from feecast.deepar import Forecast, FormatError, parse_endpoint_response, quantile_key
from feecast.series import MINUTE, MinuteSeries, floor_minute

# Crossing tolerance: sampled quantiles can differ by float noise.
_TOLERANCE = 1e-9
# A plausible average fee per transaction (satoshi), used when there is too little real data.
_SYNTHETIC_LEVEL = 2500.0


class SmokeTestFailed(RuntimeError):
    """The endpoint answered, but not with a usable forecast."""


@dataclass(frozen=True)
class SmokeReport:
    prediction_length: int
    quantiles: list[str]
    context_source: str  # "feature_store" or "synthetic"
    context_points: int
    mean_first: float
    mean_last: float
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return self.result().model_dump()

    def result(self) -> SmokeResult:
        """The step's result (the problems, if any, were raised as the step's error)."""
        return SmokeResult(
            prediction_length=self.prediction_length,
            quantiles=self.quantiles,
            context_source=self.context_source,
            context_points=self.context_points,
            mean_first=self.mean_first,
            mean_last=self.mean_last,
        )


class SmokeResult(BaseModel):
    prediction_length: int
    quantiles: list[str]
    context_source: str
    context_points: int
    mean_first: float
    mean_last: float


def synthetic_context(end: datetime, points: int, *, seed: int = 7) -> MinuteSeries:
    """A deterministic, positive, fee-like series of `points` minutes ending before `end`.

    Used when the feature store holds fewer observed minutes than the model's context: the
    smoke test checks the endpoint's wiring and answer shape, not its accuracy.
    """
    if points < 1:
        raise ValueError(f"points must be >= 1, got {points}")
    rng = np.random.default_rng(seed)
    t = np.arange(points)
    values = (
        _SYNTHETIC_LEVEL * (1 + 0.2 * np.sin(2 * np.pi * t / 60)) * rng.lognormal(0, 0.1, points)
    )
    return MinuteSeries(floor_minute(end) - points * MINUTE, values)


def check_forecast(
    body: bytes | str | dict[str, Any], *, prediction_length: int, quantiles: list[str]
) -> Forecast:
    """Parse and check an endpoint answer; SmokeTestFailed listing every problem found."""
    try:
        forecasts = parse_endpoint_response(body)
    except FormatError as exc:
        raise SmokeTestFailed(f"the endpoint's answer is not a DeepAR response: {exc}") from None
    if len(forecasts) != 1:
        raise SmokeTestFailed(f"expected 1 forecast for 1 series, got {len(forecasts)}")
    forecast = forecasts[0]
    problems: list[str] = []
    if len(forecast) != prediction_length:
        problems.append(f"mean has {len(forecast)} points, expected {prediction_length}")
    if not np.all(np.isfinite(forecast.mean)):
        problems.append("mean has non-finite values")
    keys = sorted((quantile_key(q) for q in quantiles), key=float)
    missing = [k for k in keys if k not in forecast.quantiles]
    if missing:
        problems.append(f"quantiles {missing} missing (got {list(forecast.quantiles)})")
    present = [k for k in keys if k in forecast.quantiles]
    for k in present:
        if not np.all(np.isfinite(forecast.quantiles[k])):
            problems.append(f"quantile {k} has non-finite values")
    for lower, upper in itertools.pairwise(present):
        crossed = np.flatnonzero(forecast.quantiles[lower] > forecast.quantiles[upper] + _TOLERANCE)
        if crossed.size:
            problems.append(
                f"quantile {lower} exceeds quantile {upper} at {crossed.size} steps "
                f"(first at step {int(crossed[0])})"
            )
    if problems:
        raise SmokeTestFailed("; ".join(problems))
    return forecast
