"""The accuracy alarm definition (pure)."""

from __future__ import annotations

import pytest
from feecast.monitor.definitions import accuracy_alarm
from feecast.monitor.names import stage_of_endpoint

TOPIC = "arn:aws:sns:eu-west-1:123456789012:feecast-notifications"


def test_the_alarm_follows_the_validation_config() -> None:
    alarm = accuracy_alarm(
        project="feecast", stage="staging", threshold=0.21, breaches=3, topic_arn=TOPIC
    )
    assert alarm["AlarmName"] == "feecast-staging-accuracy"
    # The loss pooled over the last hours: the scale of the threshold the backtest gave.
    assert (alarm["Namespace"], alarm["MetricName"]) == ("feecast", "RollingWeightedQuantileLoss")
    assert alarm["Dimensions"] == [
        {"Name": "Stage", "Value": "staging"},
        {"Name": "EndpointName", "Value": "feecast-staging"},
    ]
    assert (alarm["Statistic"], alarm["Period"]) == ("Maximum", 3600)
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 3
    assert alarm["Threshold"] == 0.21
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [TOPIC]


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
