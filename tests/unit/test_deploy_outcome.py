"""Record The Deployment and the outcome reports, on in-memory ports."""

from __future__ import annotations

from typing import Any

import pytest
from feecast.deploy import names, outcome
from feecast.deploy.record_deployment import record_deployment
from feecast.deploy.report_outcome import report_outcome
from feecast.observability import metrics

from tests.support.deploy import TOPIC, deploy_settings, package_arn
from tests.support.fakes import FakeNotifier, FakeState

ENDPOINT = {
    "endpoint_name": "feecast-production",
    "endpoint_config_name": "feecast-production-v7-x",
    "guardrails": "blue/green, all at once, bake 600 s, auto-rollback on no alarm",
}


@pytest.fixture(autouse=True)
def _metrics() -> Any:
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


def counted() -> dict[str, float]:
    return {name: sum(m["Value"]) for name, m in metrics.metric_set.items()}


def record(
    state: FakeState, notifier: FakeNotifier, version: int, execution: str, mode: str = "deploy"
) -> Any:
    return record_deployment(
        stage="production",
        model_package_arn=package_arn(version),
        execution=execution,
        mode=mode,
        endpoint=ENDPOINT,
        reason="",
        settings=deploy_settings(),
        state=state,
        notifier=notifier,
    )


def test_given_a_deployment_then_history_and_current_say_what_production_serves() -> None:
    state, notifier = FakeState(), FakeNotifier()
    record(state, notifier, 6, "exec-6")
    latest = record(state, notifier, 7, "exec-7")
    assert latest.version == 7 and latest.previous_package_arn == package_arn(6)
    assert latest.endpoint_config == "feecast-production-v7-x"
    assert outcome.current(state, "production") == latest
    assert [r.version for r in outcome.history(state, "production")] == [7, 6]
    assert notifier.subjects() == [
        "feecast: production now serves model v6",
        "feecast: production now serves model v7",
    ]
    assert notifier.sent[-1]["facts"]["guardrails"] == ENDPOINT["guardrails"]
    assert counted() == {"DeploymentsSucceeded": 2.0}


def test_given_the_step_is_retried_then_nothing_is_written_or_sent_again() -> None:
    state, notifier = FakeState(), FakeNotifier()
    first = record(state, notifier, 7, "exec-7")
    writes = state.writes
    assert record(state, notifier, 7, "exec-7") == first
    assert state.writes == writes and len(notifier.sent) == 1


def test_given_a_rollback_then_it_is_counted_and_told_as_one() -> None:
    state, notifier = FakeState(), FakeNotifier()
    rolled = record(state, notifier, 6, "rollback-manual-x", mode="rollback")
    assert rolled.mode == "rollback"
    assert notifier.subjects() == ["feecast: production rolled back to model v6"]
    assert counted() == {"Rollbacks": 1.0}


def test_given_sns_down_then_the_deployment_is_still_recorded() -> None:
    state, notifier = FakeState(), FakeNotifier(down=True)
    record(state, notifier, 7, "exec-7")
    assert outcome.current(state, "production") is not None
    assert notifier.lost == ["feecast: production now serves model v7"]


def test_given_nothing_deployed_then_there_is_no_current_record() -> None:
    state = FakeState()
    assert outcome.current(state, "production") is None
    assert outcome.history(state, "production") == []
    assert (f"{names.DEPLOY_PREFIX}production", names.CURRENT_SK) not in state.items


@pytest.mark.parametrize(
    ("result", "metric", "subject"),
    [
        ("approved", "ApprovalsGranted", "feecast: model v7 approved, deploying to production"),
        ("rejected", "ApprovalsRejected", "feecast: model v7 rejected, production unchanged"),
        (
            "timed_out",
            "ApprovalsTimedOut",
            "feecast: approval of model v7 timed out, production unchanged",
        ),
        ("failed", "DeploymentsFailed", "feecast: deployment of model v7 failed"),
    ],
)
def test_each_outcome_is_counted_and_notified(result: str, metric: str, subject: str) -> None:
    notifier = FakeNotifier()
    answer = report_outcome(
        outcome=result,
        deployment={"model_package_version": 7, "approval": {"by": "ana"}},
        execution="exec-7",
        failed_step=None,
        settings=deploy_settings(),
        notifier=notifier,
    )
    assert answer.model_dump(exclude_none=True) == {"outcome": result, "execution": "exec-7"}
    assert counted() == {metric: 1.0}
    [sent] = notifier.sent
    assert (sent["topic"], sent["subject"]) == (TOPIC, subject)


def test_a_failure_says_what_it_means_for_production_and_the_threshold() -> None:
    notifier = FakeNotifier()
    report_outcome(
        outcome="failed",
        deployment={
            "model_package_version": 7,
            "error": {
                "Error": "EndpointFailed",
                "Cause": '{"errorType": "EndpointFailed", "errorMessage": "image not found"}',
            },
            "threshold": {"changed": True, "old_threshold": 0.24, "new_threshold": 0.2},
        },
        execution="exec-7",
        failed_step="before-production",
        settings=deploy_settings(),
        notifier=notifier,
    )
    message = notifier.sent[0]["message"]
    assert "EndpointFailed - EndpointFailed: image not found" in message
    assert "Production was not touched." in message
    assert "from 0.24 to 0.2 before staging" in message


def test_given_sns_down_then_the_report_says_so_instead_of_failing() -> None:
    answer = report_outcome(
        outcome="rejected",
        deployment={"model_package_version": 7},
        execution="exec-7",
        failed_step=None,
        settings=deploy_settings(),
        notifier=FakeNotifier(down=True),
    )
    assert answer.notification_not_sent == "RuntimeError: SNS is down"
    assert counted() == {"ApprovalsRejected": 1.0}
