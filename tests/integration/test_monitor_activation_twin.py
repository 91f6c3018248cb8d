"""Endpoint state changes on the twin: the real rule, handler, CloudWatch and SNS.

The hourly schedules and the accuracy alarms belong to the template (issue 16 defect 2, issue
17): endpoint events only switch the alarms' actions, never a schedule or an alarm's shape."""

from __future__ import annotations

from typing import Any

from tests.support.drivers import on_bus

STAGING_SCHEDULE = "feecast-staging-monitoring"


def schedule_state(twin: Any, name: str = STAGING_SCHEDULE) -> str:
    return str(twin.client("scheduler").get_schedule(Name=name)["State"])


def alarm(twin: Any, name: str = "feecast-staging-accuracy") -> dict[str, Any] | None:
    found = twin.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return found[0] if found else None


def activations(twin: Any) -> list[Any]:
    return [r for r in twin.records_of("lambda") if "ActivateMonitoring" in str(r.get("function"))]


def test_the_alarm_is_the_templates_and_in_service_leaves_it_and_the_schedules_as_deployed(
    twin: Any, load_event: Any
) -> None:
    # The template made the alarm at deploy, before any endpoint.
    deployed = alarm(twin)
    assert deployed is not None
    # Metric math: the rolling loss pooled over alarm_window_hours (issue 15) minus the
    # threshold each hourly run publishes (issue 17), above 0 for AccuracyAlarmBreaches hours.
    queries = {q["Id"]: q for q in deployed["Metrics"]}
    assert queries["excess"]["Expression"] == "loss - threshold"
    assert [q["Id"] for q in deployed["Metrics"] if q.get("ReturnData", True)] == ["excess"]
    assert [
        (
            queries[i]["MetricStat"]["Metric"]["MetricName"],
            queries[i]["MetricStat"]["Stat"],
            queries[i]["MetricStat"]["Period"],
        )
        for i in ("loss", "threshold")
    ] == [("RollingWeightedQuantileLoss", "Maximum", 3600), ("Threshold", "Maximum", 3600)]
    assert (deployed["Threshold"], deployed["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert deployed["EvaluationPeriods"] == deployed["DatapointsToAlarm"] == 2
    assert deployed["TreatMissingData"] == "notBreaching"
    assert deployed["AlarmActions"] == [twin.physical_id("NotificationTopic")]
    before = twin.client("scheduler").get_schedule(Name=STAGING_SCHEDULE)
    assert before["State"] == "ENABLED"

    twin.send_event(on_bus(load_event("monitor-endpoint-in-service.json")))

    after = twin.client("scheduler").get_schedule(Name=STAGING_SCHEDULE)
    assert after["LastModificationDate"] == before["LastModificationDate"]  # untouched
    assert schedule_state(twin, "feecast-production-monitoring") == "ENABLED"
    now = alarm(twin)
    assert now is not None and now["ActionsEnabled"] is True
    assert (
        now["AlarmConfigurationUpdatedTimestamp"] == deployed["AlarmConfigurationUpdatedTimestamp"]
    )
    assert len(twin.sns_messages()) == 1


def test_given_duplicate_events_in_both_spellings_then_one_activation_one_notification(
    twin: Any, load_event: Any
) -> None:
    first = load_event("monitor-endpoint-in-service.json")
    again = load_event("monitor-endpoint-in-service.json")
    again["id"] = "second-delivery"
    again["time"] = "2026-01-05T10:00:02Z"
    again["detail"]["EndpointStatus"] = "InService"
    twin.send_event(on_bus(first))
    twin.send_event(again)
    assert alarm(twin) is not None
    assert len(twin.sns_messages()) == 1


def test_given_failed_then_the_failure_reason_is_notified(twin: Any, load_event: Any) -> None:
    twin.send_event(on_bus(load_event("monitor-endpoint-failed.json")))
    (message,) = twin.sns_messages()
    assert "feecast-production FAILED" in message["subject"]
    assert "ping health check" in message["message"]
    production = alarm(twin, "feecast-production-accuracy")
    assert production is not None and production["ActionsEnabled"] is True  # left as it is


def test_given_deleting_then_the_alarm_actions_are_disabled(twin: Any, load_event: Any) -> None:
    twin.send_event(on_bus(load_event("monitor-endpoint-in-service.json")))
    twin.send_event(on_bus(load_event("monitor-endpoint-deleting.json")))
    assert schedule_state(twin) == "ENABLED"  # the run finds no endpoint and skips
    kept = alarm(twin)
    assert kept is not None and kept["ActionsEnabled"] is False

    # Back InService (a new deployment): the same alarm starts builds again.
    again = load_event("monitor-endpoint-in-service.json")
    again["detail"]["LastModifiedTime"] = 1767693600000.0  # a later change: not a duplicate
    twin.send_event(on_bus(again))
    back = alarm(twin)
    assert back is not None and back["ActionsEnabled"] is True


def test_other_systems_endpoints_are_ignored(twin: Any, load_event: Any) -> None:
    twin.client("cloudwatch").disable_alarm_actions(AlarmNames=["feecast-staging-accuracy"])
    other = load_event("monitor-endpoint-in-service.json")
    other["detail"]["EndpointName"] = "churn-model-prod"
    twin.send_event(on_bus(other))
    assert activations(twin) == []  # the rule did not match

    lookalike = load_event("monitor-endpoint-in-service.json")
    lookalike["detail"]["EndpointName"] = "feecast-staging-experiment"
    twin.send_event(on_bus(lookalike))  # matches the rule's prefix; the function ignores it
    assert len(activations(twin)) == 1
    untouched = alarm(twin)
    assert untouched is not None and untouched["ActionsEnabled"] is False
    assert twin.sns_messages() == []
