"""Nothing undelivered is lost silently (docs/operations.md, "When something fails"): every
EventBridge rule target retries and keeps what it cannot deliver in the events DLQ (which lets
exactly those rules send), and every dead-letter queue has an alarm that tells a person without
starting a retrain. Pure checks on the parsed template.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from feecast_twin.intrinsics import load_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_yaml((ROOT / "template.yaml").read_text())
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
DEFAULTS = {k: str(v.get("Default", "")) for k, v in TEMPLATE["Parameters"].items()}


def _sub(value: Any) -> str:
    """A `!Sub "..."` of template parameters, with their defaults."""
    text = value["Fn::Sub"]
    for name, default in DEFAULTS.items():
        text = text.replace(f"${{{name}}}", default)
    return str(text)


def _rule_events() -> dict[str, dict[str, Any]]:
    """ "<Function><Event>" (the logical id SAM gives the rule) -> the event's Properties."""
    return {
        f"{lid}{name}": event.get("Properties") or {}
        for lid, res in RESOURCES.items()
        if res["Type"] == "AWS::Serverless::Function"
        for name, event in (res["Properties"].get("Events") or {}).items()
        if event["Type"] == "EventBridgeRule"
    }


def _dead_letter_queues() -> set[str]:
    """Queues something sends its failures to: functions' DeadLetterQueue, targets' config."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("DeadLetterQueue", "DeadLetterConfig"):
                    ref = value.get("TargetArn") or value.get("Arn")
                    found.add(ref["Fn::GetAtt"][0])
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(RESOURCES)
    return found


RULES = _rule_events()
QUEUES = sorted(_dead_letter_queues())


def test_the_checks_see_the_rules_and_queues() -> None:
    assert len(RULES) >= 5
    assert QUEUES == ["EventDeadLetterQueue", "MonitoringDeadLetterQueue"]


@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_rule_target_retries_then_keeps_the_event_in_the_events_dlq(rule: str) -> None:
    props = RULES[rule]
    assert props["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert props["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["EventDeadLetterQueue", "Arn"]}}


def test_the_events_dlq_accepts_messages_from_exactly_those_rules() -> None:
    [policy] = [
        res["Properties"]
        for res in RESOURCES.values()
        if res["Type"] == "AWS::SQS::QueuePolicy"
        and res["Properties"]["Queues"] == [{"Ref": "EventDeadLetterQueue"}]
    ]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == {"Fn::GetAtt": ["EventDeadLetterQueue", "Arn"]}
    sources = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert sorted(s["Fn::GetAtt"][0] for s in sources) == sorted(RULES)


@pytest.mark.parametrize("queue", QUEUES)
def test_every_dead_letter_queue_alarms_to_people_when_it_holds_a_message(queue: str) -> None:
    alarms = [
        res["Properties"]
        for res in RESOURCES.values()
        if res["Type"] == "AWS::CloudWatch::Alarm"
        and res["Properties"].get("Namespace") == "AWS/SQS"
        and {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}
        in res["Properties"].get("Dimensions", [])
    ]
    [alarm] = alarms
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["AlarmActions"] == [{"Ref": "NotificationTopic"}]
    name = _sub(alarm["AlarmName"])
    assert alarm["AlarmName"]["Fn::Sub"].startswith("${ProjectName}-")
    # The retraining rule matches alarm names exactly: a DLQ alarm must not start a build.
    retrain = RESOURCES["RetrainOnAlarmFunction"]["Properties"]["Events"]["AccuracyAlarm"]
    names = retrain["Properties"]["Pattern"]["detail"]["alarmName"]
    assert all(isinstance(n, dict) and "Fn::Sub" in n for n in names)  # exact, not prefix
    assert name not in {_sub(n) for n in names}


def test_the_events_dlq_url_is_a_stack_output() -> None:
    assert TEMPLATE["Outputs"]["EventDeadLetterQueueUrl"]["Value"] == {
        "Ref": "EventDeadLetterQueue"
    }
