"""The accuracy alarms of template.yaml and the names the code shares with them (pure)."""

from __future__ import annotations

from typing import Any

import pytest
from feecast.monitor.names import (
    ROLLING_LOSS_METRIC,
    THRESHOLD_METRIC,
    alarm_name,
    endpoint_name,
    stage_of_alarm,
    stage_of_endpoint,
)

from tests.support.template import RESOLVER, RESOURCES

STAGES = {"StagingAccuracyAlarm": "staging", "ProductionAccuracyAlarm": "production"}


def alarm(logical_id: str) -> dict[str, Any]:
    resolved: dict[str, Any] = RESOLVER.resolve(RESOURCES[logical_id]["Properties"])
    return resolved


@pytest.mark.parametrize(("logical_id", "stage"), sorted(STAGES.items()))
def test_each_stage_has_its_alarm_with_the_name_the_code_and_the_rule_use(
    logical_id: str, stage: str
) -> None:
    props = alarm(logical_id)
    assert props["AlarmName"] == alarm_name("feecast", stage)
    assert stage_of_alarm("feecast", ("staging", "production"), props["AlarmName"]) == stage
    rule = RESOURCES["RetrainOnAlarmFunction"]["Properties"]["Events"]["AccuracyAlarm"]
    names = RESOLVER.resolve(rule["Properties"]["Pattern"]["detail"]["alarmName"])
    assert props["AlarmName"] in names


@pytest.mark.parametrize(("logical_id", "stage"), sorted(STAGES.items()))
def test_the_alarm_compares_the_rolling_loss_with_the_threshold_the_run_publishes(
    logical_id: str, stage: str
) -> None:
    props = alarm(logical_id)
    queries = {q["Id"]: q for q in props["Metrics"]}
    assert queries["excess"]["Expression"] == "loss - threshold"
    assert queries["excess"]["ReturnData"] is True
    dimensions = [
        {"Name": "Stage", "Value": stage},
        {"Name": "EndpointName", "Value": endpoint_name("feecast", stage)},
    ]
    for query_id, name in (("loss", ROLLING_LOSS_METRIC), ("threshold", THRESHOLD_METRIC)):
        stat = queries[query_id]["MetricStat"]
        assert queries[query_id]["ReturnData"] is False
        assert stat["Metric"] == {
            "Namespace": "feecast",
            "MetricName": name,
            "Dimensions": dimensions,
        }
        # One datapoint per hourly run; Maximum never hides a bad one.
        assert (stat["Period"], stat["Stat"]) == (3600, "Maximum")
    assert (props["Threshold"], props["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    # N of N hours; an hour without a rolling loss is not a breach (gaps never start a build).
    raw = RESOURCES[logical_id]["Properties"]
    assert raw["EvaluationPeriods"] == raw["DatapointsToAlarm"] == {"Ref": "AccuracyAlarmBreaches"}
    assert props["EvaluationPeriods"] == 2  # the parameter's default
    assert props["TreatMissingData"] == "notBreaching"
    assert props["AlarmActions"] == [RESOLVER.resolve({"Ref": "NotificationTopic"})]


@pytest.mark.parametrize(
    ("endpoint", "stage"),
    [
        ("feecast-staging", "staging"),
        ("FeeCast-Production", "production"),  # endpoint names are case-insensitive
        ("feecast-staging2", None),  # matched by the rule's prefix, not ours
        ("other-staging", None),
    ],
)
def test_only_the_projects_endpoints_have_a_stage(endpoint: str, stage: str | None) -> None:
    assert stage_of_endpoint("feecast", ("staging", "production"), endpoint) == stage
