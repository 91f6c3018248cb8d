"""The AWS-namespace metrics the twin writes as the services would (feecast_twin.awsmetrics):
what the template's dead-letter-queue alarms and the lifecycle dashboard read on AWS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any


def test_given_a_message_in_a_dead_letter_queue_then_its_depth_is_published_and_the_alarm_fires(
    twin: Any,
) -> None:
    sqs = twin.client("sqs")
    url = twin.outputs["EventDeadLetterQueueUrl"]
    name = url.rsplit("/", 1)[-1]
    dims = {"QueueName": name}
    twin.advance(timedelta(minutes=2))
    # An idle, empty queue publishes nothing (as AWS stops sending an inactive queue's metrics).
    assert twin.metric_data("AWS/SQS", "ApproximateNumberOfMessagesVisible", dims) == []

    sqs.send_message(QueueUrl=url, MessageBody='{"failed": "event"}')
    twin.advance(timedelta(minutes=2))
    depths = [v for _, v in twin.metric_data("AWS/SQS", "ApproximateNumberOfMessagesVisible", dims)]
    assert depths and set(depths) == {1.0}
    alarm = twin.client("cloudwatch").describe_alarms(AlarmNames=["feecast-events-dlq-not-empty"])
    assert alarm["MetricAlarms"][0]["StateValue"] == "ALARM"
    twin.wait_for_sns(
        lambda m: "feecast-events-dlq-not-empty" in (m["subject"] or ""),
        what="the dead-letter queue alarm's message",
    )

    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    twin.advance(timedelta(minutes=6))
    depths = [v for _, v in twin.metric_data("AWS/SQS", "ApproximateNumberOfMessagesVisible", dims)]
    assert depths[-1] == 0.0 and depths.count(0.0) == 1  # once when it empties, then silence
    alarm = twin.client("cloudwatch").describe_alarms(AlarmNames=["feecast-events-dlq-not-empty"])
    assert alarm["MetricAlarms"][0]["StateValue"] == "OK"


def test_executions_are_counted_per_state_machine(twin: Any) -> None:
    """A build that fails at once (no feature data) counts as started and failed."""
    arn = twin.start_execution("ModelBuildStateMachine", {"trigger": "manual", "dedup_key": "m"})
    assert twin.wait_for_execution(arn)["status"] == "FAILED"
    dims = {"StateMachineArn": twin.physical_id("ModelBuildStateMachine")}
    assert [v for _, v in twin.metric_data("AWS/States", "ExecutionsStarted", dims)] == [1.0]
    assert [v for _, v in twin.metric_data("AWS/States", "ExecutionsFailed", dims)] == [1.0]
    assert twin.metric_data("AWS/States", "ExecutionsSucceeded", dims) == []
    # and the build's events: started, then failed
    kinds = [e["detail_type"] for e in twin.bus_events(source="feecast")]
    assert kinds == ["Build Started", "Build Failed"]
