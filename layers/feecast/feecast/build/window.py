"""The data a model was trained and evaluated on: lineage kept in the model package metadata.

Its own module (pydantic only): RegisterModel needs the shape but not the data preparation
in feecast.build.prepare_data, which imports numpy.
"""

from __future__ import annotations

from pydantic import BaseModel


class DataWindow(BaseModel):
    """The data the model was trained and evaluated on (lineage in the package metadata)."""

    requested_start: str
    requested_end: str
    first_minute: str  # first minute of the series (train starts here)
    last_minute: str  # last minute of the series (end of the backtest)
    holdout_start: str  # first minute of the backtest (the training data ends before it)
    points: int  # minutes in the series
    observed: int
    missing: int
    gap_count: int
    longest_gap_minutes: int
    offline_points: int
    online_points: int
    offline_last_minute: str | None
