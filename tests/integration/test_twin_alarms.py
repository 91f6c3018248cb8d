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
