"""A notification that SNS cannot take, for publishers whose work is done (the build failure
report, "Record The Deployment", the deploy outcome notes): logged, counted as
NotificationsFailed, never raised; the outcome's own metric is counted before publishing. And
the approval-timeout message gives advice the CLI accepts (reject, then approve)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from feecast.adapters import notify as notify_module
from feecast.adapters.notify import notify_or_count
from feecast.deploy.report_outcome import report_outcome
from feecast.deploy.settings import DeploySettings
from feecast.lifecycle import DetailType, lifecycle_event
from feecast.observability import metrics

SETTINGS = DeploySettings(
    project_name="feecast",
    ssm_prefix="/feecast",
    state_table="state",
    notification_topic_arn="arn:aws:sns:eu-west-1:123456789012:feecast-notifications",
    model_package_group_name="feecast-models",
    staging_endpoint_name="feecast-staging",
    production_endpoint_name="feecast-production",
)


EVENT = lifecycle_event(DetailType.BUILD_FAILED, project="feecast", outcome="failed", summary="x")


class FakeSns:
    """SNS and EventBridge (put_events) in one fake."""

    def __init__(self, down: bool) -> None:
        self.down = down
        self.published: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.events += Entries
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"} for _ in Entries]}

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        if self.down:
            raise ClientError(
                {"Error": {"Code": "Throttled", "Message": "Rate exceeded"}}, "Publish"
            )
        self.published.append(kwargs)
        return {"MessageId": "m-1"}


@pytest.fixture
def sns(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSns]:
    fake = FakeSns(down=True)
    monkeypatch.setattr(notify_module, "_sns", lambda: fake)
    monkeypatch.setattr(notify_module, "_events", lambda: fake)
    metrics.clear_metrics()
    yield fake
    metrics.clear_metrics()


def counted() -> dict[str, float]:
    return {name: sum(m["Value"]) for name, m in metrics.metric_set.items()}


def test_given_sns_down_then_the_failure_is_counted_and_returned_not_raised(sns: FakeSns) -> None:
    lost = notify_or_count(SETTINGS.notification_topic_arn, "feecast: x", "body", event=EVENT)
    assert lost is not None and lost.startswith("ClientError:") and "Throttled" in lost
    assert counted() == {"NotificationsFailed": 1.0}


def test_given_sns_up_then_it_publishes_and_counts_nothing(sns: FakeSns) -> None:
    sns.down = False
    assert (
        notify_or_count(SETTINGS.notification_topic_arn, "feecast: x", "body", event=EVENT) is None
    )
    assert [p["Subject"] for p in sns.published] == ["feecast: x"] and counted() == {}


@pytest.mark.parametrize(
    ("outcome", "metric"),
    [
        ("approved", "ApprovalsGranted"),
        ("rejected", "ApprovalsRejected"),
        ("timed_out", "ApprovalsTimedOut"),
        ("failed", "DeploymentsFailed"),
    ],
)
def test_given_sns_down_when_a_deployment_outcome_is_reported_then_it_is_still_counted(
    sns: FakeSns, outcome: str, metric: str
) -> None:
    result = report_outcome(
        outcome=outcome,  # type: ignore[arg-type]
        deployment={"model_package_version": 3, "model_package_arn": "arn:...:3"},
        execution="arn:exec",
        failed_step="production" if outcome == "failed" else None,
        settings=SETTINGS,
        notifier=notify_module,
    )
    assert counted() == {metric: 1.0, "NotificationsFailed": 1.0}
    assert "Throttled" in (result.notification_not_sent or "")


def test_the_timeout_message_says_how_to_deploy_the_package_after_all(sns: FakeSns) -> None:
    sns.down = False
    report_outcome(
        outcome="timed_out",
        deployment={"model_package_version": 7},
        execution="arn:exec",
        failed_step=None,
        settings=SETTINGS,
        notifier=notify_module,
    )
    [published] = sns.published
    [event] = sns.events
    assert event["DetailType"] == "Approval Expired"
    assert published["MessageAttributes"]["outcome"]["StringValue"] == "timed_out"
    # `feecast approve --package 7` alone is refused for an Approved package.
    assert "feecast reject --package 7, then feecast approve --package 7" in published["Message"]
    assert "approve the package again" not in published["Message"]
