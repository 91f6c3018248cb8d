"""Faults after which people heard something untrue, or a finished deployment was called a
failure (issue 9, the runbook review): each test injects the fault on the twin and asserts the
side effects (executions, records, metrics, notifications), not only the absence of errors.

- Step Functions throttled when a build starts: the retry must start the build (one), and the
  retraining notification must say "build started", not "build already started".
- SNS down once production is updated: the deployment is recorded and SUCCEEDED; the lost
  notifications are counted (NotificationsFailed) and the outcome metrics still are.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import drivers

pytestmark = pytest.mark.slow

ALARM = "feecast-staging-accuracy"  # the alarm of events/retrain-accuracy-alarm.json


def build_executions(twin: Any) -> list[dict[str, Any]]:
    sfn = twin.client("stepfunctions")
    return sfn.list_executions(stateMachineArn=twin.physical_id("ModelBuildStateMachine"))[
        "executions"
    ]


def state_item(twin: Any, pk: str, sk: str) -> dict[str, str] | None:
    item = (
        twin.client("dynamodb")
        .get_item(
            TableName=twin.physical_id("StateTable"),
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return None if item is None else {k: next(iter(v.values())) for k, v in item.items()}


def total(twin: Any, metric: str, service: str) -> float:
    return sum(v for _, v in twin.metric_data("feecast", metric, {"service": service}))


# -- 1: a build start that fails is retried, not "duplicate" -------------------------------------
def test_given_start_execution_throttled_when_an_alarm_retrains_then_lambdas_retry_starts_it(
    twin: Any, load_event: Any
) -> None:
    # Every attempt of the first invocation's client (standard mode: 3), then Step Functions is
    # back: Lambda's asynchronous retry (the twin's: at once; AWS: about a minute later, well
    # inside start_build's 5-minute lock grace) is the one that must start the build.
    throttle = twin.faults.fail("stepfunctions", "StartExecution", times=3)
    report = twin.send_event(load_event("retrain-accuracy-alarm.json"))
    twin.settle()

    assert throttle.injected == 3
    [run] = [t for t in report.targets if t.rule.startswith("RetrainOnAlarmFunction")]
    assert (run.status, run.attempts) == ("SUCCEEDED", 2), run.to_dict()
    assert run.result["outcome"] == "started"
    [build] = build_executions(twin)
    assert build["name"].startswith(f"alarm-{ALARM}-")
    notices = [
        m["subject"]
        for m in twin.sns_messages()
        if (m["subject"] or "").startswith(f"feecast: {ALARM}")
    ]
    assert notices == [f"feecast: {ALARM} ALARM - build started"]
    episode = state_item(twin, f"MONITOR#ALARM#{ALARM}", "EPISODE")
    assert episode is not None and episode["build_status"] == "started"
    assert episode["execution_arn"] == build["executionArn"]
    assert state_item(twin, "BUILD#LOCK", "LOCK")["execution_arn"] == build["executionArn"]  # type: ignore[index]
    assert total(twin, "RetrainingsStarted", "retrain") == 1
    assert total(twin, "RetrainingsSuppressed", "retrain") == 0


def test_given_start_execution_throttled_when_the_schedule_starts_a_build_then_a_redelivery_starts_it(
    twin: Any,
) -> None:
    from feecast_twin.core import TwinInvokeError

    throttle = twin.faults.fail("stepfunctions", "StartExecution", times=3)
    run = {"trigger": "schedule", "scheduled_time": "2026-01-05T12:00:00Z"}
    with pytest.raises(TwinInvokeError, match="ThrottlingException"):
        twin.invoke("StartBuildFunction", run)
    assert build_executions(twin) == []
    # Nothing of the failed start is left to make the next delivery a "duplicate".
    assert state_item(twin, "BUILD#schedule-2026-01-05T12:00Z", "TRIGGER") is None
    assert state_item(twin, "BUILD#LOCK", "LOCK") is None

    again = twin.invoke("StartBuildFunction", run)
    assert throttle.injected == 3
    assert again["status"] == "started", again
    assert [e["name"] for e in build_executions(twin)] == [again["execution_name"]]
    assert twin.invoke("StartBuildFunction", run)["status"] == "duplicate"  # and only once


# -- 3: SNS down once production is updated ------------------------------------------------------
@pytest.fixture
def bound(twin: Any) -> Iterator[Any]:
    from feecast.adapters import clients

    clients.use_session(None)
    yield twin
    clients.use_session(None)


def test_given_sns_down_after_the_approval_then_production_is_deployed_recorded_and_counted(
    bound: Any, model_tar: bytes
) -> None:
    from feecast.adapters.state_table import StateTable
    from feecast.deploy import outcome

    twin = bound
    package = drivers.register(twin, model_tar, loss=0.2, key="v1")
    drivers.approve_package(twin, package)  # staging, smoke test, then the links are sent
    links = drivers.approval_links(twin)
    topic = twin.physical_id("NotificationTopic")
    lost = (
        "feecast: model v1 approved, deploying to production",
        "feecast: production now serves model v1",
    )
    sns_down = twin.faults.fail(
        "sns",
        "Publish",
        code="Throttled",
        times=None,
        when=lambda p: p.get("TopicArn") == topic and p.get("Subject") in lost,
    )
    response = drivers.follow(twin, links["approve"])
    assert response["statusCode"] == 200, response["body"]
    twin.settle(timeout=300)

    [run] = drivers.deploy_executions(twin)
    final = twin.wait_for_execution(run["executionArn"], timeout=120)
    assert final["status"] == "SUCCEEDED", final
    history = twin.client("stepfunctions").get_execution_history(
        executionArn=run["executionArn"], maxResults=1000
    )["events"]
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    ]
    assert "Record The Deployment" in entered and "Report The Failure" not in entered
    assert sns_down.injected == 2 * 3  # both notes, each with the SDK's 3 attempts
    current = outcome.current(StateTable(twin.physical_id("StateTable")), "production")
    assert current is not None and current.package_arn == package
    endpoint = twin.client("sagemaker").describe_endpoint(EndpointName="feecast-production")
    assert endpoint["EndpointStatus"] == "InService"
    subjects = [m["subject"] for m in twin.sns_messages()]
    assert not [s for s in subjects if s in lost or "failed" in (s or "")], subjects
    # Counted although not sent: the decision, the deployment, and the two lost notes.
    assert total(twin, "ApprovalsGranted", "deploy") == 1
    assert total(twin, "DeploymentsSucceeded", "deploy") == 1
    assert total(twin, "DeploymentsFailed", "deploy") == 0
    assert total(twin, "NotificationsFailed", "deploy") == 2
