"""The accuracy gate: the rules a candidate's backtest must meet to be registered for approval.

Each rule reads a 95% interval, never a single number (feecast.stats, feecast.backtest):
- naive: the upper bound of candidate/naive is below 1 - naive_margin (the candidate beats the
  naive forecast, and not by luck);
- production: when a model is in production, the upper bound of candidate/production is below
  1 + production_tolerance (the candidate is not worse than what it would replace; the
  tolerance lets an equally good model through, which the interval of a tie always straddles);
- robust: reported; with robust_tolerance set, the upper bound of candidate/robust is below
  1 + robust_tolerance;
- sanity cap: the pooled backtest loss is at most max_loss (same quantiles as everything else).

Every rule gives a sentence with its numbers; a rejection lists the rules that failed. Plain
Python: the deploy functions import this package without numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from feecast.stats import Comparison

__all__ = ["GateDecision", "RuleCheck", "gate"]


@dataclass(frozen=True)
class RuleCheck:
    rule: str  # "naive" | "production" | "robust" | "max_loss"
    passed: bool
    gating: bool  # False: reported, does not decide
    text: str
    ratio: float | None = None
    upper: float | None = None
    limit: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "passed": self.passed,
            "gating": self.gating,
            "text": self.text,
            "ratio": self.ratio,
            "upper": self.upper,
            "limit": self.limit,
        }


@dataclass(frozen=True)
class GateDecision:
    """Whether the candidate may be registered, and every rule's verdict with its numbers."""

    passed: bool
    checks: tuple[RuleCheck, ...]
    loss: float | None

    @property
    def failed(self) -> list[RuleCheck]:
        return [c for c in self.checks if c.gating and not c.passed]

    @property
    def reasons(self) -> list[str]:
        """The failed rules when rejected; every rule's sentence when passed."""
        failed = self.failed
        return [c.text for c in (failed or self.checks)]

    @property
    def reason(self) -> str:
        prefix = "passed: " if self.passed else "rejected: "
        return prefix + "; ".join(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reason": self.reason,
            "reasons": self.reasons,
            "loss": self.loss,
            "checks": [c.to_dict() for c in self.checks],
        }


def _ci(comparison: Comparison | None) -> tuple[float, float, float, int] | None:
    if comparison is None or comparison.ratio is None or comparison.ci95 is None:
        return None
    low, high = comparison.ci95
    if not (math.isfinite(comparison.ratio) and math.isfinite(high)):
        return None
    return comparison.ratio, low, high, comparison.windows


def _interval_rule(
    rule: str,
    label: str,
    comparison: Comparison | None,
    limit: float,
    how: str,
    *,
    gating: bool = True,
    missing: str,
) -> RuleCheck:
    values = _ci(comparison)
    if values is None:
        return RuleCheck(rule, False, gating, f"{label}: {missing}", limit=limit)
    ratio, low, high, windows = values
    passed = high < limit
    verdict = "<" if passed else ">="
    text = (
        f"{label}: upper 95% bound {high:.3f} {verdict} {limit:.3f} {how} (ratio {ratio:.3f}, "
        f"95% CI {low:.3f}-{high:.3f}, {windows} windows)"
    )
    if not gating:
        text += "; reported, not required"
    return RuleCheck(rule, passed, gating, text, ratio, high, limit)


def _number(value: float, name: str, *, low: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if low is not None and value <= low:
        raise ValueError(f"{name} must be > {low}, got {value!r}")
    return float(value)


def gate(
    *,
    loss: float | None,
    vs_naive: Comparison | None,
    vs_production: Comparison | None = None,
    vs_robust: Comparison | None = None,
    naive_margin: float = 0.0,
    production_tolerance: float = 0.1,
    robust_tolerance: float | None = None,
    max_loss: float = 0.5,
    production_note: str | None = None,
) -> GateDecision:
    """Apply the rules (module doc) to a candidate's backtest comparisons.

    `vs_production` None means there is no model in production (production_note may say why
    it was not compared); the rule is then reported as not applicable. A gating rule that
    cannot be checked (no interval) fails: a rule that cannot be checked is not met.
    """
    _number(naive_margin, "naive_margin", low=-10.0)
    _number(production_tolerance, "production_tolerance", low=-1.0)
    _number(max_loss, "max_loss", low=0.0)
    checks: list[RuleCheck] = []

    if loss is None or not math.isfinite(loss):
        checks.append(
            RuleCheck("max_loss", False, True, "backtest loss undefined: nothing to judge")
        )
    else:
        ok = loss <= max_loss
        checks.append(
            RuleCheck(
                "max_loss",
                ok,
                True,
                f"sanity cap: backtest mean wQL {loss:.4f} {'<=' if ok else '>'} max_loss "
                f"{max_loss:g}",
                upper=loss,
                limit=max_loss,
            )
        )

    checks.append(
        _interval_rule(
            "naive",
            "naive",
            vs_naive,
            1 - naive_margin,
            f"(1 - naive_margin {naive_margin:g})",
            missing="no interval against the naive forecast: the candidate cannot be judged",
        )
    )

    if vs_production is None:
        note = production_note or "no model in production"
        checks.append(RuleCheck("production", True, False, f"production: {note}, not compared"))
    else:
        checks.append(
            _interval_rule(
                "production",
                "production",
                vs_production,
                1 + production_tolerance,
                f"(1 + production_tolerance {production_tolerance:g})",
                missing="no interval against the production model on the same windows",
            )
        )

    if robust_tolerance is None:
        checks.append(
            _interval_rule(
                "robust",
                "robust",
                vs_robust,
                1.0,
                "(1: as good as the robust baseline)",
                gating=False,
                missing="no interval against the robust baseline",
            )
        )
    else:
        _number(robust_tolerance, "robust_tolerance", low=-1.0)
        checks.append(
            _interval_rule(
                "robust",
                "robust",
                vs_robust,
                1 + robust_tolerance,
                f"(1 + robust_tolerance {robust_tolerance:g})",
                missing="no interval against the robust baseline",
            )
        )

    passed = all(c.passed for c in checks if c.gating)
    return GateDecision(passed, tuple(checks), None if loss is None else float(loss))
