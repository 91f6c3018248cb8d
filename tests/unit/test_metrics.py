"""Weighted quantile loss as DeepAR defines it (feecast.metrics)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from feecast.deepar import Forecast
from feecast.metrics import LossResult, weighted_quantile_loss, wql_from_forecasts
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

QUANTILE_LEVELS = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95]


def reference_wql(actual: list[float], forecast: list[float], tau: float) -> float:
    """The definition written point by point, independent of the vectorised code."""
    num = den = 0.0
    for y, q in zip(actual, forecast, strict=True):
        if math.isnan(y):
            continue
        num += (1 - tau) * (q - y) if q > y else tau * (y - q)
        den += abs(y)
    return 2 * num / den


# -- hand-computed examples -----------------------------------------------------------------
def test_given_a_small_example_then_wql_matches_hand_computation() -> None:
    """y = [10, 20, 30]; q0.1 = [8, 22, 25]; q0.5 = [10, 18, 33]; q0.9 = [12, 25, 31].

    q0.1: y=10 q=8  under -> 0.1*2 = 0.2; y=20 q=22 over -> 0.9*2 = 1.8; y=30 q=25 under -> 0.5
          sum 2.5 -> wQL = 2*2.5/60 = 0.083333...
    q0.5: 0; under 0.5*2 = 1.0; over 0.5*3 = 1.5 -> sum 2.5 -> 0.083333...
    q0.9: over 0.1*2 = 0.2; over 0.1*5 = 0.5; over 0.1*1 = 0.1 -> sum 0.8 -> 2*0.8/60 = 0.026666...
    mean = (5/60 + 5/60 + 1.6/60) / 3 = 11.6/180 = 0.064444...
    """
    result = weighted_quantile_loss(
        [10.0, 20.0, 30.0],
        {"0.1": [8.0, 22.0, 25.0], "0.5": [10.0, 18.0, 33.0], "0.9": [12.0, 25.0, 31.0]},
    )
    assert result.defined
    assert result.per_quantile == pytest.approx({"0.1": 5 / 60, "0.5": 5 / 60, "0.9": 1.6 / 60})
    assert result.mean == pytest.approx(11.6 / 180)
    assert (result.evaluated, result.missing, result.reason) == (3, 0, None)


def test_given_two_series_as_rows_then_sums_run_over_all_points() -> None:
    """Series sums are pooled (not averaged per series): 2 * (0.5*4 + 0.5*1) / (2 + 8) = 0.5."""
    result = weighted_quantile_loss([[1.0, 1.0], [4.0, 4.0]], {0.5: [[1.0, 5.0], [4.0, 3.0]]})
    assert result.per_quantile == {"0.5": pytest.approx(0.5)}
    assert result.evaluated == 4


def test_given_missing_actuals_then_they_are_excluded_and_counted() -> None:
    """Only y=10 (q=12, over by 2) is scored: 2 * 0.5*2 / 10 = 0.2; zeros would give 2*(..)/10+."""
    result = weighted_quantile_loss([10.0, math.nan, math.nan], {0.5: [12.0, 100.0, 0.0]})
    assert result.per_quantile["0.5"] == pytest.approx(0.2)
    assert (result.evaluated, result.missing) == (1, 2)


def test_given_nan_forecast_only_where_actual_is_missing_then_fine() -> None:
    result = weighted_quantile_loss([10.0, math.nan], {0.5: [10.0, math.nan]})
    assert result.mean == 0.0


@pytest.mark.parametrize(
    ("actual", "reason"),
    [
        ([0.0, 0.0, math.nan], "sum of |actual| over 2 observed points is 0"),
        ([math.nan, math.nan], "every actual point is missing (2 points)"),
    ],
)
def test_given_zero_or_missing_actuals_then_loss_is_undefined_not_an_error(
    actual: list[float], reason: str
) -> None:
    result = weighted_quantile_loss(actual, {0.1: [1.0] * len(actual), 0.9: [2.0] * len(actual)})
    assert result.defined is False
    assert result.mean is None
    assert result.per_quantile == {"0.1": None, "0.9": None}
    assert result.reason is not None and reason in result.reason
    assert json.loads(json.dumps(result.to_dict()))["mean"] is None


def test_given_result_then_to_dict_is_json_ready_and_keys_canonical_sorted() -> None:
    result = weighted_quantile_loss([1.0, 2.0], {"0.90": [1.0, 2.0], 0.1: [1.0, 2.0]})
    assert list(result.per_quantile) == ["0.1", "0.9"]
    assert result.quantiles == ("0.1", "0.9")
    assert json.loads(json.dumps(result.to_dict())) == {
        "mean": 0.0,
        "per_quantile": {"0.1": 0.0, "0.9": 0.0},
        "defined": True,
        "reason": None,
        "evaluated": 2,
        "missing": 0,
    }


# -- bad inputs -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("actual", "forecasts", "expected"),
    [
        ([1.0, 2.0], {0.5: [1.0]}, r"quantile 0.5 has shape \(1, 1\), actual has shape \(1, 2\)"),
        ([[1.0, 2.0]], {0.5: [[1.0], [2.0]]}, "has shape"),
        ([[[1.0]]], {0.5: [[[1.0]]]}, "must be 1-D"),
        ([1.0], {}, "no quantile forecasts"),
        ([1.0], {0.5: [1.0], "0.50": [1.0]}, "given twice"),
        ([1.0], {1.5: [1.0]}, "between 0 and 1"),
        ([1.0, 2.0], {0.5: [1.0, math.nan]}, "not finite at an observed point"),
        ([1.0, math.inf], {0.5: [1.0, 1.0]}, "infinite"),
        (["a"], {0.5: [1.0]}, "actual must be numeric"),
    ],
)
def test_given_bad_inputs_then_value_error(
    actual: Any, forecasts: dict[Any, Any], expected: str
) -> None:
    with pytest.raises(ValueError, match=expected):
        weighted_quantile_loss(actual, forecasts)


# -- properties -----------------------------------------------------------------------------
finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
positive = st.floats(0.01, 1e4, allow_nan=False, allow_infinity=False)


@st.composite
def scored(draw: st.DrawFn, elements: st.SearchStrategy[float] = finite) -> tuple[Any, Any]:
    shape = draw(st.sampled_from([(7,), (1, 5), (3, 4)]))
    y = draw(hnp.arrays(np.float64, shape, elements=elements))
    taus = draw(st.lists(st.sampled_from(QUANTILE_LEVELS), min_size=1, max_size=4, unique=True))
    forecasts = {t: draw(hnp.arrays(np.float64, shape, elements=finite)) for t in taus}
    return y, forecasts


@given(case=scored())
def test_given_any_forecast_then_wql_is_non_negative_and_mean_is_the_average(
    case: tuple[Any, Any],
) -> None:
    y, forecasts = case
    assume(np.abs(y).sum() > 1e-6)
    result = weighted_quantile_loss(y, forecasts)
    values = [v for v in result.per_quantile.values() if v is not None]
    assert len(values) == len(forecasts)
    assert all(v >= 0 for v in values)
    assert result.mean == pytest.approx(sum(values) / len(values))


@given(case=scored())
def test_given_any_forecast_then_vectorised_wql_equals_the_pointwise_definition(
    case: tuple[Any, Any],
) -> None:
    y, forecasts = case
    assume(np.abs(y).sum() > 1e-6)
    result = weighted_quantile_loss(y, forecasts)
    for tau, q in forecasts.items():
        expected = reference_wql(list(y.ravel()), list(q.ravel()), tau)
        assert result.per_quantile[str(tau)] == pytest.approx(expected, rel=1e-9, abs=1e-12)


@given(case=scored(), data=st.data())
def test_given_some_missing_actuals_then_same_as_dropping_those_points(
    case: tuple[Any, Any], data: st.DataObject
) -> None:
    y, forecasts = case
    mask = data.draw(hnp.arrays(np.bool_, y.shape))
    assume(np.abs(y[~mask]).sum() > 1e-6)
    with_nan = np.where(mask, np.nan, y)
    result = weighted_quantile_loss(with_nan, forecasts)
    dropped = weighted_quantile_loss(y[~mask], {t: q[~mask] for t, q in forecasts.items()})
    assert result.per_quantile == pytest.approx(dropped.per_quantile)
    assert result.missing == int(mask.sum())


@given(
    y=hnp.arrays(np.float64, (3, 4), elements=positive),
    taus=st.sets(st.sampled_from(QUANTILE_LEVELS), min_size=1),
)
def test_given_a_perfect_forecast_then_wql_is_zero(y: Any, taus: set[float]) -> None:
    result = weighted_quantile_loss(y, dict.fromkeys(taus, y))
    assert result.mean == 0.0
    assert set(result.per_quantile.values()) == {0.0}


@given(case=scored())
def test_given_median_forecast_then_wql_half_equals_wape(case: tuple[Any, Any]) -> None:
    y, forecasts = case
    assume(np.abs(y).sum() > 1e-6)
    q = next(iter(forecasts.values()))
    result = weighted_quantile_loss(y, {0.5: q})
    wape = np.abs(q - y).sum() / np.abs(y).sum()
    assert result.per_quantile["0.5"] == pytest.approx(wape, rel=1e-9, abs=1e-12)


@given(case=scored(positive), c=st.floats(1e-3, 1e3))
def test_given_y_and_q_scaled_by_c_then_wql_unchanged(case: tuple[Any, Any], c: float) -> None:
    y, forecasts = case
    base = weighted_quantile_loss(y, forecasts)
    scaled = weighted_quantile_loss(y * c, {t: q * c for t, q in forecasts.items()})
    assert scaled.per_quantile == pytest.approx(base.per_quantile, rel=1e-9, abs=1e-12)


# -- wql_from_forecasts ---------------------------------------------------------------------
def forecast(median: list[float], spread: float = 1.0) -> Forecast:
    mid = np.array(median)
    return Forecast(mean=mid, quantiles={"0.05": mid - spread, "0.5": mid, "0.95": mid + spread})


def test_given_parsed_forecasts_then_scored_like_the_stacked_arrays() -> None:
    actual = np.array([[10.0, 11.0], [20.0, 19.0]])
    forecasts = [forecast([10.0, 12.0]), forecast([21.0, 19.0])]
    result = wql_from_forecasts(actual, forecasts, ["0.05", "0.5", "0.95"])
    expected = weighted_quantile_loss(
        actual,
        {
            "0.05": [[9.0, 11.0], [20.0, 18.0]],
            "0.5": [[10.0, 12.0], [21.0, 19.0]],
            "0.95": [[11.0, 13.0], [22.0, 20.0]],
        },
    )
    assert result == expected
    # Only the median errors (by 1 twice): 2 * (0.5 + 0.5) / 60 for the median quantile.
    assert result.per_quantile["0.5"] == pytest.approx(2 / 60)


def test_given_a_single_forecast_and_1d_actual_then_scored() -> None:
    result = wql_from_forecasts([10.0, 12.0], [forecast([10.0, 12.0])], [0.5])
    assert result.mean == 0.0
    assert wql_from_forecasts([10.0, 12.0], forecast([10.0, 12.0]), [0.5]).mean == 0.0  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("actual", "forecasts", "quantiles", "expected"),
    [
        ([[1.0, 2.0]], [forecast([1.0, 2.0])], [0.1], r"forecast 0 has no quantile 0.1"),
        ([[1.0, 2.0, 3.0]], [forecast([1.0, 2.0])], [0.5], "forecast 0 has 2 points, actual has 3"),
        ([[1.0, 2.0]], [forecast([1.0, 2.0])] * 2, [0.5], "actual has 1 series but there are 2"),
        ([[1.0, 2.0]], [], [0.5], "no forecasts"),
        ([[1.0, 2.0]], [forecast([1.0, 2.0])], [], "no quantiles"),
    ],
)
def test_given_mismatched_forecasts_then_value_error(
    actual: Any, forecasts: list[Forecast], quantiles: list[float], expected: str
) -> None:
    with pytest.raises(ValueError, match=expected):
        wql_from_forecasts(actual, forecasts, quantiles)


def test_given_loss_result_then_it_is_immutable() -> None:
    result = weighted_quantile_loss([1.0], {0.5: [1.0]})
    assert isinstance(result, LossResult)
    with pytest.raises(AttributeError):
        result.mean = 3.0  # type: ignore[misc]
