"""The loss over the last few hours, and what it says about the model (pure: no AWS calls).

One hourly window is noise (a burst minute or two decides it), so the alarm watches the loss
pooled over the last `alarm_window_hours` scored windows: sum of the windows' quantile losses
over sum of their |actual| values, exactly the pooled mean wQL the build's backtest computed
for the same number of hourly windows (feecast.backtest.alarm_calibration), so the threshold
and the metric are on one scale. Only windows forecast by the endpoint's current model count,
and the pool is `complete` only when every hour of it was scored for that model: right after a
deployment the new model is judged on a full pool of its own windows, never on a noisier
partial one, nor on its predecessor's (so the alarm cannot fire in its first hours).

The same pool gives model/naive: the model's pooled loss over the naive forecast's on the same
windows. When both are high, fees became unpredictable (the naive forecast, which just follows
the last minute, suffers as much); when the ratio rises above `degraded_ratio`, the model lost
its edge over naive: the model degraded (docs/monitoring.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

__all__ = ["RollingScore", "Verdict", "WindowRecord", "classify", "rolling_score"]

HOUR = timedelta(hours=1)
Verdict = Literal["model_degraded", "fees_unpredictable", "unknown"]


@dataclass(frozen=True)
class WindowRecord:
    """One scored hourly window, as the StateTable keeps it (SCORE#<endpoint>/WINDOW#<origin>)."""

    origin: datetime
    loss: float | None  # the model's mean wQL on the window
    baseline_loss: float | None  # the naive forecast's
    weight: float  # sum of |actual| over the observed minutes
    config: str | None  # the endpoint config whose model made the forecast

    @property
    def model_sum(self) -> float | None:
        return None if self.loss is None else self.loss * self.weight

    @property
    def baseline_sum(self) -> float | None:
        return None if self.baseline_loss is None else self.baseline_loss * self.weight


@dataclass(frozen=True)
class RollingScore:
    hours: int
    windows: int  # windows pooled into `loss`
    loss: float | None
    baseline_loss: float | None  # the naive forecast's, pooled over the windows both scored
    ratio: float | None  # model / naive over those windows
    complete: bool = True  # every hour of the pool was scored for the current model

    def to_dict(self) -> dict[str, Any]:
        return {
            "hours": self.hours,
            "windows": self.windows,
            "loss": self.loss,
            "baseline_loss": self.baseline_loss,
            "ratio": self.ratio,
            "complete": self.complete,
        }


def rolling_score(
    records: Sequence[WindowRecord], *, until: datetime, hours: int, config: str | None
) -> RollingScore:
    """Pool the windows whose origin is in (until - hours, until] and whose forecast came from
    `config` (the endpoint's current model; None accepts any)."""
    if hours < 1:
        raise ValueError(f"hours must be >= 1, got {hours}")
    since = until - hours * HOUR
    chosen = [
        r
        for r in records
        if since < r.origin <= until
        and r.weight > 0
        and (config is None or r.config is None or r.config == config)
    ]
    model = [r for r in chosen if r.model_sum is not None]
    both = [r for r in model if r.baseline_sum is not None]
    weight = sum(r.weight for r in model)
    loss = sum(r.model_sum or 0.0 for r in model) / weight if model else None
    base_weight = sum(r.weight for r in both)
    baseline = sum(r.baseline_sum or 0.0 for r in both) / base_weight if both else None
    naive_total = sum(r.baseline_sum or 0.0 for r in both)
    ratio = (
        sum(r.model_sum or 0.0 for r in both) / naive_total if both and naive_total > 0 else None
    )
    # Complete: a record (scored or not) for each of the hours, every one from this model.
    in_span = [r for r in records if since < r.origin <= until]
    complete = len({r.origin for r in in_span}) >= hours and all(
        config is None or r.config is None or r.config == config for r in in_span
    )
    return RollingScore(hours, len(model), loss, baseline, ratio, complete)


def classify(ratio: float | None, degraded_ratio: float) -> Verdict:
    """ "model_degraded" when the model's loss over the alarm window is above degraded_ratio
    times naive's; "fees_unpredictable" when it is not (the naive forecast suffered as much);
    "unknown" without a ratio (no naive loss to compare with)."""
    if ratio is None:
        return "unknown"
    return "model_degraded" if ratio > degraded_ratio else "fees_unpredictable"
