"""CloudWatch metric alarms in the twin: evaluated from metric data, as CloudWatch does.

moto 5.2.5 stores alarms and metric data but never evaluates an alarm, starts new alarms in OK,
its SetAlarmState sends neither the EventBridge event nor the SNS actions, and it has no
DescribeAlarmHistory. This module has:

- a pure evaluation core (`AlarmRule`, `Sample`, `evaluate_alarm`): period buckets ending at
  the evaluation minute, the statistic of each bucket (SampleCount, Sum, Average, Minimum,
  Maximum, pNN), "M out of N" over an evaluation range of N + 2 buckets, the four
  TreatMissingData behaviours and the "avoiding premature transitions" rule, following
  "Configuring how CloudWatch alarms treat missing data" (CloudWatch user guide);
- `AlarmTwin`, the Component: on every clock tick it evaluates each single-metric alarm from
  moto's stored metric data (put_metric_data and EMF), and on a state change updates the alarm
  in moto (StateValue, StateReason, StateReasonData, StateUpdatedTimestamp), emits the
  "CloudWatch Alarm State Change" event and, if ActionsEnabled, publishes the alarm message to
  the SNS topics of the new state's actions. SetAlarmState does the same. New alarms start in
  INSUFFICIENT_DATA. Metric math alarms are evaluated (`evaluate_math_alarm`, the expression
  subset of feecast_twin.metric_math; PutMetricAlarm refuses what it cannot evaluate);
  composite alarms are not (recorded, skipped).
  Every state change is also kept as a StateUpdate history item, which DescribeAlarmHistory
  (added to moto's CloudWatchResponse; pure filtering in `query_history`) answers from.

The pure part imports nothing from moto, so tests/unit can test it in milliseconds.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import json
import math
import operator
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from feecast_twin.components import Component
from feecast_twin.metric_math import (
    MetricQuery,
    UnsupportedExpression,
    query_of,
    series_value,
    validate_queries,
)
from feecast_twin.patching import Patcher

if TYPE_CHECKING:
    from feecast_twin.host import Host

ALARM = "ALARM"
OK = "OK"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
STATES = (OK, ALARM, INSUFFICIENT_DATA)
TREATMENTS = ("missing", "notBreaching", "breaching", "ignore")
INITIAL_REASON = "Unchecked: Initial alarm creation"

#: ComparisonOperator -> (test of value against threshold, words used in StateReason)
COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
SIMPLE_STATISTICS = ("SampleCount", "Sum", "Average", "Minimum", "Maximum")


# ---------------------------------------------------------------------------------------------
# Pure evaluation
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    """One stored metric datum: a single value, or a statistic set (count, sum, min, max)."""

    timestamp: datetime
    value: float | None = None
    stats: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class AlarmRule:
    """The evaluation settings of a single-metric alarm (PutMetricAlarm's names)."""

    period: int
    evaluation_periods: int
    threshold: float
    comparison_operator: str
    #: a simple statistic or an extended one such as "p90"; None for a metric math alarm
    #: (each of its metrics has its own statistic)
    statistic: str | None
    datapoints_to_alarm: int | None = None
    treat_missing_data: str | None = None
    #: buckets fetched; CloudWatch fetches more than N in case recent ones are missing (the
    #: user guide's examples use 5 for N = 3); default N + 2.
    evaluation_range: int | None = None

    def __post_init__(self) -> None:
        if self.comparison_operator not in COMPARISONS:
            raise ValueError(f"unsupported ComparisonOperator {self.comparison_operator}")
        if self.treatment not in TREATMENTS:
            raise ValueError(f"unsupported TreatMissingData {self.treat_missing_data}")
        if self.period <= 0 or self.evaluation_periods <= 0:
            raise ValueError("Period and EvaluationPeriods must be positive")
        if not 1 <= self.m <= self.evaluation_periods:
            raise ValueError("DatapointsToAlarm must be between 1 and EvaluationPeriods")
        if self.statistic is not None:
            parse_statistic(self.statistic)

    @property
    def m(self) -> int:
        return self.datapoints_to_alarm or self.evaluation_periods

    @property
    def n(self) -> int:
        return self.evaluation_periods

    @property
    def range_size(self) -> int:
        return max(self.evaluation_range or self.evaluation_periods + 2, self.evaluation_periods)

    @property
    def treatment(self) -> str:
        return self.treat_missing_data or "missing"

    def breaches(self, value: float) -> bool:
        return COMPARISONS[self.comparison_operator][0](value, self.threshold)


@dataclass(frozen=True)
class Datapoint:
    """The statistic of one period bucket that had data."""

    start: datetime
    value: float
    sample_count: float
    breaching: bool


@dataclass(frozen=True)
class Evaluation:
    """The outcome of one evaluation. `state` None means: keep the current state."""

    state: str | None
    reason: str
    reason_data: dict[str, Any]
    datapoints: tuple[Datapoint, ...] = field(default=())


def parse_statistic(statistic: str) -> float | None:
    """None for a simple statistic, the percentile (0-100) for pNN / pNN.NN; ValueError else."""
    if statistic in SIMPLE_STATISTICS:
        return None
    if statistic.startswith("p"):
        try:
            percentile = float(statistic[1:])
        except ValueError:
            percentile = -1.0
        if 0 <= percentile <= 100:
            return percentile
    raise ValueError(f"unsupported statistic {statistic}")


def evaluation_end(now: datetime, period: int) -> datetime:
    """The end of the newest bucket: alarms are evaluated each minute on whole minutes
    (each `period` seconds for 10/20/30 s high-resolution alarms)."""
    now = _as_utc(now)
    step = period if period < 60 else 60
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % step, UTC)


def period_buckets(end: datetime, period: int, count: int) -> list[tuple[datetime, datetime]]:
    """`count` consecutive [start, end) buckets of `period` seconds ending at `end`, oldest first."""
    width = timedelta(seconds=period)
    return [(end - width * (count - i), end - width * (count - i - 1)) for i in range(count)]


def aggregate(samples: Iterable[Sample], statistic: str) -> tuple[float, float] | None:
    """(statistic value, sample count) of the samples, None when there is no data."""
    samples = list(samples)
    values = [sample.value for sample in samples if sample.value is not None]
    sets = [sample.stats for sample in samples if sample.stats is not None]
    count = len(values) + sum(stats[0] for stats in sets)
    if count <= 0:
        return None
    percentile = parse_statistic(statistic)
    if percentile is not None:
        if not values:  # statistic sets carry no distribution
            return None
        ordered = sorted(values)
        rank = min(max(math.ceil(percentile / 100 * len(ordered)), 1), len(ordered))
        return ordered[rank - 1], float(len(ordered))
    total = math.fsum(values) + math.fsum(stats[1] for stats in sets)
    if statistic == "SampleCount":
        return float(count), float(count)
    if statistic == "Sum":
        return total, float(count)
    if statistic == "Average":
        return total / count, float(count)
    if statistic == "Minimum":
        return min(values + [stats[2] for stats in sets]), float(count)
    return max(values + [stats[3] for stats in sets]), float(count)


def evaluate_alarm(
    rule: AlarmRule, samples: Iterable[Sample], now: datetime, current_state: str
) -> Evaluation:
    """Evaluate one alarm at `now` from its metric samples (any time range; filtered here)."""
    if rule.statistic is None:
        raise ValueError("a single-metric alarm needs a statistic (evaluate_math_alarm otherwise)")
    buckets = evaluation_buckets(rule, now)
    values = bucket_statistics(buckets, samples, rule.statistic)
    return evaluate_buckets(rule, buckets, values, now, current_state)


def evaluate_math_alarm(
    rule: AlarmRule,
    queries: list[MetricQuery],
    samples: Mapping[str, Iterable[Sample]],
    now: datetime,
    current_state: str,
) -> Evaluation:
    """Evaluate a metric math alarm at `now`: each metric query's statistic per bucket (from
    `samples`, keyed by query id), then the returned expression per bucket, then the same
    M-out-of-N and missing-data rules as a single-metric alarm."""
    returned = validate_queries(queries)
    by_id = {query.id: query for query in queries}
    buckets = evaluation_buckets(rule, now)
    statistics = {
        query.id: bucket_statistics(buckets, samples.get(query.id, ()), query.stat)
        for query in queries
        if query.metric_name is not None and query.stat is not None
    }
    values: list[tuple[float, float] | None] = []
    for i in range(len(buckets)):
        at = {qid: (s[i][0] if s[i] is not None else None) for qid, s in statistics.items()}
        value = series_value(returned.id, by_id, at)
        # An expression's datapoint has no sample count of its own: the metrics' largest.
        counts = [s[i][1] for s in statistics.values() if s[i] is not None]
        values.append(None if value is None else (value, max(counts, default=0.0)))
    return evaluate_buckets(rule, buckets, values, now, current_state)


def evaluation_buckets(rule: AlarmRule, now: datetime) -> list[tuple[datetime, datetime]]:
    """The evaluation range's period buckets at `now`, oldest first."""
    return period_buckets(evaluation_end(now, rule.period), rule.period, rule.range_size)


def bucket_statistics(
    buckets: list[tuple[datetime, datetime]], samples: Iterable[Sample], statistic: str
) -> list[tuple[float, float] | None]:
    """(statistic, sample count) of each bucket's samples, None for a bucket without data."""
    by_bucket: list[list[Sample]] = [[] for _ in buckets]
    first, end = buckets[0][0], buckets[-1][1]
    width = (buckets[0][1] - buckets[0][0]).total_seconds()
    for sample in samples:
        moment = _as_utc(sample.timestamp)
        if first <= moment < end:
            by_bucket[int((moment - first).total_seconds() // width)].append(sample)
    return [aggregate(bucket, statistic) for bucket in by_bucket]


def evaluate_buckets(
    rule: AlarmRule,
    buckets: list[tuple[datetime, datetime]],
    values: list[tuple[float, float] | None],
    now: datetime,
    current_state: str,
) -> Evaluation:
    """The alarm's decision from the value of each bucket of its evaluation range (a metric's
    statistic, or a metric math expression's value)."""
    first = buckets[0][0]
    points: list[Datapoint | None] = [
        None if value is None else Datapoint(start, value[0], value[1], rule.breaches(value[0]))
        for (start, _), value in zip(buckets, values, strict=True)
    ]
    real = [point for point in points if point is not None]
    treatment = rule.treatment
    context = _ReasonContext(rule, now, current_state, first)

    if not real:  # every bucket of the evaluation range is missing
        if treatment == "missing":
            return context.insufficient(len(points))
        if treatment == "ignore":
            return context.keep(f"no datapoints were received for {len(points)} periods (ignored)")
        return context.all_missing(ALARM if treatment == "breaching" else OK, len(points))

    if len(real) >= rule.n:  # enough real data: the N most recent real datapoints decide
        evaluated = real[-rule.n :]
        breaching = sum(point.breaching for point in evaluated)
        return context.crossed(ALARM if breaching >= rule.m else OK, evaluated, 0)

    fills = rule.n - len(real)  # fewer than N real datapoints: fill as few as possible
    breaching = sum(point.breaching for point in real)
    if treatment == "breaching":
        return context.crossed(ALARM if breaching + fills >= rule.m else OK, real, fills)
    if treatment == "notBreaching":
        return context.crossed(ALARM if breaching >= rule.m else OK, real, fills)
    # missing / ignore: only real datapoints count
    if breaching >= rule.m:
        return context.crossed(ALARM, real, 0)
    if breaching < len(real):  # a real non-breaching datapoint: not an alarm
        return context.crossed(OK, real, 0)
    if treatment == "missing":
        # "Avoiding premature transitions": ALARM when the oldest breaching datapoint is at
        # least M periods old and every more recent one is breaching or missing.
        oldest_age = len(points) - points.index(real[0])
        if oldest_age >= rule.m:
            return context.crossed(ALARM, real, 0)
    return context.keep(
        f"{breaching} breaching datapoint(s) and {fills} missing: not enough data to change state"
    )


class _ReasonContext:
    """Builds StateReason / StateReasonData the way CloudWatch words them."""

    def __init__(self, rule: AlarmRule, now: datetime, current: str, range_start: datetime):
        self.rule, self.now, self.current, self.range_start = (
            rule,
            _as_utc(now),
            current,
            range_start,
        )
        self.words = COMPARISONS[rule.comparison_operator][1]

    def _data(self, evaluated: list[Datapoint], start: datetime) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": "1.0",
            "queryDate": format_timestamp(self.now),
            "startDate": format_timestamp(start),
            "statistic": self.rule.statistic,
            "period": self.rule.period,
            "recentDatapoints": [point.value for point in evaluated],
            "threshold": float(self.rule.threshold),
        }
        if self.rule.statistic is None:  # metric math: reasonData names no statistic
            del data["statistic"]
        if evaluated:
            data["evaluatedDatapoints"] = [
                {
                    "timestamp": format_timestamp(point.start),
                    "sampleCount": point.sample_count,
                    "value": point.value,
                }
                for point in reversed(evaluated)
            ]
        return data

    def crossed(self, state: str, evaluated: list[Datapoint], fills: int) -> Evaluation:
        counted = [point for point in evaluated if point.breaching == (state == ALARM)]
        listed = ", ".join(
            f"{point.value!r} ({point.start:%d/%m/%y %H:%M:%S})" for point in reversed(evaluated)
        )
        verb = "was" if len(counted) == 1 else "were"
        negation = "" if state == ALARM else "not "
        reason = (
            f"Threshold Crossed: {len(counted)} out of the last {len(evaluated)} datapoints "
            f"[{listed}] {verb} {negation}{self.words} the threshold "
            f"({float(self.rule.threshold)!r})"
        )
        if fills:
            treated = "Breaching" if self.rule.treatment == "breaching" else "NonBreaching"
            reason += (
                f" and {fills} missing datapoint{'s' if fills != 1 else ''} "
                f"{'was' if fills == 1 else 'were'} treated as [{treated}]"
            )
        needed = self.rule.m if state == ALARM else self.rule.n - self.rule.m + 1
        reason += (
            f" (minimum {needed} datapoint{'s' if needed != 1 else ''} for "
            f"{self.current} -> {state} transition)."
        )
        start = evaluated[0].start if evaluated else self.range_start
        return Evaluation(state, reason, self._data(evaluated, start), tuple(evaluated))

    def all_missing(self, state: str, count: int) -> Evaluation:
        treated = "Breaching" if state == ALARM else "NonBreaching"
        reason = (
            f"Threshold Crossed: no datapoints were received for {count} periods and {count} "
            f"missing datapoints were treated as [{treated}]."
        )
        return Evaluation(state, reason, self._data([], self.range_start))

    def insufficient(self, count: int) -> Evaluation:
        reason = f"Insufficient Data: {count} datapoints were unknown."
        return Evaluation(INSUFFICIENT_DATA, reason, self._data([], self.range_start))

    def keep(self, why: str) -> Evaluation:
        return Evaluation(None, why, self._data([], self.range_start))


def format_timestamp(moment: datetime) -> str:
    """CloudWatch's timestamp form in alarm events: 2019-10-02T17:04:40.989+0000."""
    moment = _as_utc(moment)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+0000"


def _as_utc(moment: datetime) -> datetime:
    # moto keeps naive UTC datetimes; the twin clock gives aware ones.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# ---------------------------------------------------------------------------------------------
# Event and SNS message shapes
# ---------------------------------------------------------------------------------------------
REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)",
    "eu-central-1": "EU (Frankfurt)",
    "eu-north-1": "EU (Stockholm)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
}


@dataclass(frozen=True)
class StateSnapshot:
    value: str
    reason: str
    reason_data: str | None
    timestamp: datetime

    def as_event_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"value": self.value, "reason": self.reason}
        if self.reason_data and self.reason_data != "{}":
            state["reasonData"] = self.reason_data  # a JSON string, as in AWS events
        state["timestamp"] = format_timestamp(self.timestamp)
        return state


def alarm_statistic(alarm: Any) -> str:
    return str(alarm.statistic or alarm.extended_statistic)


def state_change_detail(
    alarm: Any, previous: StateSnapshot, current: StateSnapshot
) -> dict[str, Any]:
    """`detail` of the "CloudWatch Alarm State Change" event of an alarm."""
    if alarm.metric_data_queries:
        configuration: dict[str, Any] = {
            "metrics": [_event_query(q) for q in alarm.metric_data_queries]
        }
        if alarm.description:
            configuration = {"description": alarm.description, **configuration}
        return {
            "alarmName": alarm.name,
            "state": current.as_event_state(),
            "previousState": previous.as_event_state(),
            "configuration": configuration,
        }
    metric_stat: dict[str, Any] = {
        "metric": {
            "dimensions": {dimension.name: dimension.value for dimension in alarm.dimensions},
            "name": alarm.metric_name,
            "namespace": alarm.namespace,
        },
        "period": int(alarm.period),
        "stat": alarm_statistic(alarm),
    }
    if alarm.unit:
        metric_stat["unit"] = alarm.unit
    configuration = {
        "metrics": [
            {
                # Stable per alarm, like the id AWS generates for a single-metric alarm.
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, alarm.alarm_arn)),
                "metricStat": metric_stat,
                "returnData": True,
            }
        ]
    }
    if alarm.description:
        configuration = {"description": alarm.description, **configuration}
    return {
        "alarmName": alarm.name,
        "state": current.as_event_state(),
        "previousState": previous.as_event_state(),
        "configuration": configuration,
    }


def _event_query(raw: Any) -> dict[str, Any]:
    """One of a metric math alarm's queries as the state-change event spells it."""
    query = query_of(raw)
    shaped: dict[str, Any] = {"id": query.id}
    if query.source is not None:
        shaped["expression"] = query.source
    else:
        shaped["metricStat"] = {
            "metric": {
                "dimensions": dict(query.dimensions),
                "name": query.metric_name,
                "namespace": query.namespace,
            },
            "period": query.period,
            "stat": query.stat,
        }
    if query.label:
        shaped["label"] = query.label
    shaped["returnData"] = query.return_data
    return shaped


def _message_query(raw: Any) -> dict[str, Any]:
    """One of a metric math alarm's queries as the SNS alarm message's Trigger spells it."""
    query = query_of(raw)
    shaped: dict[str, Any] = {"Id": query.id}
    if query.source is not None:
        shaped["Expression"] = query.source
    else:
        shaped["MetricStat"] = {
            "Metric": {
                "Dimensions": [{"value": v, "name": n} for n, v in query.dimensions],
                "MetricName": query.metric_name,
                "Namespace": query.namespace,
            },
            "Period": query.period,
            "Stat": query.stat,
        }
    if query.label:
        shaped["Label"] = query.label
    shaped["ReturnData"] = query.return_data
    return shaped


def sns_alarm_message(
    alarm: Any, account_id: str, region: str, previous: StateSnapshot, current: StateSnapshot
) -> tuple[str, str]:
    """(subject, message) CloudWatch publishes to an alarm action's SNS topic."""
    region_name = REGION_NAMES.get(region, region)
    trigger: dict[str, Any]
    if alarm.metric_data_queries:
        queries = [query_of(q) for q in alarm.metric_data_queries]
        period = next(q.period for q in queries if q.period is not None)
        trigger = {"Metrics": [_message_query(q) for q in alarm.metric_data_queries]}
    else:
        statistic = alarm_statistic(alarm)
        period = int(alarm.period)
        trigger = {
            "MetricName": alarm.metric_name,
            "Namespace": alarm.namespace,
            "StatisticType": "Statistic" if alarm.statistic else "ExtendedStatistic",
        }
        if alarm.statistic:
            trigger["Statistic"] = statistic.upper()
        else:
            trigger["ExtendedStatistic"] = statistic
        trigger.update(
            {
                "Unit": alarm.unit,
                "Dimensions": [{"value": d.value, "name": d.name} for d in alarm.dimensions],
            }
        )
    trigger.update(
        {
            "Period": period,
            "EvaluationPeriods": int(alarm.evaluation_periods),
            "DatapointsToAlarm": int(alarm.datapoints_to_alarm or alarm.evaluation_periods),
            "ComparisonOperator": alarm.comparison_operator,
            "Threshold": float(alarm.threshold),
            "TreatMissingData": alarm.treat_missing_data or "missing",
            "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile or "",
        }
    )
    message = {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": account_id,
        "AlarmConfigurationUpdatedTimestamp": format_timestamp(
            alarm.configuration_updated_timestamp
        ),
        "NewStateValue": current.value,
        "NewStateReason": current.reason,
        "StateChangeTime": format_timestamp(current.timestamp),
        "Region": region_name,
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": previous.value,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
        "Trigger": trigger,
    }
    subject = f'{current.value}: "{alarm.name}" in {region_name}'
    if len(subject) > 100:  # SNS subjects are limited to 100 characters
        subject = subject[:97] + "..."
    return subject, json.dumps(message)


# ---------------------------------------------------------------------------------------------
# Alarm history (DescribeAlarmHistory, which moto lacks)
# ---------------------------------------------------------------------------------------------
HISTORY_ITEM_TYPES = ("ConfigurationUpdate", "StateUpdate", "Action")
ALARM_TYPES = ("CompositeAlarm", "MetricAlarm")
SCAN_ORDERS = ("TimestampDescending", "TimestampAscending")
#: AWS documents the range (1-100) but not the default; the twin returns up to the maximum.
DEFAULT_MAX_RECORDS = 100


class InvalidNextToken(ValueError):
    """DescribeAlarmHistory's InvalidNextToken (400)."""


@dataclass(frozen=True)
class HistoryItem:
    """One AlarmHistoryItem; `sequence` orders items recorded at the same timestamp."""

    sequence: int
    alarm_name: str
    alarm_type: str
    timestamp: datetime
    item_type: str
    summary: str
    data: str

    def to_api(self) -> dict[str, Any]:
        return {
            "AlarmName": self.alarm_name,
            "AlarmType": self.alarm_type,
            "Timestamp": self.timestamp,
            "HistoryItemType": self.item_type,
            "HistorySummary": self.summary,
            "HistoryData": self.data,
        }


def _history_state(snapshot: StateSnapshot) -> dict[str, Any]:
    state: dict[str, Any] = {"stateValue": snapshot.value, "stateReason": snapshot.reason}
    if snapshot.reason_data and snapshot.reason_data != "{}":
        with contextlib.suppress(ValueError):  # an object here (a JSON string in events)
            state["stateReasonData"] = json.loads(snapshot.reason_data)
    return state


def state_update_item(
    sequence: int, alarm_name: str, alarm_type: str, previous: StateSnapshot, current: StateSnapshot
) -> HistoryItem:
    """The StateUpdate item CloudWatch keeps for a state change (HistoryData as in the
    AWS CLI's describe-alarm-history example)."""
    data = {
        "version": "1.0",
        "oldState": _history_state(previous),
        "newState": _history_state(current),
    }
    moment = _as_utc(current.timestamp)
    return HistoryItem(
        sequence=sequence,
        alarm_name=alarm_name,
        alarm_type=alarm_type,
        # CloudWatch keeps milliseconds: a Timestamp read back is then a valid, inclusive bound.
        timestamp=moment.replace(microsecond=moment.microsecond // 1000 * 1000),
        item_type="StateUpdate",
        summary=f"Alarm updated from {previous.value} to {current.value}",
        data=json.dumps(data, separators=(",", ":")),
    )


def _enum_error(value: Any, member: str, allowed: tuple[str, ...]) -> ValueError:
    return ValueError(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: Member must satisfy enum value set: [{', '.join(allowed)}]"
    )


def _token(scan_by: str, item: HistoryItem) -> str:
    raw = f"{scan_by}|{item.timestamp.isoformat()}|{item.sequence}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _untoken(token: str, scan_by: str) -> tuple[datetime, int]:
    try:
        scan, moment, sequence = base64.urlsafe_b64decode(token.encode()).decode().split("|")
        if scan != scan_by:
            raise ValueError("the token was issued for another ScanBy")
        return _as_utc(datetime.fromisoformat(moment)), int(sequence)
    except (ValueError, UnicodeError) as error:
        raise InvalidNextToken("The next token specified is invalid.") from error


def query_history(
    items: Iterable[HistoryItem],
    *,
    alarm_name: str | None = None,
    alarm_types: Iterable[str] | None = None,
    history_item_type: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    max_records: int | None = None,
    next_token: str | None = None,
    scan_by: str | None = None,
) -> tuple[list[HistoryItem], str | None]:
    """DescribeAlarmHistory over `items`: (one page, NextToken or None).

    Omitted AlarmTypes means metric alarms only (as documented); StartDate / EndDate are
    inclusive. Tokens point after the last item returned, so items recorded between two pages
    neither repeat nor shift the next page. ValueError (ValidationError) / InvalidNextToken."""
    types = list(alarm_types or ["MetricAlarm"])
    for alarm_type in types:
        if alarm_type not in ALARM_TYPES:
            raise _enum_error(alarm_type, "alarmTypes", ALARM_TYPES)
    if history_item_type is not None and history_item_type not in HISTORY_ITEM_TYPES:
        raise _enum_error(history_item_type, "historyItemType", HISTORY_ITEM_TYPES)
    scan = scan_by or "TimestampDescending"
    if scan not in SCAN_ORDERS:
        raise _enum_error(scan, "scanBy", SCAN_ORDERS)
    limit = DEFAULT_MAX_RECORDS if max_records is None else int(max_records)
    if not 1 <= limit <= 100:
        bound = "greater than or equal to 1" if limit < 1 else "less than or equal to 100"
        raise ValueError(
            f"1 validation error detected: Value '{limit}' at 'maxRecords' failed to satisfy "
            f"constraint: Member must have value {bound}"
        )
    after = _untoken(next_token, scan) if next_token else None
    start = _as_utc(start) if start is not None else None
    end = _as_utc(end) if end is not None else None
    descending = scan == "TimestampDescending"

    def wanted(item: HistoryItem) -> bool:
        if alarm_name is not None and item.alarm_name != alarm_name:
            return False
        if item.alarm_type not in types:
            return False
        if history_item_type is not None and item.item_type != history_item_type:
            return False
        if (start is not None and item.timestamp < start) or (
            end is not None and item.timestamp > end
        ):
            return False
        if after is not None:
            key = (item.timestamp, item.sequence)
            return key < after if descending else key > after
        return True

    ordered = sorted(
        (item for item in items if wanted(item)),
        key=lambda item: (item.timestamp, item.sequence),
        reverse=descending,
    )
    page = ordered[:limit]
    return page, (_token(scan, page[-1]) if len(ordered) > limit else None)


# ---------------------------------------------------------------------------------------------
# The Component
# ---------------------------------------------------------------------------------------------
def _snapshot(alarm: Any) -> StateSnapshot:
    return StateSnapshot(
        alarm.state_value,
        alarm.state_reason,
        alarm.state_reason_data,
        alarm.state_updated_timestamp,
    )


def _set_initial_state(alarm: Any) -> None:
    alarm.state_value = INSUFFICIENT_DATA
    alarm.state_reason = INITIAL_REASON
    alarm.state_reason_data = None


class _MetricIndex:
    """moto's metric data per (namespace, name), sorted by time, caught up incrementally.

    moto keeps one append-only list per backend; scanning it for every alarm at every tick
    would be quadratic over simulated days."""

    def __init__(self) -> None:
        self._seen: dict[int, tuple[Any, Any, int]] = {}  # id(backend) -> (backend, list, count)
        self._series: dict[tuple[int, str, str], tuple[list[datetime], list[Any]]] = {}

    def window(
        self, backend: Any, namespace: str, name: str, start: datetime, end: datetime
    ) -> list[Any]:
        """The backend's datums of one metric with start <= timestamp < end."""
        self._catch_up(backend)
        times, datums = self._series.get((id(backend), namespace, name), ([], []))
        return datums[bisect.bisect_left(times, start) : bisect.bisect_left(times, end)]

    def _catch_up(self, backend: Any) -> None:
        key = id(backend)
        data = backend.metric_data
        known_backend, known_list, count = self._seen.get(key, (None, None, 0))
        if known_backend is not backend or known_list is not data or len(data) < count:
            for series_key in [k for k in self._series if k[0] == key]:
                del self._series[series_key]  # moto was reset: start over
            count = 0
        for datum in data[count:]:
            moment = _as_utc(datum.timestamp)
            times, datums = self._series.setdefault((key, datum.namespace, datum.name), ([], []))
            at = bisect.bisect_right(times, moment)  # usually the end: data arrive in order
            times.insert(at, moment)
            datums.insert(at, datum)
        self._seen[key] = (backend, data, len(data))


@dataclass(frozen=True)
class _Metric:
    """What one alarm or metric query reads: a metric is its namespace, name and full set of
    dimensions (and, when given, its unit)."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    unit: str | None = None


def _alarm_metric(alarm: Any) -> _Metric:
    return _Metric(
        alarm.namespace,
        alarm.metric_name,
        tuple((d.name, d.value) for d in alarm.dimensions),
        alarm.unit,
    )


def _query_metric(query: MetricQuery) -> _Metric:
    assert query.namespace is not None and query.metric_name is not None
    return _Metric(query.namespace, query.metric_name, query.dimensions, query.unit)


def check_math_alarm(kwargs: dict[str, Any]) -> None:
    """PutMetricAlarm with Metrics: CloudWatch's rules (Metrics excludes MetricName, Namespace,
    Statistic, Period; one query returns data) and the twin's (only the metric math it can
    evaluate). moto's ValidationError, as CloudWatch answers."""
    from moto.cloudwatch.exceptions import ValidationError

    single = [
        key
        for key in ("metric_name", "namespace", "statistic", "extended_statistic", "period")
        if kwargs.get(key)
    ]
    try:
        if single:
            raise UnsupportedExpression(
                f"Metrics cannot be combined with {', '.join(single)} (a metric math alarm names "
                "its metrics in MetricStat)"
            )
        validate_queries([query_of(q) for q in kwargs["metric_data_queries"]])
    except UnsupportedExpression as error:
        raise ValidationError(str(error)) from error


@dataclass(frozen=True)
class Transition:
    alarm_name: str
    previous: str
    state: str
    reason: str


class AlarmTwin(Component):
    """Evaluates CloudWatch metric alarms on every clock tick and acts on state changes."""

    name = "alarms"

    def __init__(self, twin: Host) -> None:
        super().__init__(twin)
        self._lock = threading.RLock()
        self._patches = Patcher("feecast_twin.alarms")
        self._skipped: set[str] = set()
        self._index = _MetricIndex()
        #: (account, region) -> alarm history, kept here: CloudWatch keeps it after a delete.
        self._history: dict[tuple[str, str], list[HistoryItem]] = {}
        self._history_sequence = 0

    # -- install / uninstall -------------------------------------------------------------------
    def install(self, twin: Host) -> None:
        from moto.cloudwatch.models import CloudWatchBackend

        component = self
        original_put = CloudWatchBackend.put_metric_alarm
        original_set = CloudWatchBackend.set_alarm_state

        def put_metric_alarm(backend: Any, *args: Any, **kwargs: Any) -> Any:
            name = kwargs.get("name", args[0] if args else None)
            if kwargs.get("metric_data_queries"):
                check_math_alarm(kwargs)
            previous = backend.alarms.get(name)
            alarm = original_put(backend, *args, **kwargs)
            if previous is not None and previous is not alarm:
                # An update keeps the alarm's state (moto builds a fresh object).
                alarm.state_value = previous.state_value
                alarm.state_reason = previous.state_reason
                alarm.state_reason_data = previous.state_reason_data
                alarm.state_updated_timestamp = previous.state_updated_timestamp
                alarm.history = previous.history
            else:
                _set_initial_state(alarm)  # AWS: a new alarm starts in INSUFFICIENT_DATA
            return alarm

        def set_alarm_state(
            backend: Any, alarm_name: str, reason: str, reason_data: str, state_value: str
        ) -> None:
            with component._lock:
                alarm = backend.alarms.get(alarm_name)
                previous = _snapshot(alarm) if alarm is not None else None
                original_set(backend, alarm_name, reason, reason_data, state_value)
            if previous is not None and previous.value != state_value:
                component._after_change(backend, alarm, previous, source="SetAlarmState")

        self._patches.replace(
            CloudWatchBackend,
            "put_metric_alarm",
            put_metric_alarm,
            reason="CloudWatch starts a new alarm in INSUFFICIENT_DATA and keeps its state "
            "through an update; moto starts it OK; and it refuses metric math it cannot run "
            "(the twin: what it cannot evaluate)",
        )
        self._patches.replace(
            CloudWatchBackend,
            "set_alarm_state",
            set_alarm_state,
            reason="on CloudWatch a SetAlarmState change is kept in the history, emits the "
            "state-change event and runs the alarm's actions",
        )
        self._install_history_api()

        # Alarms the template created before install() got moto's "OK": start them right.
        for _, alarm in self._alarms():
            if alarm.state_reason == INITIAL_REASON and not alarm.history:
                _set_initial_state(alarm)

    def _install_history_api(self) -> None:
        """DescribeAlarmHistory on moto's response class: in-process boto3 and the moto
        server (`feecast local serve`) dispatch to the same class."""
        from moto.cloudwatch.exceptions import CloudWatchException, ValidationError
        from moto.cloudwatch.responses import CloudWatchResponse
        from moto.core.responses import ActionResult

        component = self

        def describe_alarm_history(response: Any) -> ActionResult:
            try:
                page, token = query_history(
                    component.history(response.current_account, response.region),
                    alarm_name=response._get_param("AlarmName"),
                    alarm_types=response._get_param("AlarmTypes"),
                    history_item_type=response._get_param("HistoryItemType"),
                    start=response._get_param("StartDate"),
                    end=response._get_param("EndDate"),
                    max_records=response._get_param("MaxRecords"),
                    next_token=response._get_param("NextToken"),
                    scan_by=response._get_param("ScanBy"),
                )
            except InvalidNextToken as error:
                # moto finds the error's shape from the exception's module: a cloudwatch one.
                raise CloudWatchException("InvalidNextToken", str(error)) from error
            except ValueError as error:
                raise ValidationError(str(error)) from error
            result: dict[str, Any] = {"AlarmHistoryItems": [item.to_api() for item in page]}
            if token:
                result["NextToken"] = token
            return ActionResult(result)

        self._patches.add(
            CloudWatchResponse,
            "describe_alarm_history",
            describe_alarm_history,
            reason="moto 5.2.5 has no DescribeAlarmHistory; the twin keeps the history CloudWatch "
            "keeps",
        )

    def uninstall(self) -> None:
        self._patches.undo()

    # -- alarm history ---------------------------------------------------------------------------
    def history(self, account_id: str, region: str) -> list[HistoryItem]:
        """The alarm history of one account and region, oldest first (a copy)."""
        with self._lock:
            return list(self._history.get((account_id, region), []))

    def _remember(
        self, backend: Any, alarm: Any, previous: StateSnapshot, current: StateSnapshot
    ) -> None:
        with self._lock:
            self._history_sequence += 1
            item = state_update_item(
                self._history_sequence,
                alarm.name,
                "CompositeAlarm" if alarm.rule else "MetricAlarm",
                previous,
                current,
            )
            key = (backend.account_id, backend.region_name)
            self._history.setdefault(key, []).append(item)

    # -- clock -----------------------------------------------------------------------------------
    def on_tick(self, now: datetime) -> None:
        self.evaluate_all(now)

    def evaluate_all(self, now: datetime) -> list[Transition]:
        """Evaluate every metric alarm at `now`; apply and return the state changes."""
        transitions = []
        for backend, alarm in self._alarms():
            rule = self._rule(alarm)
            if rule is None:
                continue
            with self._lock:
                if alarm.metric_data_queries:
                    queries = [query_of(q) for q in alarm.metric_data_queries]
                    by_query = {
                        q.id: list(self._samples(backend, _query_metric(q), rule, now))
                        for q in queries
                        if q.metric_name is not None
                    }
                    evaluation = evaluate_math_alarm(
                        rule, queries, by_query, now, alarm.state_value
                    )
                else:
                    samples = list(self._samples(backend, _alarm_metric(alarm), rule, now))
                    evaluation = evaluate_alarm(rule, samples, now, alarm.state_value)
                if evaluation.state is None or evaluation.state == alarm.state_value:
                    continue
                previous = _snapshot(alarm)
                alarm.update_state(
                    evaluation.reason,
                    json.dumps(evaluation.reason_data, separators=(",", ":")),
                    evaluation.state,
                )
                alarm.state_updated_timestamp = _as_utc(now).replace(tzinfo=None)
            transitions.append(
                Transition(alarm.name, previous.value, evaluation.state, evaluation.reason)
            )
            self._after_change(backend, alarm, previous, source="evaluation")
        return transitions

    # -- internals -------------------------------------------------------------------------------
    @staticmethod
    def _alarms() -> Iterator[tuple[Any, Any]]:
        from moto.cloudwatch.models import cloudwatch_backends

        for account_backends in list(cloudwatch_backends.values()):
            for backend in list(account_backends.values()):
                for alarm in list(backend.alarms.values()):
                    yield backend, alarm

    def _skip(self, alarm: Any, why: str) -> None:
        if alarm.alarm_arn not in self._skipped:
            self._skipped.add(alarm.alarm_arn)
            self.twin.record("alarm-skipped", name=alarm.name, reason=why)

    def _rule(self, alarm: Any) -> AlarmRule | None:
        if alarm.rule:
            self._skip(alarm, "composite alarms are not evaluated by the twin")
            return None
        try:
            if alarm.metric_data_queries:
                queries = [query_of(q) for q in alarm.metric_data_queries]
                validate_queries(queries)
                period = next(q.period for q in queries if q.period is not None)
                statistic = None
            else:
                period, statistic = int(alarm.period), alarm_statistic(alarm)
            return AlarmRule(
                period=period,
                evaluation_periods=int(alarm.evaluation_periods),
                threshold=float(alarm.threshold),
                comparison_operator=alarm.comparison_operator,
                statistic=statistic,
                datapoints_to_alarm=int(alarm.datapoints_to_alarm)
                if alarm.datapoints_to_alarm
                else None,
                treat_missing_data=alarm.treat_missing_data,
            )
        except (TypeError, ValueError) as error:
            self._skip(alarm, f"not evaluated: {error}")
            return None

    def _samples(
        self, backend: Any, metric: _Metric, rule: AlarmRule, now: datetime
    ) -> Iterator[Sample]:
        end = evaluation_end(now, rule.period)
        start = end - timedelta(seconds=rule.period * rule.range_size)
        wanted = sorted(metric.dimensions)
        for datum in self._index.window(backend, metric.namespace, metric.name, start, end):
            # A metric is its full dimension set: no subset matching, unlike moto's filter.
            if sorted((d.name, d.value) for d in datum.dimensions) != wanted:
                continue
            if metric.unit and datum.unit != metric.unit:
                continue
            moment = _as_utc(datum.timestamp)
            if hasattr(datum, "value"):
                yield Sample(moment, value=float(datum.value))
            else:
                yield Sample(
                    moment,
                    stats=(
                        float(datum.sample_count),
                        float(datum.sum),
                        float(datum.min),
                        float(datum.max),
                    ),
                )

    def _after_change(self, backend: Any, alarm: Any, previous: StateSnapshot, source: str) -> None:
        """Record, emit the state-change event, run the actions (outside the lock)."""
        current = _snapshot(alarm)
        self._remember(backend, alarm, previous, current)
        self.twin.record(
            "alarm",
            name=alarm.name,
            previous=previous.value,
            state=current.value,
            reason=current.reason,
            source=source,
        )
        if alarm.rule:
            return  # composite alarms are not evaluated by the twin
        self.twin.emit_event(
            source="aws.cloudwatch",
            detail_type="CloudWatch Alarm State Change",
            detail=state_change_detail(alarm, previous, current),
            resources=[alarm.alarm_arn],
            time=_as_utc(current.timestamp),
        )
        if not alarm.actions_enabled:
            return
        actions = {
            ALARM: alarm.alarm_actions,
            OK: alarm.ok_actions,
            INSUFFICIENT_DATA: alarm.insufficient_data_actions,
        }[current.value]
        for action in actions or []:
            self._run_action(backend, alarm, action, previous, current)

    def _run_action(
        self, backend: Any, alarm: Any, action: str, previous: StateSnapshot, current: StateSnapshot
    ) -> None:
        from moto.sns.models import sns_backends

        parts = action.split(":")
        if len(parts) < 6 or parts[2] != "sns":
            self.twin.record("alarm-action", name=alarm.name, action=action, status="unsupported")
            return
        region, account_id = parts[3], parts[4]
        subject, message = sns_alarm_message(
            alarm, backend.account_id, backend.region_name, previous, current
        )
        try:
            sns_backends[account_id][region].publish(message, arn=action, subject=subject)
        except Exception as error:  # a missing topic fails the action, not the clock
            self.twin.record(
                "alarm-action", name=alarm.name, action=action, status="failed", error=repr(error)
            )
            return
        self.twin.record("alarm-action", name=alarm.name, action=action, status="published")
