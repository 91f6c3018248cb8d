"""How the candidate compares with another model on the backtest's windows, as the registry keeps it.

Its own module (pydantic only): RegisterModel reads the shape Evaluate writes without importing
the evaluation (numpy, the baselines).
"""

from __future__ import annotations

from pydantic import BaseModel


class RatioSummary(BaseModel):
    """One comparison of the candidate with another model, as the registry keeps it."""

    ratio: float
    ci_low: float
    ci_high: float
    std: float | None = None
    median_window_ratio: float | None = None
    windows_won: float | None = None
    ratio_without_worst: float | None = None
    windows: int
