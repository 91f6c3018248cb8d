"""CloudWatch alarms on the twin: evaluated from metric data (EMF included) on the twin clock,
with the state-change event delivered to a rule's target and the SNS actions published.

A small template of its own: a Lambda function that prints the loss as EMF (as Powertools
Metrics does), an alarm on that metric with SNS actions, and a function started by an
EventBridge rule on the alarm's ALARM state.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feecast_twin.core import Twin

START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
ALARM_NAME = "test-loss-too-high"
ALARM_ARN = f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{ALARM_NAME}"
TEMPLATE = f"""
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  AlarmTopic:
    Type: AWS::SNS::Topic
  PublishLossFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/
      Handler: publish.lambda_handler
      Runtime: python3.12
  LossAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: {ALARM_NAME}
      AlarmDescription: The forecasts drifted away from the real fees.
      Namespace: feecast-test
      MetricName: MeanWeightedQuantileLoss
      Dimensions: [{{Name: Stage, Value: production}}]
      Statistic: Average
      Period: 3600
      EvaluationPeriods: 3
      DatapointsToAlarm: 3
      Threshold: 0.3
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
      AlarmActions: [!Ref AlarmTopic]
      OKActions: [!Ref AlarmTopic]
  OnAlarmFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/
      Handler: on_alarm.lambda_handler
      Runtime: python3.12
      Events:
        AccuracyAlarm:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [aws.cloudwatch]
              detail-type: [CloudWatch Alarm State Change]
              resources: [!GetAtt LossAlarm.Arn]
              detail:
                state:
                  value: [ALARM]
Outputs:
  ProjectName:  # how `feecast logs` finds the project's alarms ("test-...")
    Value: test
"""
PUBLISH = """
import json, time

def lambda_handler(event, context):
    print(json.dumps({
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{
                "Namespace": "feecast-test",
                "Dimensions": [["Stage"]],
                "Metrics": [{"Name": "MeanWeightedQuantileLoss", "Unit": "None"}],
            }],
        },
        "Stage": "production",
        "MeanWeightedQuantileLoss": event["loss"],
    }))
    return {"published": event["loss"]}
"""
ON_ALARM = """
import json

def lambda_handler(event, context):
    print("EVENT " + json.dumps(event))
    return {"alarm": event["detail"]["alarmName"]}
"""


@pytest.fixture
def twin(tmp_path: Path) -> Iterator[Twin]:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "publish.py").write_text(PUBLISH)
    (tmp_path / "functions" / "on_alarm.py").write_text(ON_ALARM)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    with Twin(template=tmp_path / "template.yaml", start=START) as deployed:
        yield deployed


def alarm(twin: Twin) -> dict:
    return twin.client("cloudwatch").describe_alarms(AlarmNames=[ALARM_NAME])["MetricAlarms"][0]


def received_events(twin: Twin) -> list[dict]:
    return [
        json.loads(line[len("EVENT ") :])
        for logs in twin.lambda_logs("OnAlarmFunction")
        for line in logs.splitlines()
        if line.startswith("EVENT ")
    ]


def test_a_new_alarm_starts_with_insufficient_data(twin: Twin) -> None:
    described = alarm(twin)
    assert described["StateValue"] == "INSUFFICIENT_DATA"
    assert described["StateReason"] == "Unchecked: Initial alarm creation"


def test_hourly_loss_drives_the_alarm_from_ok_to_alarm(twin: Twin) -> None:
    """Given an hourly loss metric (EMF) and a 3-of-3 alarm on it, when the loss stays low for
    three hours and then high for three, then the alarm goes OK -> ALARM once, its event
    reaches the rule's function and the ALARM action is published to the topic."""
    twin.advance(timedelta(minutes=1))  # first evaluation: no data, treated as not breaching
    assert alarm(twin)["StateValue"] == "OK"

    for hour, loss in enumerate([0.1, 0.1, 0.1, 0.5, 0.5, 0.5]):
        twin.invoke("PublishLossFunction", {"loss": loss})
        twin.advance(timedelta(hours=1), step=timedelta(minutes=15))
        expected = "ALARM" if hour == 5 else "OK"
        assert alarm(twin)["StateValue"] == expected, hour

    described = alarm(twin)
    assert described["StateReason"].startswith(
        "Threshold Crossed: 3 out of the last 3 datapoints [0.5 ("
    )
    assert "(minimum 3 datapoints for OK -> ALARM transition)" in described["StateReason"]
    reason_data = json.loads(described["StateReasonData"])
    assert reason_data["recentDatapoints"] == [0.5, 0.5, 0.5]
    assert (reason_data["period"], reason_data["threshold"]) == (3600, 0.3)
    assert described["StateUpdatedTimestamp"].astimezone(UTC) >= START + timedelta(hours=5)

    transitions = [(r["previous"], r["state"]) for r in twin.records_of("alarm")]
    assert transitions == [("INSUFFICIENT_DATA", "OK"), ("OK", "ALARM")]

    [event] = received_events(twin)  # the rule matches ALARM only, delivered once
    assert event["source"] == "aws.cloudwatch"
    assert event["detail-type"] == "CloudWatch Alarm State Change"
    assert event["resources"] == [ALARM_ARN]
    detail = event["detail"]
    assert detail["alarmName"] == ALARM_NAME
    assert detail["state"]["value"] == "ALARM"
    assert detail["previousState"]["value"] == "OK"
    assert isinstance(detail["state"]["reasonData"], str)  # a JSON string, as AWS sends it
    assert json.loads(detail["state"]["reasonData"])["recentDatapoints"] == [0.5, 0.5, 0.5]
    assert detail["state"]["timestamp"].endswith("+0000")
    [metric] = detail["configuration"]["metrics"]
    assert metric["metricStat"] == {
        "metric": {
            "dimensions": {"Stage": "production"},
            "name": "MeanWeightedQuantileLoss",
            "namespace": "feecast-test",
        },
        "period": 3600,
        "stat": "Average",
    }
    assert metric["returnData"] is True
    assert (
        detail["configuration"]["description"] == "The forecasts drifted away from the real fees."
    )

    messages = [m["json"] for m in twin.sns_messages("AlarmTopic")]
    assert [m["NewStateValue"] for m in messages] == ["OK", "ALARM"]
    assert messages[1]["OldStateValue"] == "OK"
    assert messages[1]["AlarmArn"] == ALARM_ARN
    assert messages[1]["Trigger"]["MetricName"] == "MeanWeightedQuantileLoss"
    assert messages[1]["Trigger"]["Dimensions"] == [{"value": "production", "name": "Stage"}]
    assert twin.sns_messages("AlarmTopic")[1]["subject"] == (
        f'ALARM: "{ALARM_NAME}" in EU (Ireland)'
    )


def test_set_alarm_state_emits_the_event_and_runs_the_actions(twin: Twin) -> None:
    cloudwatch = twin.client("cloudwatch")
    cloudwatch.set_alarm_state(
        AlarmName=ALARM_NAME, StateValue="ALARM", StateReason="testing the retrain path"
    )
    twin.settle()
    [event] = received_events(twin)
    assert event["detail"]["state"]["reason"] == "testing the retrain path"
    assert event["detail"]["previousState"]["value"] == "INSUFFICIENT_DATA"
    assert [m["json"]["NewStateValue"] for m in twin.sns_messages("AlarmTopic")] == ["ALARM"]

    # The same state again changes nothing: no event, no action.
    cloudwatch.set_alarm_state(AlarmName=ALARM_NAME, StateValue="ALARM", StateReason="again")
    twin.settle()
    assert len(received_events(twin)) == 1

    # Actions disabled: the event is still emitted (EventBridge), SNS is not used.
    cloudwatch.disable_alarm_actions(AlarmNames=[ALARM_NAME])
    cloudwatch.set_alarm_state(AlarmName=ALARM_NAME, StateValue="OK", StateReason="manual")
    twin.settle()
    assert [r["state"] for r in twin.records_of("alarm")] == ["ALARM", "OK"]
    assert len(twin.sns_messages("AlarmTopic")) == 1
    ok_events = [r for r in twin.records_of("event") if r["resources"] == [ALARM_ARN]]
    assert len(ok_events) == 2


def test_updating_an_alarm_keeps_its_state(twin: Twin) -> None:
    cloudwatch = twin.client("cloudwatch")
    cloudwatch.set_alarm_state(AlarmName=ALARM_NAME, StateValue="ALARM", StateReason="test")
    described = alarm(twin)
    kept = "Namespace MetricName Dimensions Statistic Period EvaluationPeriods ComparisonOperator"
    settings = {key: described[key] for key in (*kept.split(), "TreatMissingData", "AlarmActions")}
    cloudwatch.put_metric_alarm(AlarmName=ALARM_NAME, Threshold=0.4, **settings)
    assert (alarm(twin)["StateValue"], alarm(twin)["Threshold"]) == ("ALARM", 0.4)


# ---------------------------------------------------------------------------------------------
# DescribeAlarmHistory (moto 5.2.5 has none; the alarms component answers it)
# ---------------------------------------------------------------------------------------------
def drive_ok_then_alarm(twin: Twin) -> None:
    """INSUFFICIENT_DATA -> OK at the first evaluation, OK -> ALARM after three high hours."""
    twin.advance(timedelta(minutes=1))
    for loss in [0.1, 0.1, 0.1, 0.5, 0.5, 0.5]:
        twin.invoke("PublishLossFunction", {"loss": loss})
        twin.advance(timedelta(hours=1), step=timedelta(minutes=15))
    assert alarm(twin)["StateValue"] == "ALARM"


def test_alarm_history_lists_the_state_updates_driven_by_metric_data(twin: Twin) -> None:
    """Given an alarm that went INSUFFICIENT_DATA -> OK -> ALARM from its metric data, when
    DescribeAlarmHistory is called, then it lists both StateUpdates, newest first, shaped as
    CloudWatch's (HistoryData a JSON string with oldState / newState), and honours its filters."""
    drive_ok_then_alarm(twin)
    cloudwatch = twin.client("cloudwatch")

    items = cloudwatch.describe_alarm_history(AlarmName=ALARM_NAME)["AlarmHistoryItems"]

    assert [item["HistorySummary"] for item in items] == [
        "Alarm updated from OK to ALARM",
        "Alarm updated from INSUFFICIENT_DATA to OK",
    ]
    latest = items[0]
    assert latest["AlarmName"] == ALARM_NAME
    assert latest["AlarmType"] == "MetricAlarm"
    assert latest["HistoryItemType"] == "StateUpdate"
    described = alarm(twin)
    assert latest["Timestamp"] == described["StateUpdatedTimestamp"]
    data = json.loads(latest["HistoryData"])
    assert data["version"] == "1.0"
    assert data["oldState"]["stateValue"] == "OK"
    # The old state is the first evaluation's (no data yet, treated as not breaching).
    assert data["oldState"]["stateReason"].startswith("Threshold Crossed: no datapoints were")
    assert data["oldState"]["stateReasonData"]["recentDatapoints"] == []
    assert data["newState"] == {
        "stateValue": "ALARM",
        "stateReason": described["StateReason"],
        "stateReasonData": json.loads(described["StateReasonData"]),
    }
    assert data["newState"]["stateReasonData"]["recentDatapoints"] == [0.5, 0.5, 0.5]
    first = json.loads(items[1]["HistoryData"])
    assert first["oldState"] == {
        "stateValue": "INSUFFICIENT_DATA",
        "stateReason": "Unchecked: Initial alarm creation",
    }

    # Filters: order, item type, alarm type, dates, unknown alarm.
    ascending = cloudwatch.describe_alarm_history(ScanBy="TimestampAscending")["AlarmHistoryItems"]
    assert [i["HistorySummary"] for i in ascending] == [i["HistorySummary"] for i in items[::-1]]
    assert (
        cloudwatch.describe_alarm_history(HistoryItemType="StateUpdate")["AlarmHistoryItems"]
        == items
    )
    for empty in (
        {"HistoryItemType": "ConfigurationUpdate"},
        {"AlarmTypes": ["CompositeAlarm"]},
        {"AlarmName": "no-such-alarm"},
        {"StartDate": latest["Timestamp"] + timedelta(seconds=1)},
        {"EndDate": items[1]["Timestamp"] - timedelta(seconds=1)},
    ):
        assert cloudwatch.describe_alarm_history(**empty)["AlarmHistoryItems"] == [], empty
    window = cloudwatch.describe_alarm_history(
        StartDate=latest["Timestamp"], EndDate=latest["Timestamp"]
    )["AlarmHistoryItems"]
    assert window == [latest]  # both bounds inclusive

    # Pages of one: NextToken walks the same items, then stops.
    page = cloudwatch.describe_alarm_history(AlarmName=ALARM_NAME, MaxRecords=1)
    assert page["AlarmHistoryItems"] == [latest] and page["NextToken"]
    rest = cloudwatch.describe_alarm_history(
        AlarmName=ALARM_NAME, MaxRecords=1, NextToken=page["NextToken"]
    )
    assert rest["AlarmHistoryItems"] == [items[1]] and "NextToken" not in rest
    paged = [
        item
        for answer in cloudwatch.get_paginator("describe_alarm_history").paginate(
            AlarmName=ALARM_NAME, PaginationConfig={"PageSize": 1}
        )
        for item in answer["AlarmHistoryItems"]
    ]
    assert paged == items


def test_alarm_history_records_set_alarm_state_and_outlives_the_alarm(twin: Twin) -> None:
    cloudwatch = twin.client("cloudwatch")
    cloudwatch.set_alarm_state(
        AlarmName=ALARM_NAME, StateValue="ALARM", StateReason="testing the retrain path"
    )
    changed_at = alarm(twin)["StateUpdatedTimestamp"]
    # The same state again is no state update.
    cloudwatch.set_alarm_state(AlarmName=ALARM_NAME, StateValue="ALARM", StateReason="again")
    twin.settle()

    [item] = cloudwatch.describe_alarm_history(AlarmName=ALARM_NAME)["AlarmHistoryItems"]

    assert item["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    assert json.loads(item["HistoryData"]) == {
        "version": "1.0",
        "oldState": {
            "stateValue": "INSUFFICIENT_DATA",
            "stateReason": "Unchecked: Initial alarm creation",
        },
        "newState": {"stateValue": "ALARM", "stateReason": "testing the retrain path"},
    }
    assert item["Timestamp"] == changed_at
    assert START <= item["Timestamp"] <= twin.clock.now()

    cloudwatch.delete_alarms(AlarmNames=[ALARM_NAME])  # CloudWatch keeps the history
    assert cloudwatch.describe_alarm_history(AlarmName=ALARM_NAME)["AlarmHistoryItems"] == [item]


def test_alarm_history_rejects_bad_requests_as_cloudwatch(twin: Twin) -> None:
    cloudwatch = twin.client("cloudwatch")
    with pytest.raises(cloudwatch.exceptions.InvalidNextToken):
        cloudwatch.describe_alarm_history(NextToken="not-a-token")
    with pytest.raises(cloudwatch.exceptions.ClientError) as error:
        cloudwatch.describe_alarm_history(MaxRecords=101)
    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert "maxRecords" in error.value.response["Error"]["Message"]


def test_alarm_history_answers_through_moto_server(twin: Twin) -> None:
    """`feecast local serve` runs moto's server: DescribeAlarmHistory answers there too."""
    pytest.importorskip("flask", reason="moto[server] (flask) is not installed")
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        cloudwatch = boto3.client(
            "cloudwatch", region_name="eu-west-1", endpoint_url=f"http://{host}:{port}"
        )
        cloudwatch.set_alarm_state(AlarmName=ALARM_NAME, StateValue="OK", StateReason="served")
        [item] = cloudwatch.describe_alarm_history(AlarmName=ALARM_NAME)["AlarmHistoryItems"]
    finally:
        server.stop()
    assert item["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to OK"
    assert json.loads(item["HistoryData"])["newState"]["stateReason"] == "served"


def test_feecast_logs_lists_the_alarm_transitions(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given the alarm's transitions on the twin, `feecast logs --json` (in this process, so on
    the twin) lists each one from DescribeAlarmHistory, not just the current state."""
    from feecast_cli.main import main

    monkeypatch.delenv("FEECAST_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("FEECAST_STACK_NAME", raising=False)
    drive_ok_then_alarm(twin)

    assert main(["logs", "--json"]) == 0

    events = json.loads(capsys.readouterr().out)
    alarms = [(e["subject"], e["status"]) for e in events if e["source"] == "alarm"]
    assert alarms == [(ALARM_NAME, "OK"), (ALARM_NAME, "ALARM")]


def test_closing_the_twin_removes_describe_alarm_history(tmp_path: Path) -> None:
    """The patch is undone on close (and moto 5.2.5 still has no DescribeAlarmHistory: when an
    upgrade adds one, this fails and the twin's version should be revisited)."""
    from moto.cloudwatch.responses import CloudWatchResponse

    (tmp_path / "template.yaml").write_text("Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n")
    with Twin(template=tmp_path / "template.yaml", start=START):
        assert "describe_alarm_history" in vars(CloudWatchResponse)
    assert not hasattr(CloudWatchResponse, "describe_alarm_history")


# ---------------------------------------------------------------------------------------------
# Metric math alarms (issue 17: the accuracy alarm compares two published metrics)
# ---------------------------------------------------------------------------------------------
MATH_ALARM = "test-loss-above-limit"


def math_queries(expression: str = "loss - limit") -> list[dict]:
    def metric(query_id: str, name: str) -> dict:
        return {
            "Id": query_id,
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": "feecast-test",
                    "MetricName": name,
                    "Dimensions": [{"Name": "Stage", "Value": "production"}],
                },
                "Period": 3600,
                "Stat": "Maximum",
            },
        }

    return [
        metric("loss", "Loss"),
        metric("limit", "Limit"),
        {"Id": "excess", "Expression": expression, "Label": "over", "ReturnData": True},
    ]


def put_math_alarm(twin: Twin, **overrides: object) -> None:
    settings: dict = {
        "AlarmName": MATH_ALARM,
        "Metrics": math_queries(),
        "EvaluationPeriods": 2,
        "DatapointsToAlarm": 2,
        "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": [twin.physical_id("AlarmTopic")],
    }
    settings.update(overrides)
    twin.client("cloudwatch").put_metric_alarm(**settings)


def publish(twin: Twin, loss: float, limit: float) -> None:
    twin.client("cloudwatch").put_metric_data(
        Namespace="feecast-test",
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": "Stage", "Value": "production"}],
                "Timestamp": twin.clock.now(),
                "Value": value,
            }
            for name, value in (("Loss", loss), ("Limit", limit))
        ],
    )


def math_state(twin: Twin) -> str:
    alarms = twin.client("cloudwatch").describe_alarms(AlarmNames=[MATH_ALARM])["MetricAlarms"]
    return str(alarms[0]["StateValue"])


def test_a_metric_math_alarm_follows_a_limit_published_with_the_metric(twin: Twin) -> None:
    """Given an alarm on "loss - limit" with both published hourly, when the published limit is
    lowered under an unchanged loss, then the alarm goes to ALARM after two hours of the new
    limit, without any change to the alarm; its event and SNS message carry the queries."""
    put_math_alarm(twin)
    for loss, limit, expected in [
        (0.3, 0.4, "OK"),
        (0.3, 0.4, "OK"),
        (0.3, 0.25, "OK"),  # one breaching hour of two
        (0.3, 0.25, "ALARM"),
    ]:
        publish(twin, loss, limit)
        twin.advance(timedelta(hours=1), step=timedelta(minutes=15))
        assert math_state(twin) == expected

    described = twin.client("cloudwatch").describe_alarms(AlarmNames=[MATH_ALARM])
    reason = json.loads(described["MetricAlarms"][0]["StateReasonData"])
    assert reason["recentDatapoints"] == [pytest.approx(0.05)] * 2 and reason["threshold"] == 0
    assert "statistic" not in reason  # metric math: no statistic of the alarm's own

    arn = f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{MATH_ALARM}"
    emitted = [r for r in twin.records_of("event") if r["resources"] == [arn]]
    assert len(emitted) == 2  # INSUFFICIENT_DATA -> OK, OK -> ALARM
    # The event's detail, as the twin emitted it (the fixture's rule matches the other alarm).
    from moto.cloudwatch.models import cloudwatch_backends

    from feecast_twin.alarms import _snapshot, state_change_detail

    moto_alarm = cloudwatch_backends["123456789012"]["eu-west-1"].alarms[MATH_ALARM]
    event = {
        "detail": state_change_detail(moto_alarm, _snapshot(moto_alarm), _snapshot(moto_alarm))
    }
    metrics = event["detail"]["configuration"]["metrics"]
    assert [m["id"] for m in metrics] == ["loss", "limit", "excess"]
    assert metrics[2] == {
        "id": "excess",
        "expression": "loss - limit",
        "label": "over",
        "returnData": True,
    }
    assert metrics[0]["metricStat"]["metric"]["name"] == "Loss"
    [message] = [
        m["json"] for m in twin.sns_messages("AlarmTopic") if m["json"]["AlarmName"] == MATH_ALARM
    ]
    assert message["NewStateValue"] == "ALARM"
    assert message["Trigger"]["Metrics"][2]["Expression"] == "loss - limit"
    assert message["Trigger"]["Period"] == 3600


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"Metrics": math_queries("FILL(loss, 0) - limit")}, "does not evaluate FILL()"),
        ({"Metrics": math_queries("loss - lmit")}, "reads unknown ids ['lmit']"),
        ({"Metrics": math_queries()[:2]}, "exactly one ReturnData true"),
        ({"MetricName": "Loss", "Namespace": "feecast-test"}, "Metrics cannot be combined"),
    ],
)
def test_metric_math_alarms_the_twin_cannot_evaluate_are_refused(
    twin: Twin, overrides: dict, why: str
) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as refused:
        put_math_alarm(twin, **overrides)
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert why in refused.value.response["Error"]["Message"]
    assert twin.client("cloudwatch").describe_alarms(AlarmNames=[MATH_ALARM])["MetricAlarms"] == []
