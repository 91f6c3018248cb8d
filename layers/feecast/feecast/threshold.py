"""The accuracy gate and the threshold update policy.

A model passes when its mean weighted quantile loss is at or below the threshold (and, when a
baseline margin is configured, beats the naive baseline by that margin). When an approved
model is better than the threshold, the threshold moves towards its loss:

    new = loss + |loss - threshold| * update_rate        (seed system's rule)

update_rate 0 sets the threshold to the new loss; 1 leaves it unchanged. Keeping some slack
(rate > 0) matters: the seed system's retrained models breached their own new threshold at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # feecast.metrics imports numpy; the deploy functions gate plain numbers
    from feecast.metrics import LossResult

__all__ = ["GateDecision", "gate", "updated_threshold"]


@dataclass(frozen=True)
class GateDecision:
    """Whether the model may be registered for approval, and why, with the numbers used."""

    passed: bool
    reason: str
    loss: float | None
    threshold: float
    baseline_loss: float | None = None
    baseline_margin: float | None = None
    required_loss: float | None = None  # the bound the loss had to meet (min of both rules)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reason": self.reason,
            "loss": self.loss,
            "threshold": self.threshold,
            "baseline_loss": self.baseline_loss,
            "baseline_margin": self.baseline_margin,
            "required_loss": self.required_loss,
        }


def _positive_finite(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _loss_value(loss: LossResult | float | None) -> tuple[float | None, str | None]:
    """(value, why-undefined)."""
    if loss is None:
        return None, "no loss was computed"
    if isinstance(loss, bool) or not isinstance(loss, int | float):
        from feecast.metrics import LossResult

        if not isinstance(loss, LossResult):
            raise ValueError(f"loss must be a LossResult, a number or None, got {loss!r}")
        if not loss.defined or loss.mean is None:
            return None, loss.reason or "the loss is undefined"
        return loss.mean, None
    if not math.isfinite(loss):
        return None, f"the loss is {loss}"
    if loss < 0:
        raise ValueError(f"loss must be >= 0 (a weighted quantile loss), got {loss}")
    return float(loss), None


def gate(
    loss: LossResult | float | None,
    threshold: float,
    *,
    baseline_loss: float | None = None,
    baseline_margin: float | None = None,
) -> GateDecision:
    """Decide whether a model is good enough; `reason` is a sentence with the numbers.

    Fails (never raises) when the loss is undefined, and when baseline_margin is set but there
    is no usable baseline loss to compare with: a rule that cannot be checked is not met.
    """
    threshold = _positive_finite(threshold, "threshold")
    if baseline_margin is not None and (
        isinstance(baseline_margin, bool)
        or not isinstance(baseline_margin, int | float)
        or not 0 <= baseline_margin < 1
    ):
        raise ValueError(f"baseline_margin must be in [0, 1), got {baseline_margin!r}")
    baseline: float | None = None
    if baseline_loss is not None:
        baseline, _ = _loss_value(baseline_loss)

    value, undefined = _loss_value(loss)

    def decision(passed: bool, reason: str, required: float | None) -> GateDecision:
        return GateDecision(passed, reason, value, threshold, baseline, baseline_margin, required)

    if value is None:
        return decision(
            False, f"mean wQL is undefined ({undefined}): the model cannot be judged", None
        )

    passed = value <= threshold
    reason = f"mean wQL {value:.4f} {'<=' if passed else '>'} threshold {threshold:.4f}"
    if baseline_margin is None:
        if baseline is not None:
            reason += f" (naive baseline {baseline:.4f}, not required)"
        return decision(passed, reason, threshold)
    if baseline is None:
        return decision(
            False,
            f"{reason}; baseline_margin {baseline_margin:g} is set but no naive baseline "
            "loss is available to compare with",
            None,
        )
    bound = baseline * (1 - baseline_margin)
    beats = value <= bound
    reason += (
        f"; {value:.4f} {'<=' if beats else '>'} {bound:.4f} required by the naive baseline "
        f"{baseline:.4f} x (1 - margin {baseline_margin:g})"
    )
    return decision(passed and beats, reason, min(threshold, bound))


def updated_threshold(loss: float, threshold: float, update_rate: float) -> float | None:
    """The lowered threshold after a better model is approved, or None if it does not change.

    Only when loss < threshold; the result is always in [loss, threshold). update_rate 1 (or a
    loss so close that rounding leaves the threshold as is) gives None: nothing to update.
    """
    if isinstance(loss, bool) or not isinstance(loss, int | float) or not math.isfinite(loss):
        raise ValueError(f"loss must be a finite number, got {loss!r}")
    if loss < 0:
        raise ValueError(f"loss must be >= 0, got {loss}")
    threshold = _positive_finite(threshold, "threshold")
    if (
        isinstance(update_rate, bool)
        or not isinstance(update_rate, int | float)
        or not 0 <= update_rate <= 1
    ):
        raise ValueError(f"update_rate must be in [0, 1], got {update_rate!r}")
    if loss >= threshold:
        return None
    new = loss + abs(loss - threshold) * update_rate
    # Rounding can land on (or a hair past) the old threshold: that is not a lower threshold.
    return new if new < threshold else None
