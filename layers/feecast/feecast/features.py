"""Known-in-advance DeepAR features (`dynamic_feat`): the hour of the day and the day of the week.

DeepAR only takes feature series that are known for the forecast horizon too: for training, each
feature has as many values as the target; for inference (endpoint and batch transform) it has
len(target) + prediction_length values, the last ones covering the minutes to forecast
(deepar-in-formats.html). Values are scaled to [-0.5, 0.5] as GluonTS scales its own time
features. `/target` `dynamic_features` chooses them (none by default: DeepAR already derives
hour-of-day and day-of-week from `time_freq`, and the backtest showed no gain; docs/build.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

__all__ = ["DYNAMIC_FEATURES", "DynamicFeature", "dynamic_features"]

DynamicFeature = Literal["hour_of_day", "day_of_week"]
DYNAMIC_FEATURES: tuple[DynamicFeature, ...] = ("hour_of_day", "day_of_week")


def dynamic_features(
    start: datetime, length: int, names: Sequence[str], *, step_minutes: int = 1
) -> list[list[float]]:
    """One list of `length` values per feature name, for the steps start, start + step, ..."""
    if length < 0 or step_minutes < 1:
        raise ValueError(f"length must be >= 0 and step_minutes >= 1, got {length}, {step_minutes}")
    unknown = [n for n in names if n not in DYNAMIC_FEATURES]
    if unknown:
        raise ValueError(f"unknown dynamic features {unknown}; known: {list(DYNAMIC_FEATURES)}")
    if start.tzinfo is not None:
        start = start.astimezone(UTC)
    first = (start.weekday() * 1440) + start.hour * 60 + start.minute
    # Plain Python: feecast.config imports this module, and must not import numpy.
    week = [(first + step_minutes * i) % (7 * 1440) for i in range(length)]
    out: list[list[float]] = []
    for name in names:
        if name == "hour_of_day":
            out.append([round((m // 60 % 24) / 23.0 - 0.5, 6) for m in week])
        else:
            out.append([round((m // 1440) / 6.0 - 0.5, 6) for m in week])
    return out
