"""DeepAR formats: records, JSON Lines, channels, trainability, inference I/O (feecast.deepar)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from feecast.deepar import (
    Channels,
    Forecast,
    FormatError,
    SeriesRejected,
    build_channels,
    check_trainable,
    from_jsonl,
    from_record,
    gap_report,
    inference_config,
    inference_request,
    parse_batch_output,
    parse_endpoint_response,
    parse_forecast,
    quantile_key,
    to_jsonl,
    to_record,
    train_test_split,
)
from feecast.series import MinuteSeries
from hypothesis import given
from hypothesis import strategies as st

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def m(i: int) -> datetime:
    return T0 + timedelta(minutes=i)


def series(*values: float | None, start: datetime = T0) -> MinuteSeries:
    return MinuteSeries(start, np.array([np.nan if v is None else v for v in values], dtype=float))


def ramp(n: int, start: datetime = T0) -> MinuteSeries:
    return MinuteSeries(start, np.arange(1.0, n + 1.0))


# -- quantile_key ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("q", "key"),
    [
        (0.5, "0.5"),
        ("0.5", "0.5"),
        ("0.50", "0.5"),
        (0.05, "0.05"),
        ("0.050", "0.05"),
        (0.95, "0.95"),
        (0.1, "0.1"),
        (0.1 + 0.2, "0.3"),  # float noise 0.30000000000000004 is not a new quantile
        (1e-5, "0.00001"),
        (np.float64(0.9), "0.9"),
        (" 0.25 ", "0.25"),
    ],
)
def test_given_a_quantile_level_then_key_is_canonical(q: float | str, key: str) -> None:
    assert quantile_key(q) == key


@pytest.mark.parametrize(
    "q", [0, 1, 0.0, 1.0, -0.1, 1.5, "abc", "", math.nan, math.inf, True, None]
)
def test_given_an_invalid_quantile_then_value_error(q: Any) -> None:
    with pytest.raises(ValueError, match="quantile"):
        quantile_key(q)


@given(q=st.floats(1e-6, 1 - 1e-6))
def test_given_any_level_then_key_parses_back_to_it_and_is_stable(q: float) -> None:
    key = quantile_key(q)
    assert float(key) == pytest.approx(q, rel=1e-11)
    assert quantile_key(key) == key
    assert "e" not in key.lower()
    assert not key.endswith("0")


# -- records --------------------------------------------------------------------------------
def test_given_a_series_with_gaps_when_rendering_record_then_nan_is_a_string() -> None:
    record = to_record(series(1.5, None, 3.0))
    assert record == {"start": "2024-03-01 12:00:00", "target": [1.5, "NaN", 3.0]}
    assert json.dumps(record, allow_nan=False)  # strict JSON: no bare NaN token


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("2024-03-01 12:00:00", T0),
        ("2024-03-01T12:00:00", T0),
        ("2024-03-01T13:00:00+01:00", T0),
        ("2024-03-01 12:00:00Z", T0),
    ],
)
def test_given_start_forms_when_parsing_record_then_utc(start: str, expected: datetime) -> None:
    assert from_record({"start": start, "target": [1.0]}).start == expected


def test_given_nan_null_and_numbers_when_parsing_record_then_missing_is_nan() -> None:
    s = from_record({"start": "2024-03-01 12:00:00", "target": [1, "NaN", None, 2.5, "nan"]})
    assert s == series(1.0, None, None, 2.5, None)


def test_given_extra_deepar_fields_when_parsing_record_then_ignored() -> None:
    s = from_record({"start": "2024-03-01 12:00:00", "target": [1], "cat": [0]})
    assert s == series(1.0)


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"target": [1]}, 'no "start"'),
        ({"start": "2024-03-01 12:00:00"}, 'no "target"'),
        ({"start": "yesterday", "target": [1]}, 'is not "YYYY-MM-DD HH:MM:SS"'),
        ({"start": 1709294400, "target": [1]}, '"start" must be a string'),
        ({"start": "2024-03-01 12:00:30", "target": [1]}, "not on a minute boundary"),
        ({"start": "2024-03-01 12:00:00", "target": "1,2"}, '"target" must be a list'),
        ({"start": "2024-03-01 12:00:00", "target": [1, "x"]}, "target[1] is the string 'x'"),
        ({"start": "2024-03-01 12:00:00", "target": [True]}, "target[0] is not a number"),
        ({"start": "2024-03-01 12:00:00", "target": [[1]]}, "target[0] is not a number"),
        ({"start": "2024-03-01 12:00:00", "target": [1e400]}, "target[0] is infinite"),
    ],
)
def test_given_bad_record_then_format_error_says_what(
    record: dict[str, Any], expected: str
) -> None:
    with pytest.raises(FormatError) as info:
        from_record(record)
    assert expected in str(info.value)


def test_given_a_non_object_record_then_format_error() -> None:
    with pytest.raises(FormatError, match="JSON object"):
        from_record([1, 2])  # type: ignore[arg-type]


# -- JSON Lines -----------------------------------------------------------------------------
def test_given_two_series_when_writing_jsonl_then_one_line_each_with_newline() -> None:
    text = to_jsonl([series(1.0), series(None, 2.0, start=m(5))])
    lines = text.split("\n")
    assert lines[-1] == ""
    assert len(lines) == 3
    assert json.loads(lines[1]) == {"start": "2024-03-01 12:05:00", "target": ["NaN", 2.0]}
    assert to_jsonl([]) == ""


def test_given_a_bare_series_when_writing_jsonl_then_type_error() -> None:
    with pytest.raises(TypeError, match="list of MinuteSeries"):
        to_jsonl(series(1.0))  # type: ignore[arg-type]


def test_given_blank_lines_and_bytes_when_reading_jsonl_then_skipped() -> None:
    text = b'\n{"start": "2024-03-01 12:00:00", "target": [1]}\n\n'
    assert from_jsonl(text) == [series(1.0)]


def test_given_a_bad_json_line_then_error_names_line_number() -> None:
    text = '{"start": "2024-03-01 12:00:00", "target": [1]}\n{oops\n'
    with pytest.raises(FormatError, match=r"^line 2: not valid JSON"):
        from_jsonl(text)


def test_given_a_bad_record_line_then_error_names_line_number_and_problem() -> None:
    good = '{"start": "2024-03-01 12:00:00", "target": [1]}'
    text = f"{good}\n\n{good}\n" + '{"start": "2024-03-01 12:00:00", "target": [1, "x"]}\n'
    with pytest.raises(FormatError, match=r"^line 4: target\[1\] is the string 'x'"):
        from_jsonl(text)


series_strategy = st.builds(
    lambda start, values: series(*values, start=m(start)),
    st.integers(-100_000, 100_000),
    st.lists(st.none() | st.floats(allow_nan=False, allow_infinity=False, width=64), max_size=50),
)


@given(items=st.lists(series_strategy, max_size=5))
def test_given_any_series_when_round_tripping_jsonl_then_values_and_nans_preserved(
    items: list[MinuteSeries],
) -> None:
    back = from_jsonl(to_jsonl(items))
    assert len(back) == len(items)
    for original, parsed in zip(items, back, strict=True):
        assert parsed.start == original.start
        assert np.array_equal(np.isnan(parsed.values), np.isnan(original.values))
        assert np.array_equal(parsed.values, original.values, equal_nan=True)


# -- train / test split ---------------------------------------------------------------------
def test_given_a_series_when_splitting_then_train_drops_the_last_prediction_length() -> None:
    s = ramp(10)
    train, test = train_test_split(s, 3)
    assert test == s
    assert train == ramp(7)


@given(n=st.integers(2, 500), data=st.data())
def test_given_any_length_when_splitting_then_lengths_add_up(n: int, data: st.DataObject) -> None:
    length = data.draw(st.integers(1, n - 1))
    train, test = train_test_split(ramp(n), length)
    assert len(test) == n
    assert len(train) == n - length
    assert train.start == test.start
    assert np.array_equal(train.values, test.values[: n - length])


@pytest.mark.parametrize(("n", "length"), [(5, 5), (3, 10), (0, 1)])
def test_given_series_not_longer_than_horizon_when_splitting_then_value_error(
    n: int, length: int
) -> None:
    with pytest.raises(ValueError, match="not longer than prediction_length"):
        train_test_split(ramp(n), length)


def test_given_zero_prediction_length_when_splitting_then_value_error() -> None:
    with pytest.raises(ValueError, match="prediction_length must be >= 1"):
        train_test_split(ramp(5), 0)


# -- check_trainable ------------------------------------------------------------------------
def rejected(s: MinuteSeries, **kwargs: Any) -> SeriesRejected:
    kwargs.setdefault("prediction_length", 30)
    with pytest.raises(SeriesRejected) as info:
        check_trainable(s, **kwargs)
    assert isinstance(info.value, ValueError)
    assert str(info.value) == info.value.reason
    return info.value


def test_given_enough_observed_points_then_trainable() -> None:
    check_trainable(ramp(330), prediction_length=30)  # 300 observed train points: the minimum


def test_given_too_few_observed_train_points_then_rejected_with_counts() -> None:
    err = rejected(ramp(329))
    assert err.code == "too_short"
    assert "train part has 299 observed points" in err.reason
    assert "at least 300 are needed" in err.reason


def test_given_long_but_sparse_series_then_observed_points_are_what_count() -> None:
    values = np.arange(1.0, 1001.0)
    values[::2] = np.nan  # 1000 minutes, ~half missing
    err = rejected(MinuteSeries(T0, values), min_points=600)
    assert err.code == "too_short"
    assert "485 observed points (485 of 970 minutes missing)" in err.reason
    assert "at least 600" in err.reason


def test_given_series_not_longer_than_horizon_then_too_short() -> None:
    err = rejected(ramp(30))
    assert err.code == "too_short"
    assert "series has 30 minutes" in err.reason


def test_given_all_missing_series_then_rejected() -> None:
    err = rejected(MinuteSeries(T0, np.full(400, np.nan)))
    assert err.code == "all_missing"
    assert "all 400 minutes are missing" in err.reason


def test_given_all_zero_series_then_rejected_because_deepar_does() -> None:
    values = np.zeros(400)
    values[5] = np.nan
    err = rejected(MinuteSeries(T0, values))
    assert err.code == "all_zero"
    assert "DeepAR rejects all-zero series" in err.reason


def test_given_zero_train_part_but_nonzero_tail_then_still_all_zero() -> None:
    values = np.zeros(400)
    values[-5:] = 3.0
    assert rejected(MinuteSeries(T0, values)).code == "all_zero"


def test_given_held_out_window_all_missing_then_rejected() -> None:
    values = np.arange(1.0, 401.0)
    values[-30:] = np.nan
    err = rejected(MinuteSeries(T0, values))
    assert err.code == "holdout_missing"
    assert "nothing to evaluate against" in err.reason
    assert "2024-03-01 18:10Z" in err.reason


def test_given_held_out_window_partly_missing_then_trainable() -> None:
    values = np.arange(1.0, 401.0)
    values[-29:] = np.nan
    check_trainable(MinuteSeries(T0, values), prediction_length=30)


@pytest.mark.parametrize(("length", "min_points"), [(0, 300), (30, 0)])
def test_given_bad_check_arguments_then_value_error(length: int, min_points: int) -> None:
    with pytest.raises(ValueError, match=">= 1") as info:
        check_trainable(ramp(400), prediction_length=length, min_points=min_points)
    assert not isinstance(info.value, SeriesRejected)  # a caller bug, not a data problem


# -- gap_report -----------------------------------------------------------------------------
def test_given_two_gaps_then_report_counts_and_longest() -> None:
    report = gap_report(series(1.0, None, 2.0, None, None, None, 3.0, None))
    assert (report.total, report.missing, report.observed) == (8, 5, 3)
    assert report.gap_count == 3
    assert report.longest_gap == 3
    assert report.longest_gap_start == m(3)
    assert report.fraction_missing == pytest.approx(5 / 8)
    assert report.to_dict() == {
        "total": 8,
        "missing": 5,
        "observed": 3,
        "fraction_missing": 0.625,
        "gap_count": 3,
        "longest_gap": 3,
        "longest_gap_start": "2024-03-01T12:03:00Z",
    }


@pytest.mark.parametrize(
    ("s", "missing", "longest", "fraction"),
    [
        (series(1.0, 2.0), 0, 0, 0.0),
        (series(None, None), 2, 2, 1.0),
        (series(), 0, 0, 0.0),
    ],
)
def test_given_edge_series_then_gap_report_is_sane(
    s: MinuteSeries, missing: int, longest: int, fraction: float
) -> None:
    report = gap_report(s)
    assert (report.missing, report.longest_gap, report.fraction_missing) == (
        missing,
        longest,
        fraction,
    )
    json.dumps(report.to_dict())


# -- build_channels -------------------------------------------------------------------------
def test_given_a_trainable_series_when_building_channels_then_jsonl_matches_split() -> None:
    values = np.arange(1.0, 361.0)
    values[10:13] = np.nan
    s = MinuteSeries(T0, values)

    channels = build_channels(s, 30)

    assert isinstance(channels, Channels)
    assert channels.test == s
    assert channels.train == s.drop_last(30)
    assert from_jsonl(channels.train_jsonl) == [channels.train]
    assert from_jsonl(channels.test_jsonl) == [s]
    assert channels.gaps.missing == 3
    assert channels.gaps.longest_gap_start == m(10)


def test_given_an_untrainable_series_when_building_channels_then_rejected() -> None:
    with pytest.raises(SeriesRejected) as info:
        build_channels(ramp(100), 30)
    assert info.value.code == "too_short"


def test_given_a_lower_min_points_when_building_channels_then_it_is_used() -> None:
    assert len(build_channels(ramp(40), 30, min_points=10).train) == 10


# -- inference request ----------------------------------------------------------------------
def test_given_series_when_building_inference_request_then_deepar_shape() -> None:
    body = inference_request([series(1.0, None)], num_samples=50, quantiles=[0.05, "0.50", 0.95])
    assert body == {
        "instances": [{"start": "2024-03-01 12:00:00", "target": [1.0, "NaN"]}],
        "configuration": {
            "num_samples": 50,
            "output_types": ["mean", "quantiles"],
            "quantiles": ["0.05", "0.5", "0.95"],
        },
    }
    json.dumps(body, allow_nan=False)


@pytest.mark.parametrize(
    ("kwargs", "error", "expected"),
    [
        ({"num_samples": 0}, ValueError, "num_samples"),
        ({"num_samples": 1.5}, ValueError, "num_samples"),
        ({"output_types": ("mean", "median")}, ValueError, "subset"),
        ({"output_types": ()}, ValueError, "subset"),
        ({"output_types": "mean"}, TypeError, "sequence"),
        ({"quantiles": []}, ValueError, "no quantiles"),
        ({"quantiles": [0.5, "0.50"]}, ValueError, "duplicate"),
        ({"quantiles": [1.5]}, ValueError, "between 0 and 1"),
    ],
)
def test_given_bad_inference_configuration_then_error(
    kwargs: dict[str, Any], error: type[Exception], expected: str
) -> None:
    args: dict[str, Any] = {"num_samples": 100, "quantiles": [0.5]} | kwargs
    with pytest.raises(error, match=expected):
        inference_config(**args)


def test_given_samples_only_output_then_quantiles_may_be_empty() -> None:
    config = inference_config(num_samples=10, quantiles=[], output_types=["samples"])
    assert config["output_types"] == ["samples"]


def test_given_no_series_or_empty_series_when_building_request_then_value_error() -> None:
    with pytest.raises(ValueError, match="at least one series"):
        inference_request([], num_samples=1, quantiles=[0.5])
    with pytest.raises(ValueError, match="series 1 has no observed value"):
        inference_request([series(1.0), series(None)], num_samples=1, quantiles=[0.5])
    with pytest.raises(TypeError):
        inference_request(series(1.0), num_samples=1, quantiles=[0.5])  # type: ignore[arg-type]


# -- Forecast and parsing -------------------------------------------------------------------
def test_given_forecast_with_noncanonical_keys_then_keys_canonical_and_sorted() -> None:
    f = Forecast(
        mean=np.array([1.0, 2.0]),
        quantiles={"0.90": np.array([3.0, 4.0]), "0.1": np.array([0.0, 1.0])},
    )
    assert list(f.quantiles) == ["0.1", "0.9"]
    assert len(f) == f.prediction_length == 2
    assert np.array_equal(f.quantile(0.9), [3.0, 4.0])
    with pytest.raises(KeyError, match=r"quantile 0.5 not in forecast \(has \['0.1', '0.9'\]\)"):
        f.quantile("0.5")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"quantiles": {"0.5": [1.0]}}, "quantile 0.5 has 1 values but mean has 2"),
        ({"quantiles": {"0.5": [1.0, 2.0], "0.50": [1.0, 2.0]}}, "given twice"),
        ({"quantiles": {"median": [1.0, 2.0]}}, "not a number"),
        ({"quantiles": {"0.5": "12"}}, "must be a list of numbers"),
        ({"quantiles": {"0.5": [[1.0, 2.0]]}}, "one list of numbers"),
        ({"samples": [[1.0, 2.0, 3.0]]}, r"samples must be \(num_samples, 2\)"),
        ({"samples": [1.0, 2.0]}, r"samples must be \(num_samples, 2\)"),
    ],
)
def test_given_inconsistent_forecast_then_value_error(
    kwargs: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ValueError, match=expected):
        Forecast(mean=np.array([1.0, 2.0]), **kwargs)


def test_given_an_endpoint_prediction_when_parsing_then_all_parts_kept() -> None:
    obj = {
        "mean": [1.0, 2.0],
        "quantiles": {"0.1": [0.5, 1.0], "0.5": [1.0, 2.0], "0.9": [1.5, 3.0]},
        "samples": [[1.0, 2.0], [1.2, 2.2], [0.8, 1.8]],
    }
    f = parse_forecast(obj)
    assert np.array_equal(f.mean, [1.0, 2.0])
    assert list(f.quantiles) == ["0.1", "0.5", "0.9"]
    assert f.samples is not None and f.samples.shape == (3, 2)
    assert parse_forecast(f.to_dict()).to_dict() == f.to_dict()


def test_given_samples_without_mean_when_parsing_then_mean_of_samples() -> None:
    f = parse_forecast({"samples": [[1.0, 2.0], [3.0, 6.0]]})
    assert np.array_equal(f.mean, [2.0, 4.0])
    assert f.quantiles == {}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"quantiles": {"0.5": [1.0]}}, 'no "mean"'),
        ({"mean": [1.0], "quantiles": [[1.0]]}, '"quantiles" must be an object'),
        ({"mean": "1,2"}, "must be a list of numbers"),
        ({"mean": [1.0], "samples": [["a"]]}, '"samples" must be a list of lists'),
        ([1.0], "must be a JSON object"),
    ],
)
def test_given_a_bad_forecast_object_then_format_error(obj: Any, expected: str) -> None:
    with pytest.raises(FormatError, match=expected):
        parse_forecast(obj)


def test_given_batch_output_lines_then_one_forecast_per_line_in_order() -> None:
    text = (
        '{"mean": [1.0], "quantiles": {"0.5": [1.0]}}\n'
        "\n"
        '{"mean": [2.0], "quantiles": {"0.5": [2.5]}}\n'
    )
    forecasts = parse_batch_output(text)
    assert [f.mean[0] for f in forecasts] == [1.0, 2.0]
    assert forecasts[1].quantiles["0.5"][0] == 2.5


def test_given_a_bad_batch_output_line_then_error_names_it() -> None:
    text = '{"mean": [1.0]}\n{"mean": [1.0], "quantiles": {"0.5": [1.0, 2.0]}}\n'
    with pytest.raises(FormatError, match=r"^line 2: quantile 0\.5 has 2 values but mean has 1"):
        parse_batch_output(text)


@pytest.mark.parametrize(
    "body",
    [
        {"predictions": [{"mean": [1.0, 2.0], "quantiles": {"0.5": [1.0, 2.0]}}]},
        '{"predictions": [{"mean": [1.0, 2.0], "quantiles": {"0.5": [1.0, 2.0]}}]}',
        b'{"predictions": [{"mean": [1.0, 2.0], "quantiles": {"0.5": [1.0, 2.0]}}]}',
    ],
)
def test_given_an_endpoint_response_then_parsed(body: Any) -> None:
    [f] = parse_endpoint_response(body)
    assert np.array_equal(f.quantile(0.5), [1.0, 2.0])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"instances": []}, 'with a "predictions" list'),
        ({"predictions": {"mean": [1.0]}}, 'with a "predictions" list'),
        ("not json", "not valid JSON"),
        (
            {"predictions": [{"mean": [1.0]}, {"mean": [1.0], "samples": [[1.0, 2.0]]}]},
            "^predictions\\[1\\]",
        ),
    ],
)
def test_given_a_bad_endpoint_response_then_format_error(body: Any, expected: str) -> None:
    with pytest.raises(FormatError, match=expected):
        parse_endpoint_response(body)
