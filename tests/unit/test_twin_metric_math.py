"""The twin's CloudWatch metric math: the expression subset and metric-math alarm evaluation
(pure: no moto, no clock)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from feecast_twin.alarms import ALARM, OK, AlarmRule, Sample, evaluate_math_alarm
from feecast_twin.metric_math import (
    MetricQuery,
    UnsupportedExpression,
    evaluate,
    parse,
    validate_queries,
)

NOW = datetime(2026, 1, 5, 18, 0, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("loss - threshold", {"loss": 0.41, "threshold": 0.24}, 0.41 - 0.24),
        ("IF(loss > threshold, 1, 0)", {"loss": 0.41, "threshold": 0.24}, 1.0),
        ("IF(loss > threshold, 1, 0)", {"loss": 0.2, "threshold": 0.24}, 0.0),
        ("IF(loss > threshold, loss)", {"loss": 0.2, "threshold": 0.24}, None),
        ("(a + b) * 2 / c", {"a": 1.0, "b": 2.0, "c": 4.0}, 1.5),
        ("a - b - c", {"a": 10.0, "b": 3.0, "c": 2.0}, 5.0),  # left to right
        ("a + b * c", {"a": 1.0, "b": 2.0, "c": 3.0}, 7.0),  # * before +
        ("-a + 1", {"a": 2.0}, -1.0),
        ("a >= b AND b != 0", {"a": 2.0, "b": 2.0}, 1.0),
        ("a < b OR a == 0", {"a": 2.0, "b": 1.0}, 0.0),
        ("a / b", {"a": 1.0, "b": 0.0}, None),  # no datapoint, not an error
        ("1.5e-1 + .1", {}, 0.25),
    ],
)
def test_the_supported_expressions_evaluate_per_timestamp(
    text: str, values: dict[str, float], expected: float | None
) -> None:
    got = evaluate(parse(text), values)
    assert got == (pytest.approx(expected) if expected is not None else None)


def test_a_series_without_a_datapoint_gives_no_datapoint() -> None:
    # CloudWatch aligns series by timestamp: an hour without a rolling loss has no excess.
    assert evaluate(parse("loss - threshold"), {"loss": None, "threshold": 0.24}) is None
    assert evaluate(parse("IF(loss > threshold, 1, 0)"), {"threshold": 0.24}) is None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("FILL(loss, 0) - threshold", "does not evaluate FILL()"),
        ("SUM(METRICS())", "does not evaluate SUM()"),
        ("RATE(m1)", "does not evaluate RATE()"),
        ("loss ^ 2", "cannot read '^ 2'"),
        ("Loss - threshold", "'Loss' is not a query id"),
        ("IF(loss)", "IF takes 2 or 3 arguments"),
        ("loss -", "expected more"),
        ("(loss", "expected ')'"),
        ("loss threshold", "unexpected 'threshold'"),
        ("", "empty"),
    ],
)
def test_anything_else_is_refused_with_what_the_twin_lacks(text: str, why: str) -> None:
    with pytest.raises(UnsupportedExpression, match=re.escape(why)):
        parse(text)


def metric(query_id: str, name: str) -> MetricQuery:
    return MetricQuery(
        id=query_id,
        return_data=False,
        namespace="feecast",
        metric_name=name,
        dimensions=(("EndpointName", "feecast-staging"), ("Stage", "staging")),
        stat="Maximum",
        period=3600,
    )


LOSS, THRESHOLD = metric("loss", "RollingWeightedQuantileLoss"), metric("threshold", "Threshold")
EXCESS = MetricQuery(
    id="excess", return_data=True, expression=parse("loss - threshold"), source="loss - threshold"
)
QUERIES = [LOSS, THRESHOLD, EXCESS]


@pytest.mark.parametrize(
    ("queries", "why"),
    [
        ([LOSS, THRESHOLD], "exactly one ReturnData true"),
        ([LOSS, THRESHOLD, EXCESS, MetricQuery("more", True, parse("loss"))], "got 2"),
        ([THRESHOLD, EXCESS], r"reads unknown ids \['loss'\]"),
        ([LOSS, LOSS, EXCESS], "must be unique"),
        (
            [
                MetricQuery("a", False, parse("b")),
                MetricQuery("b", True, parse("a")),
            ],
            "circular reference",
        ),
        ([MetricQuery("Loss", True, parse("1"))], "Invalid metrics Id 'Loss'"),
        ([MetricQuery("loss", True)], "exactly one of Expression and MetricStat"),
    ],
)
def test_the_queries_follow_put_metric_alarms_rules(queries: list[MetricQuery], why: str) -> None:
    with pytest.raises(UnsupportedExpression, match=why):
        validate_queries(queries)


RULE = AlarmRule(
    period=3600,
    evaluation_periods=2,
    datapoints_to_alarm=2,
    threshold=0.0,
    comparison_operator="GreaterThanThreshold",
    statistic=None,
    treat_missing_data="notBreaching",
)


def hourly(values: list[float | None], start: datetime) -> list[Sample]:
    return [Sample(start + i * HOUR, value=v) for i, v in enumerate(values) if v is not None]


def evaluate_at(losses: list[float | None], thresholds: list[float | None]) -> tuple:
    """The alarm at NOW with one datapoint per hour, the last one in the hour before NOW."""
    start = NOW.replace(minute=0, second=0) - len(losses) * HOUR
    samples = {"loss": hourly(losses, start), "threshold": hourly(thresholds, start)}
    evaluation = evaluate_math_alarm(RULE, QUERIES, samples, NOW, OK)
    return evaluation.state, [round(p.value, 6) for p in evaluation.datapoints]


def test_two_hours_of_loss_above_the_published_threshold_alarm() -> None:
    state, points = evaluate_at([0.30, 0.41, 0.45], [0.4, 0.4, 0.4])
    assert state == ALARM and points == [0.01, 0.05]


def test_a_lowered_threshold_counts_from_the_hour_it_is_published() -> None:
    # Same losses: above 0.35 from the hour the run starts publishing 0.35, not before.
    assert evaluate_at([0.38, 0.38, 0.38], [0.4, 0.4, 0.35])[0] == OK
    assert evaluate_at([0.38, 0.38, 0.38], [0.4, 0.35, 0.35])[0] == ALARM


def test_hours_without_a_rolling_loss_are_not_breaches() -> None:
    # The last hour has no rolling loss (incomplete pool): one breach in two hours, not two.
    state, points = evaluate_at([0.2, 0.5, None], [0.24, 0.24, 0.24])
    assert state == OK and points == [-0.04, 0.26]
    # Nor are hours without a published threshold (the run did not get that far).
    state, points = evaluate_at([0.1, 0.5, 0.5], [0.24, 0.24, None])
    assert state == OK and points == [-0.14, 0.26]


def test_the_reason_data_names_no_statistic_and_counts_the_metrics_samples() -> None:
    start = NOW.replace(minute=0, second=0) - 2 * HOUR
    samples = {"loss": hourly([0.5, 0.5], start), "threshold": hourly([0.24, 0.24], start)}
    evaluation = evaluate_math_alarm(RULE, QUERIES, samples, NOW, OK)
    assert "statistic" not in evaluation.reason_data
    assert evaluation.reason_data["threshold"] == 0.0
    assert evaluation.reason_data["recentDatapoints"] == [pytest.approx(0.26)] * 2
    assert [p.sample_count for p in evaluation.datapoints] == [1.0, 1.0]
