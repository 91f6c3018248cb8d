"""Threshold policy on approval (pure): lower the SSM threshold when the approved model is better.

new = feecast.threshold.updated_threshold(loss, threshold, update_rate), applied only when the
model's loss beats the current threshold. The decision records old and new so the change can be
explained and undone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from feecast.threshold import updated_threshold


@dataclass(frozen=True)
class ThresholdDecision:
    loss: float
    old: float
    new: float
    update_rate: float

    @property
    def lowered(self) -> bool:
        return self.new < self.old

    def to_dict(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "old": self.old,
            "new": self.new,
            "update_rate": self.update_rate,
            "lowered": self.lowered,
        }


def decide(loss: float, threshold: float, update_rate: float) -> ThresholdDecision:
    if not math.isfinite(loss) or loss < 0:
        raise ValueError(f"the model's loss {loss!r} must be a finite number >= 0")
    # None: the model is not better (or the change rounds away): the threshold stays.
    new = updated_threshold(loss, threshold, update_rate)
    return ThresholdDecision(loss, threshold, threshold if new is None else float(new), update_rate)
