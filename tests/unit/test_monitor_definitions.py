"""The accuracy alarm definition and the schedule update request (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from feecast.monitor.definitions import accuracy_alarm, schedule_update_request
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


def test_get_schedule_output_is_sent_back_whole_with_only_the_state_changed() -> None:
    current = {
        "Arn": "arn:aws:scheduler:eu-west-1:123456789012:schedule/default/feecast-staging-monitoring",
        "Name": "feecast-staging-monitoring",
        "GroupName": "default",
        "ScheduleExpression": "cron(0 * * * ? *)",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {
            "Arn": "arn:fn",
            "RoleArn": "arn:role",
            "Input": "{}",
            "RetryPolicy": {"MaximumRetryAttempts": 3},
        },
        "State": "DISABLED",
        "Description": "hourly",
        "StartDate": datetime(2025, 1, 1, tzinfo=UTC),
        "CreationDate": datetime(2025, 1, 1, tzinfo=UTC),
        "LastModificationDate": datetime(2025, 1, 1, tzinfo=UTC),
        "KmsKeyArn": None,
    }
    request = schedule_update_request(current, "ENABLED", now=datetime(2026, 1, 5, tzinfo=UTC))
    assert request["State"] == "ENABLED"
    assert request["Target"] == current["Target"] and request["Description"] == "hourly"
    for dropped in ("Arn", "CreationDate", "LastModificationDate", "KmsKeyArn", "StartDate"):
        assert dropped not in request


def test_a_schedule_missing_required_fields_is_not_sent_back_half_done() -> None:
    with pytest.raises(ValueError, match="Target"):
        schedule_update_request(
            {"Name": "x", "ScheduleExpression": "rate(1 hour)", "FlexibleTimeWindow": {}}, "ENABLED"
        )


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
