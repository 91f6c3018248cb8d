"""Threshold policy on approval (pure): the approved model brings its own alarm threshold.

The build computed it from the model's backtest (feecast.backtest.alarm_calibration: a high
quantile of its rolling pooled loss, never below the median) and wrote it into the package's
CustomerMetadataProperties["alarm_threshold"]. Approving the model sets the SSM threshold to
that value, up or down: a threshold belongs to the model it was measured on, so it no longer
ratchets down from one model to the next. The decision records old and new so the change can
be explained and undone (the SSM parameter's history keeps every value too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ThresholdDecision:
    old: float
    new: float

    @property
    def changed(self) -> bool:
        return self.new != self.old

    @property
    def lowered(self) -> bool:
        return self.new < self.old

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old,
            "new": self.new,
            "changed": self.changed,
            "lowered": self.lowered,
        }


def decide(model_threshold: float, current: float) -> ThresholdDecision:
    """The threshold after approving a model whose backtest gave `model_threshold`."""
    for name, value in (("model threshold", model_threshold), ("current threshold", current)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"the {name} must be a number, got {value!r}")
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"the {name} {value!r} must be a finite number > 0")
    return ThresholdDecision(float(current), float(model_threshold))
