"""The accuracy gate (feecast.threshold) and the threshold policy on approval
(feecast.deploy.thresholds): fixed comparisons with known answers."""

from __future__ import annotations

import pytest
from feecast.deploy.thresholds import decide
from feecast.stats import Comparison
from feecast.threshold import gate


def ratio(value: float, low: float, high: float, windows: int = 144) -> Comparison:
    return Comparison(windows, value, (low, high), 0.02, value, 0.6, value, 2)


GOOD_NAIVE = ratio(0.86, 0.80, 0.93)


def test_given_a_candidate_clearly_better_than_naive_then_it_passes_with_every_rule_stated() -> (
    None
):
    decision = gate(loss=0.08, vs_naive=GOOD_NAIVE, vs_robust=ratio(1.05, 0.98, 1.12))
    assert decision.passed is True
    assert decision.reason.startswith("passed: ")
    rules = {c.rule: c for c in decision.checks}
    assert set(rules) == {"max_loss", "naive", "production", "robust"}
    assert rules["naive"].text == (
        "naive: upper 95% bound 0.930 < 1.000 (1 - naive_margin 0) (ratio 0.860, 95% CI "
        "0.800-0.930, 144 windows)"
    )
    assert (
        rules["production"].gating is False and "no model in production" in rules["production"].text
    )
    assert rules["robust"].gating is False and "reported, not required" in rules["robust"].text


def test_given_an_interval_that_reaches_1_then_the_naive_rule_rejects_with_numbers() -> None:
    decision = gate(loss=0.08, vs_naive=ratio(0.95, 0.88, 1.02))
    assert decision.passed is False
    assert decision.reasons == [
        "naive: upper 95% bound 1.020 >= 1.000 (1 - naive_margin 0) (ratio 0.950, 95% CI "
        "0.880-1.020, 144 windows)"
    ]
    assert decision.reason.startswith("rejected: naive: ")


def test_the_naive_margin_moves_the_limit() -> None:
    assert gate(loss=0.08, vs_naive=ratio(0.9, 0.85, 0.96), naive_margin=0.05).passed is False
    assert gate(loss=0.08, vs_naive=ratio(0.9, 0.85, 0.94), naive_margin=0.05).passed is True
    # A negative margin lets a model within 5% of naive through.
    assert gate(loss=0.08, vs_naive=ratio(1.0, 0.96, 1.04), naive_margin=-0.05).passed is True


def test_the_production_rule_tolerates_an_equally_good_model_but_not_a_worse_one() -> None:
    tie = gate(loss=0.08, vs_naive=GOOD_NAIVE, vs_production=ratio(1.01, 0.97, 1.06))
    assert tie.passed is True
    worse = gate(loss=0.08, vs_naive=GOOD_NAIVE, vs_production=ratio(1.08, 1.02, 1.14))
    assert worse.passed is False
    assert worse.reasons == [
        "production: upper 95% bound 1.140 >= 1.100 (1 + production_tolerance 0.1) (ratio "
        "1.080, 95% CI 1.020-1.140, 144 windows)"
    ]


def test_a_production_model_that_was_not_compared_is_reported_with_the_reason() -> None:
    decision = gate(
        loss=0.08, vs_naive=GOOD_NAIVE, production_note="the production model forecasts x"
    )
    check = next(c for c in decision.checks if c.rule == "production")
    assert check.passed and not check.gating
    assert check.text == "production: the production model forecasts x, not compared"


def test_the_robust_rule_gates_only_when_configured() -> None:
    worse = ratio(1.10, 1.03, 1.18)
    assert gate(loss=0.08, vs_naive=GOOD_NAIVE, vs_robust=worse).passed is True
    decision = gate(loss=0.08, vs_naive=GOOD_NAIVE, vs_robust=worse, robust_tolerance=0.05)
    assert decision.passed is False
    assert decision.reasons[0].startswith("robust: upper 95% bound 1.180 >= 1.050")


def test_the_sanity_cap_and_an_undefined_loss_reject() -> None:
    capped = gate(loss=0.6, vs_naive=GOOD_NAIVE, max_loss=0.5)
    assert capped.reasons == ["sanity cap: backtest mean wQL 0.6000 > max_loss 0.5"]
    assert gate(loss=None, vs_naive=GOOD_NAIVE).passed is False


def test_a_rule_without_an_interval_is_not_met() -> None:
    decision = gate(loss=0.08, vs_naive=None)
    assert decision.passed is False
    assert "cannot be judged" in decision.reasons[0]


def test_every_failed_rule_is_listed() -> None:
    decision = gate(
        loss=0.9,
        vs_naive=ratio(1.1, 1.0, 1.2),
        vs_production=ratio(1.3, 1.2, 1.4),
        max_loss=0.5,
    )
    assert [c.rule for c in decision.failed] == ["max_loss", "naive", "production"]
    assert len(decision.reasons) == 3
    assert decision.to_dict()["passed"] is False


def test_invalid_rule_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_loss"):
        gate(loss=0.1, vs_naive=GOOD_NAIVE, max_loss=0)
    with pytest.raises(ValueError, match="naive_margin"):
        gate(loss=0.1, vs_naive=GOOD_NAIVE, naive_margin=float("nan"))


# -- the threshold on approval ----------------------------------------------------------------
def test_an_approved_model_sets_its_own_threshold_up_or_down() -> None:
    lower = decide(0.18, 0.24)
    assert (lower.old, lower.new, lower.changed, lower.lowered) == (0.24, 0.18, True, True)
    higher = decide(0.30, 0.24)
    assert (higher.new, higher.changed, higher.lowered) == (0.30, True, False)
    same = decide(0.24, 0.24)
    assert same.changed is False


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), True])
def test_an_invalid_model_threshold_is_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        decide(bad, 0.24)
