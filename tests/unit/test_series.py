"""The per-minute series (feecast.series)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from feecast.series import MinuteSeries, floor_minute
from hypothesis import given
from hypothesis import strategies as st

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


def m(i: int, seconds: int = 0) -> datetime:
    """Minute i after T0, plus some seconds."""
    return T0 + timedelta(minutes=i, seconds=seconds)


def series(*values: float | None, start: datetime = T0) -> MinuteSeries:
    return MinuteSeries(start, np.array([np.nan if v is None else v for v in values], dtype=float))


# -- construction ---------------------------------------------------------------------------
def test_given_naive_start_when_building_then_value_error() -> None:
    with pytest.raises(ValueError, match="naive"):
        MinuteSeries(datetime(2024, 1, 1), np.zeros(3))


def test_given_start_off_minute_when_building_then_value_error() -> None:
    with pytest.raises(ValueError, match="minute boundary"):
        MinuteSeries(m(0, seconds=30), np.zeros(3))


def test_given_non_utc_start_when_building_then_stored_in_utc() -> None:
    s = MinuteSeries(datetime(2024, 3, 1, 13, 0, tzinfo=CET), np.zeros(2))
    assert s.start == T0
    assert s.start.tzinfo is UTC


@pytest.mark.parametrize("values", [np.zeros((2, 2)), np.array(5.0)])
def test_given_values_not_1d_when_building_then_value_error(values: np.ndarray) -> None:
    with pytest.raises(ValueError, match="1-D"):
        MinuteSeries(T0, values)


def test_given_infinite_value_when_building_then_value_error_with_minute() -> None:
    with pytest.raises(ValueError, match=r"values\[1\] is infinite \(2024-03-01T12:01Z\)"):
        series(1.0, math.inf)


def test_given_a_series_then_values_are_a_read_only_copy() -> None:
    raw = np.array([1.0, 2.0])
    s = MinuteSeries(T0, raw)
    raw[0] = 99.0
    assert s.values[0] == 1.0
    with pytest.raises(ValueError):
        s.values[0] = 5.0
    assert s.values.dtype == np.float64


# -- shape ----------------------------------------------------------------------------------
def test_given_three_minutes_with_one_missing_then_counts_and_end_are_right() -> None:
    s = series(1.0, None, 3.0)
    assert len(s) == 3
    assert s.end == m(3)
    assert s.observed_count == 2
    assert s.missing_count == 1
    assert s.timestamps() == [m(0), m(1), m(2)]
    assert list(s.points()) == [(m(0), 1.0), (m(1), None), (m(2), 3.0)]
    assert s.last_observed == (m(2), 3.0)
    assert s.index_of(m(2, seconds=59)) == 2


def test_given_trailing_missing_then_last_observed_skips_them() -> None:
    assert series(1.0, 2.0, None, None).last_observed == (m(1), 2.0)
    assert series(None, None).last_observed is None


def test_given_empty_series_then_end_is_start() -> None:
    s = series()
    assert len(s) == 0
    assert s.end == T0
    assert s.observed_count == 0


# -- slicing --------------------------------------------------------------------------------
def test_given_a_series_when_slicing_then_start_moves_with_the_slice() -> None:
    s = series(0.0, 1.0, 2.0, 3.0, 4.0)
    assert s[1:3] == series(1.0, 2.0, start=m(1))
    assert s[-2:] == series(3.0, 4.0, start=m(3))
    assert s[3:1] == series(start=m(3))
    assert s[2] == 2.0
    assert s.head(2) == series(0.0, 1.0)
    assert s.tail(2) == series(3.0, 4.0, start=m(3))
    assert s.tail(10) == s
    assert s.head(10) == s
    assert s.tail(0) == series(start=m(5))
    assert s.drop_last(2) == series(0.0, 1.0, 2.0)
    assert s.drop_last(9) == series()


def test_given_a_step_slice_then_value_error() -> None:
    with pytest.raises(ValueError, match="step 1"):
        _ = series(1.0, 2.0, 3.0)[::2]


@pytest.mark.parametrize("method", ["head", "tail", "drop_last"])
def test_given_negative_count_then_value_error(method: str) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        getattr(series(1.0), method)(-1)


def test_given_window_inside_series_then_exact_minutes() -> None:
    s = series(0.0, 1.0, 2.0, 3.0)
    assert s.window(m(1), m(3)) == series(1.0, 2.0, start=m(1))


def test_given_window_beyond_series_then_padded_with_missing() -> None:
    s = series(0.0, 1.0)
    w = s.window(m(-2), m(4))
    assert w == series(None, None, 0.0, 1.0, None, None, start=m(-2))


def test_given_window_disjoint_from_series_then_all_missing() -> None:
    assert series(0.0, 1.0).window(m(10), m(12)) == series(None, None, start=m(10))


def test_given_window_bounds_with_seconds_then_floored() -> None:
    """An end of 'now' (12:03:40) excludes the minute still in progress (12:03)."""
    s = series(0.0, 1.0, 2.0, 3.0, 4.0)
    assert s.window(m(1, seconds=10), m(3, seconds=40)) == series(1.0, 2.0, start=m(1))


def test_given_window_end_before_start_then_value_error() -> None:
    with pytest.raises(ValueError, match="before its start"):
        series(1.0).window(m(2), m(1))


def test_given_naive_window_bound_then_value_error() -> None:
    with pytest.raises(ValueError, match="naive"):
        series(1.0).window(datetime(2024, 3, 1), m(1))


# -- equality -------------------------------------------------------------------------------
def test_given_same_values_with_nan_then_series_are_equal_and_hash_equal() -> None:
    a, b = series(1.0, None), series(1.0, None)
    assert a == b
    assert hash(a) == hash(b)


@pytest.mark.parametrize(
    "other",
    [
        series(1.0, None, start=m(1)),
        series(1.0, 2.0),
        series(1.0, None, None),
    ],
)
def test_given_different_start_or_values_then_not_equal(other: MinuteSeries) -> None:
    assert series(1.0, None) != other


def test_given_a_non_series_then_not_equal() -> None:
    assert series(1.0) != [1.0]


# -- from_points ----------------------------------------------------------------------------
def test_given_points_with_seconds_and_gaps_when_building_then_floored_and_gaps_are_nan() -> None:
    s = MinuteSeries.from_points([(m(0, 5), 1.0), (m(3, 59), 4.0), (m(1, 30), None)])
    assert s == series(1.0, None, None, 4.0)
    assert s.report is not None
    assert (s.report.points, s.report.duplicates, s.report.conflicts) == (3, 0, 0)


def test_given_unsorted_points_when_building_then_sorted() -> None:
    s = MinuteSeries.from_points([(m(2), 3.0), (m(0), 1.0), (m(1), 2.0)])
    assert s == series(1.0, 2.0, 3.0)


def test_given_identical_duplicates_then_kept_and_not_conflicts() -> None:
    s = MinuteSeries.from_points([(m(0), 1.0), (m(0, 30), 1.0), (m(1), None), (m(1), None)])
    assert s == series(1.0, None)
    assert s.report is not None
    assert (s.report.duplicates, s.report.conflicts, s.report.first_conflict) == (2, 0, None)


def test_given_conflicting_duplicates_then_last_given_wins_and_conflicts_are_counted() -> None:
    s = MinuteSeries.from_points([(m(1), 5.0), (m(0), 1.0), (m(1), 6.0), (m(0), None), (m(1), 7.0)])
    assert s == series(None, 7.0)
    assert s.report is not None
    assert s.report.duplicates == 3
    assert s.report.conflicts == 3
    assert s.report.first_conflict == m(1)
    assert s.report.to_dict()["first_conflict"] == "2024-03-01T12:01:00Z"


def test_given_points_in_another_zone_then_converted_to_utc() -> None:
    s = MinuteSeries.from_points([(datetime(2024, 3, 1, 13, 1, tzinfo=CET), 2.0)])
    assert s.start == m(1)


def test_given_a_naive_timestamp_then_value_error() -> None:
    with pytest.raises(ValueError, match="naive"):
        MinuteSeries.from_points([(m(0), 1.0), (datetime(2024, 3, 1, 12, 1), 2.0)])


def test_given_a_non_datetime_timestamp_then_type_error() -> None:
    with pytest.raises(TypeError, match="datetime"):
        MinuteSeries.from_points([("2024-03-01T12:00Z", 1.0)])  # type: ignore[list-item]


@pytest.mark.parametrize("bad", ["1.0", True, [1.0]])
def test_given_a_non_numeric_value_then_value_error_naming_the_minute(bad: object) -> None:
    with pytest.raises(ValueError, match="2024-03-01T12:00:00Z is not a number"):
        MinuteSeries.from_points([(m(0), bad)])  # type: ignore[list-item]


def test_given_an_infinite_value_then_value_error() -> None:
    with pytest.raises(ValueError, match="infinite"):
        MinuteSeries.from_points([(m(0), math.inf)])


def test_given_numpy_numbers_and_nan_then_accepted() -> None:
    s = MinuteSeries.from_points([(m(0), np.float32(1.5)), (m(1), np.int64(2)), (m(2), math.nan)])
    assert s == series(1.5, 2.0, None)


def test_given_empty_input_without_start_then_value_error_with_reason() -> None:
    with pytest.raises(ValueError, match="no points in range and no start given"):
        MinuteSeries.from_points([])
    with pytest.raises(ValueError, match="no start given"):
        MinuteSeries.from_points([], end=m(5))


def test_given_empty_input_with_start_then_empty_series() -> None:
    assert MinuteSeries.from_points([], start=m(2)) == series(start=m(2))


def test_given_start_and_end_then_range_is_fixed_and_missing_filled() -> None:
    s = MinuteSeries.from_points([(m(2), 2.0)], start=m(0), end=m(5))
    assert s == series(None, None, 2.0, None, None)


def test_given_points_outside_start_end_then_dropped_and_counted() -> None:
    s = MinuteSeries.from_points(
        [(m(-1), 9.0), (m(0), 1.0), (m(1), 2.0), (m(2), 9.0)], start=m(0), end=m(2)
    )
    assert s == series(1.0, 2.0)
    assert s.report is not None
    assert s.report.out_of_range == 2


def test_given_end_inside_a_minute_then_that_minute_is_excluded() -> None:
    s = MinuteSeries.from_points([(m(0), 1.0), (m(1), 2.0), (m(2), 3.0)], end=m(2, seconds=40))
    assert s == series(1.0, 2.0)


def test_given_only_start_then_end_is_after_the_last_point() -> None:
    s = MinuteSeries.from_points([(m(3), 3.0)], start=m(1))
    assert s == series(None, None, 3.0, start=m(1))


def test_given_end_before_start_then_value_error() -> None:
    with pytest.raises(ValueError, match="before start"):
        MinuteSeries.from_points([], start=m(5), end=m(1))


def test_given_floor_minute_then_seconds_dropped_and_utc() -> None:
    assert floor_minute(datetime(2024, 3, 1, 13, 0, 59, 999, tzinfo=CET)) == T0
    with pytest.raises(ValueError, match="naive"):
        floor_minute(datetime(2024, 3, 1))


# -- properties -----------------------------------------------------------------------------
values_strategy = st.lists(
    st.none() | st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=1, max_size=60
)


@given(values=values_strategy, data=st.data())
def test_given_shuffled_and_duplicated_points_when_building_then_equals_sorted_input(
    values: list[float | None], data: st.DataObject
) -> None:
    points = [(m(i, seconds=data.draw(st.integers(0, 59))), v) for i, v in enumerate(values)]
    expected = MinuteSeries.from_points(points)
    duplicated = points + data.draw(st.lists(st.sampled_from(points), max_size=20))
    shuffled = data.draw(st.permutations(duplicated))

    got = MinuteSeries.from_points(shuffled)

    assert got == expected
    assert got.report is not None
    assert got.report.conflicts == 0
    assert got.report.duplicates == len(duplicated) - len(points)


@given(values=values_strategy, start_minute=st.integers(-10_000, 10_000))
def test_given_a_series_when_rebuilt_from_its_points_then_identical(
    values: list[float | None], start_minute: int
) -> None:
    s = series(*values, start=m(start_minute))
    assert MinuteSeries.from_points(s.points()) == s
    assert s.observed_count + s.missing_count == len(s) == len(values)


@given(values=values_strategy, n=st.integers(0, 80))
def test_given_head_and_tail_then_they_partition_the_series(
    values: list[float | None], n: int
) -> None:
    s = series(*values)
    head, rest = s.head(n), s[min(n, len(s)) :]
    assert len(head) + len(rest) == len(s)
    assert head.end == rest.start
    assert np.array_equal(np.concatenate([head.values, rest.values]), s.values, equal_nan=True)
    assert s.tail(n).end == s.end
