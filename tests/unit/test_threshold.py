"""The accuracy gate and the threshold update policy (feecast.threshold)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from feecast.metrics import LossResult, weighted_quantile_loss
from feecast.threshold import GateDecision, gate, updated_threshold
from hypothesis import given
from hypothesis import strategies as st


def loss_of(mean: float) -> LossResult:
    return LossResult(mean, {"0.5": mean}, True, None, 30, 0)


# -- gate: threshold only -------------------------------------------------------------------
def test_given_loss_below_threshold_then_passes_with_numbers_in_reason() -> None:
    decision = gate(0.21, 0.24)
    assert decision.passed is True
    assert decision.reason == "mean wQL 0.2100 <= threshold 0.2400"
    assert (decision.loss, decision.threshold, decision.required_loss) == (0.21, 0.24, 0.24)


def test_given_loss_above_threshold_then_fails_with_numbers_in_reason() -> None:
    decision = gate(loss_of(0.25), 0.24)
    assert decision.passed is False
    assert decision.reason == "mean wQL 0.2500 > threshold 0.2400"


def test_given_loss_equal_to_threshold_then_passes() -> None:
    assert gate(0.24, 0.24).passed is True


def test_given_an_undefined_loss_result_then_fails_and_says_why() -> None:
    undefined = weighted_quantile_loss([0.0, 0.0], {0.5: [1.0, 1.0]})
    decision = gate(undefined, 0.24)
    assert decision.passed is False
    assert decision.loss is None
    assert decision.reason.startswith("mean wQL is undefined (sum of |actual|")
    assert "cannot be judged" in decision.reason


@pytest.mark.parametrize(
    ("loss", "why"), [(None, "no loss was computed"), (math.nan, "nan"), (math.inf, "inf")]
)
def test_given_no_or_non_finite_loss_then_fails(loss: float | None, why: str) -> None:
    decision = gate(loss, 0.24)
    assert decision.passed is False
    assert why in decision.reason


@pytest.mark.parametrize(
    ("loss", "threshold", "expected"),
    [
        (-0.1, 0.24, "loss must be >= 0"),
        ("0.2", 0.24, "loss must be a LossResult, a number or None"),
        (True, 0.24, "loss must be"),
        (0.2, 0.0, "threshold must be a finite number > 0"),
        (0.2, -1.0, "threshold must be a finite number > 0"),
        (0.2, math.nan, "threshold must be a finite number > 0"),
        (0.2, None, "threshold must be a number"),
    ],
)
def test_given_invalid_gate_inputs_then_value_error(
    loss: Any, threshold: Any, expected: str
) -> None:
    with pytest.raises(ValueError, match=expected):
        gate(loss, threshold)


# -- gate: naive baseline -------------------------------------------------------------------
def test_given_margin_and_model_beats_baseline_then_passes_and_says_so() -> None:
    decision = gate(0.21, 0.24, baseline_loss=0.2225, baseline_margin=0.05)
    assert decision.passed is True
    assert decision.reason == (
        "mean wQL 0.2100 <= threshold 0.2400; 0.2100 <= 0.2114 required by the naive "
        "baseline 0.2225 x (1 - margin 0.05)"
    )
    assert decision.required_loss == pytest.approx(0.2225 * 0.95)


def test_given_margin_and_model_under_threshold_but_not_beating_baseline_then_fails() -> None:
    decision = gate(0.215, 0.24, baseline_loss=0.2225, baseline_margin=0.05)
    assert decision.passed is False
    assert "0.2150 > 0.2114 required by the naive baseline 0.2225" in decision.reason


def test_given_margin_and_model_above_threshold_but_beating_baseline_then_fails() -> None:
    decision = gate(0.30, 0.24, baseline_loss=0.50, baseline_margin=0.1)
    assert decision.passed is False
    assert decision.reason.startswith("mean wQL 0.3000 > threshold 0.2400")


def test_given_margin_zero_then_model_must_merely_match_baseline() -> None:
    assert gate(0.20, 0.24, baseline_loss=0.20, baseline_margin=0.0).passed is True
    assert gate(0.2001, 0.24, baseline_loss=0.20, baseline_margin=0.0).passed is False


@pytest.mark.parametrize("baseline", [None, math.nan])
def test_given_margin_but_no_baseline_loss_then_fails_closed(baseline: float | None) -> None:
    decision = gate(0.10, 0.24, baseline_loss=baseline, baseline_margin=0.05)
    assert decision.passed is False
    assert "no naive baseline loss is available" in decision.reason


def test_given_baseline_without_margin_then_reported_but_not_required() -> None:
    decision = gate(0.23, 0.24, baseline_loss=0.20)
    assert decision.passed is True
    assert (
        decision.reason
        == "mean wQL 0.2300 <= threshold 0.2400 (naive baseline 0.2000, not required)"
    )


@pytest.mark.parametrize("margin", [-0.1, 1.0, 2.0, True])
def test_given_margin_out_of_range_then_value_error(margin: Any) -> None:
    with pytest.raises(ValueError, match="baseline_margin must be in"):
        gate(0.2, 0.24, baseline_loss=0.2, baseline_margin=margin)


def test_given_a_decision_then_to_dict_is_json_ready() -> None:
    decision = gate(0.21, 0.24, baseline_loss=0.2225, baseline_margin=0.05)
    assert isinstance(decision, GateDecision)
    data = json.loads(json.dumps(decision.to_dict()))
    assert data["passed"] is True
    assert data["baseline_margin"] == 0.05
    assert set(data) == {
        "passed",
        "reason",
        "loss",
        "threshold",
        "baseline_loss",
        "baseline_margin",
        "required_loss",
    }


# -- updated_threshold ----------------------------------------------------------------------
def test_given_the_seed_example_then_threshold_moves_halfway_to_the_loss() -> None:
    # 0.20 + |0.20 - 0.24| * 0.5 = 0.22
    assert updated_threshold(0.20, 0.24, 0.5) == pytest.approx(0.22)


@pytest.mark.parametrize(("loss", "threshold"), [(0.24, 0.24), (0.30, 0.24)])
def test_given_loss_not_better_than_threshold_then_no_update(loss: float, threshold: float) -> None:
    assert updated_threshold(loss, threshold, 0.5) is None


def test_given_update_rate_zero_then_threshold_becomes_the_loss() -> None:
    assert updated_threshold(0.1, 0.24, 0.0) == 0.1


def test_given_update_rate_one_then_threshold_unchanged_so_none() -> None:
    assert updated_threshold(0.1, 0.24, 1.0) is None


def test_given_a_perfect_loss_then_update_still_works() -> None:
    assert updated_threshold(0.0, 0.2, 0.5) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("loss", "threshold", "rate", "expected"),
    [
        (0.1, 0.24, -0.1, "update_rate must be in"),
        (0.1, 0.24, 1.1, "update_rate must be in"),
        (0.1, 0.24, math.nan, "update_rate must be in"),
        (0.1, 0.24, "0.5", "update_rate must be in"),
        (math.nan, 0.24, 0.5, "loss must be a finite number"),
        (math.inf, 0.24, 0.5, "loss must be a finite number"),
        (-0.1, 0.24, 0.5, "loss must be >= 0"),
        (0.1, 0.0, 0.5, "threshold must be a finite number > 0"),
        (0.1, math.inf, 0.5, "threshold must be a finite number > 0"),
    ],
)
def test_given_invalid_update_inputs_then_value_error(
    loss: Any, threshold: Any, rate: Any, expected: str
) -> None:
    with pytest.raises(ValueError, match=expected):
        updated_threshold(loss, threshold, rate)


@given(
    loss=st.floats(0.0, 10.0),
    threshold=st.floats(1e-6, 10.0),
    rate=st.floats(0.0, 1.0),
)
def test_given_any_valid_inputs_then_update_stays_in_loss_to_threshold(
    loss: float, threshold: float, rate: float
) -> None:
    new = updated_threshold(loss, threshold, rate)
    if loss >= threshold:
        assert new is None
    elif new is not None:
        assert loss <= new < threshold
        assert new == pytest.approx(loss + (threshold - loss) * rate)
    else:
        # Only when the formula gives back the old threshold (rate 1, or rounding).
        assert loss + abs(loss - threshold) * rate >= threshold


@given(loss=st.floats(0.0, 0.5), gap=st.floats(0.01, 0.5), rate=st.floats(0.0, 0.99))
def test_given_a_lowered_threshold_then_the_same_model_still_passes_the_gate(
    loss: float, gap: float, rate: float
) -> None:
    """The model that lowered the threshold must not fail its own new threshold."""
    new = updated_threshold(loss, loss + gap, rate)
    assert new is not None
    assert gate(loss, new).passed if new > 0 else loss == 0.0
