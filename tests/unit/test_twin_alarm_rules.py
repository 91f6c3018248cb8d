"""The twin's CloudWatch alarm evaluation rules (pure: no moto, no clock)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feecast_twin.alarms import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    AlarmRule,
    Sample,
    aggregate,
    evaluate_alarm,
    evaluation_end,
    format_timestamp,
    period_buckets,
)

NOW = datetime(2026, 1, 5, 12, 0, 30, tzinfo=UTC)
END = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # evaluation minute of NOW
PERIOD = 300


def rule(**overrides: object) -> AlarmRule:
    settings: dict[str, object] = {
        "period": PERIOD,
        "evaluation_periods": 3,
        "threshold": 10.0,
        "comparison_operator": "GreaterThanThreshold",
        "statistic": "Average",
    }
    settings.update(overrides)
    return AlarmRule(**settings)  # type: ignore[arg-type]


def series(pattern: str) -> list[Sample]:
    """Samples from a pattern as the user guide writes it, oldest first, newest last:
    '0' non-breaching, 'X' breaching, '-' missing; one character per period bucket."""
    buckets = period_buckets(END, PERIOD, len(pattern))
    values = {"0": 1.0, "X": 99.0}
    return [
        Sample(start + timedelta(seconds=30), value=values[char])
        for (start, _), char in zip(buckets, pattern, strict=True)
        if char != "-"
    ]


def test_buckets_end_at_the_evaluation_minute_and_are_oldest_first() -> None:
    assert evaluation_end(NOW, 300) == END
    assert evaluation_end(datetime(2026, 1, 5, 12, 0, 25, tzinfo=UTC), 10) == datetime(
        2026, 1, 5, 12, 0, 20, tzinfo=UTC
    )
    buckets = period_buckets(END, 3600, 2)
    assert buckets == [
        (END - timedelta(hours=2), END - timedelta(hours=1)),
        (END - timedelta(hours=1), END),
    ]


@pytest.mark.parametrize(
    ("statistic", "expected"),
    [
        ("Average", 5.5),
        ("Sum", 55.0),
        ("SampleCount", 10.0),
        ("Minimum", 1.0),
        ("Maximum", 10.0),
        ("p90", 9.0),
        ("p50", 5.0),
        ("p100", 10.0),
    ],
)
def test_statistics_of_one_bucket(statistic: str, expected: float) -> None:
    samples = [Sample(END, value=float(v)) for v in range(1, 11)]
    assert aggregate(samples, statistic) == (expected, 10.0)


def test_statistic_sets_count_in_simple_statistics_but_not_percentiles() -> None:
    samples = [Sample(END, value=4.0), Sample(END, stats=(3.0, 6.0, 1.0, 3.0))]
    assert aggregate(samples, "Average") == (2.5, 4.0)
    assert aggregate(samples, "Minimum") == (1.0, 4.0)
    assert aggregate(samples, "Maximum") == (4.0, 4.0)
    assert aggregate(samples, "p99") == (4.0, 1.0)
    assert aggregate([Sample(END, stats=(3.0, 6.0, 1.0, 3.0))], "p99") is None
    assert aggregate([], "Sum") is None


@pytest.mark.parametrize(
    ("operator", "value", "breaching"),
    [
        ("GreaterThanThreshold", 10.0, False),
        ("GreaterThanThreshold", 10.5, True),
        ("GreaterThanOrEqualToThreshold", 10.0, True),
        ("GreaterThanOrEqualToThreshold", 9.5, False),
        ("LessThanThreshold", 10.0, False),
        ("LessThanThreshold", 9.5, True),
        ("LessThanOrEqualToThreshold", 10.0, True),
        ("LessThanOrEqualToThreshold", 10.5, False),
    ],
)
def test_each_comparison_operator(operator: str, value: float, breaching: bool) -> None:
    one = rule(evaluation_periods=1, comparison_operator=operator)
    samples = [Sample(END - timedelta(seconds=10), value=value)]
    assert evaluate_alarm(one, samples, NOW, OK).state == (ALARM if breaching else OK)


# The two tables of "How alarm state is evaluated when data is missing" (CloudWatch user guide):
# evaluation range 5, Evaluation Periods 3; None = "Retain current state".
THREE_OF_THREE = [
    ("0-X-X", OK, OK, OK, OK),
    ("0----", OK, OK, OK, OK),
    ("-----", INSUFFICIENT_DATA, None, ALARM, OK),
    ("0XX-X", ALARM, ALARM, ALARM, ALARM),
    ("--X--", ALARM, None, ALARM, OK),
]
TWO_OF_THREE = [
    ("0-X-X", ALARM, ALARM, ALARM, ALARM),
    ("00X0X", ALARM, ALARM, ALARM, ALARM),
    ("0-X--", OK, OK, ALARM, OK),
    ("----0", OK, OK, ALARM, OK),
    ("---X-", ALARM, None, ALARM, OK),
]
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")


@pytest.mark.parametrize(
    ("m", "pattern", "expected"),
    [(3, row[0], row[1:]) for row in THREE_OF_THREE]
    + [(2, row[0], row[1:]) for row in TWO_OF_THREE],
)
def test_user_guide_missing_data_tables(m: int, pattern: str, expected: tuple) -> None:
    for treatment, state in zip(TREATMENTS, expected, strict=True):
        evaluation = evaluate_alarm(
            rule(datapoints_to_alarm=m, treat_missing_data=treatment), series(pattern), NOW, OK
        )
        assert evaluation.state == state, (pattern, treatment, evaluation.reason)


@pytest.mark.parametrize("pattern", ["----X", "---X-"])
def test_a_recent_lone_breach_is_not_a_premature_alarm(pattern: str) -> None:
    """Given 3 of 3 and missing data treated as missing, when one breach is too recent,
    then the state is kept (the next datapoint may not breach)."""
    evaluation = evaluate_alarm(rule(), series(pattern), NOW, OK)
    assert evaluation.state is None


def test_m_out_of_n_needs_m_breaching_datapoints() -> None:
    two_of_four = rule(evaluation_periods=4, datapoints_to_alarm=2)
    assert evaluate_alarm(two_of_four, series("000X0X"), NOW, OK).state == ALARM
    assert evaluate_alarm(two_of_four, series("X0X000"), NOW, OK).state == OK  # too old
    assert evaluate_alarm(two_of_four, series("0000X0"), NOW, OK).state == OK


def test_datapoints_to_alarm_defaults_to_evaluation_periods() -> None:
    assert rule().m == 3
    assert evaluate_alarm(rule(), series("--0XX"), NOW, OK).state == OK
    assert evaluate_alarm(rule(), series("--XXX"), NOW, OK).state == ALARM


def test_older_real_datapoints_replace_missing_recent_ones() -> None:
    """Given N real datapoints in the range, the treatment of missing data is not needed."""
    evaluation = evaluate_alarm(rule(treat_missing_data="notBreaching"), series("XXX--"), NOW, OK)
    assert evaluation.state == ALARM


def test_reason_and_reason_data_are_shaped_like_cloudwatch() -> None:
    one = rule(evaluation_periods=1)
    samples = [Sample(END - timedelta(seconds=200), value=99.5)]
    evaluation = evaluate_alarm(one, samples, NOW, OK)
    assert evaluation.state == ALARM
    assert evaluation.reason == (
        "Threshold Crossed: 1 out of the last 1 datapoints [99.5 (05/01/26 11:55:00)] was "
        "greater than the threshold (10.0) (minimum 1 datapoint for OK -> ALARM transition)."
    )
    data = evaluation.reason_data
    assert json.loads(json.dumps(data)) == data
    assert data["version"] == "1.0"
    assert data["queryDate"] == "2026-01-05T12:00:30.000+0000"
    assert data["startDate"] == "2026-01-05T11:55:00.000+0000"
    assert (data["statistic"], data["period"], data["threshold"]) == ("Average", 300, 10.0)
    assert data["recentDatapoints"] == [99.5]
    assert data["evaluatedDatapoints"] == [
        {"timestamp": "2026-01-05T11:55:00.000+0000", "sampleCount": 1.0, "value": 99.5}
    ]


def test_missing_data_reasons() -> None:
    assert evaluate_alarm(rule(), [], NOW, OK).reason == (
        "Insufficient Data: 5 datapoints were unknown."
    )
    breaching = evaluate_alarm(rule(treat_missing_data="breaching"), [], NOW, OK)
    assert "treated as [Breaching]" in breaching.reason


def test_data_outside_the_evaluation_range_is_ignored() -> None:
    late = [Sample(END + timedelta(seconds=5), value=99.0)]  # after the evaluation minute
    early = [Sample(END - timedelta(seconds=PERIOD * 5 + 1), value=99.0)]
    assert evaluate_alarm(rule(), late + early, NOW, OK).state == INSUFFICIENT_DATA


def test_invalid_rules_are_rejected() -> None:
    with pytest.raises(ValueError):
        rule(comparison_operator="LessThanLowerOrGreaterThanUpperThreshold")
    with pytest.raises(ValueError):
        rule(statistic="p101")
    with pytest.raises(ValueError):
        rule(datapoints_to_alarm=4)
    with pytest.raises(ValueError):
        rule(treat_missing_data="sometimes")


def test_format_timestamp_accepts_naive_utc() -> None:
    assert format_timestamp(datetime(2019, 10, 2, 17, 4, 40, 989000)) == (
        "2019-10-02T17:04:40.989+0000"
    )


@given(
    pattern=st.text(alphabet="0X-", min_size=5, max_size=5),
    m=st.integers(min_value=1, max_value=3),
    treatment=st.sampled_from(TREATMENTS),
)
def test_enough_breaching_real_datapoints_always_alarm(
    pattern: str, m: int, treatment: str
) -> None:
    """Property: if M of the N most recent real datapoints breach, the alarm is in ALARM,
    whatever the missing-data treatment; if none breach and N exist, it is OK."""
    real = [char for char in pattern if char != "-"]
    evaluation = evaluate_alarm(
        rule(datapoints_to_alarm=m, treat_missing_data=treatment), series(pattern), NOW, OK
    )
    if len(real) >= 3:
        recent = real[-3:]
        assert evaluation.state == (ALARM if recent.count("X") >= m else OK)
    elif real.count("X") >= m:
        assert evaluation.state == ALARM
