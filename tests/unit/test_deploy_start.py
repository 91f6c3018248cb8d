"""Start Deploy: one ModelDeploy execution per approval, on in-memory ports."""

from __future__ import annotations

from typing import Any

from feecast.deploy.start_deploy import start_deploy
from feecast.events import PackageDetail

from tests.support.deploy import DEPLOY_MACHINE, GROUP, package, package_arn, start_settings
from tests.support.fakes import FakeExecutions, FakeOnce, FakePackages

APPROVED_AT = "2026-01-05T10:15:00Z"


def event(**overrides: Any) -> PackageDetail:
    return PackageDetail.model_validate(
        {
            "ModelPackageArn": package_arn(7),
            "ModelPackageGroupName": GROUP,
            "ModelPackageVersion": 7,
            "ModelApprovalStatus": "Approved",
            "UpdatedModelPackageFields": ["ModelApprovalStatus"],
            "LastModifiedTime": APPROVED_AT,
            **overrides,
        }
    )


class World:
    def __init__(self, *packages: dict[str, Any]) -> None:
        self.packages = FakePackages(*packages)
        self.executions = FakeExecutions()
        self.once = FakeOnce()

    def start(self, e: PackageDetail | None = None) -> Any:
        return start_deploy(
            e or event(),
            None,
            start_settings(),
            packages=self.packages,
            executions=self.executions,
            once=self.once,
        )


def test_given_an_approval_then_one_deployment_starts_named_after_it() -> None:
    w = World(package(7))
    result = w.start()
    assert result.started and result.reason == "deployment started"
    assert result.execution_name == "v7-20260105T101500"
    assert result.execution_arn == FakeExecutions.arn_of(DEPLOY_MACHINE, "v7-20260105T101500")
    [started] = w.executions.executions.values()
    assert started["payload"] == {
        "mode": "deploy",
        "deployment_id": "v7-20260105T101500",
        "model_package_arn": package_arn(7),
        "model_package_version": 7,
        "model_package_group": GROUP,
        "approved_at": "2026-01-05T10:15:00+00:00",
    }


def test_given_the_same_event_twice_then_the_first_result_is_returned_and_nothing_starts() -> None:
    w = World(package(7))
    first = w.start()
    assert w.start() == first
    assert w.once.calls == 1 and w.executions.started() == ["v7-20260105T101500"]


def test_given_the_idempotency_record_expired_then_step_functions_refuses_the_name() -> None:
    w = World(package(7))
    w.start()
    w.once = FakeOnce()  # the record expired (24 h)
    again = w.start()
    assert not again.started and again.reason == "deployment already started for this approval"
    assert w.executions.started() == ["v7-20260105T101500"]


def test_given_another_group_then_the_event_is_ignored_before_any_call() -> None:
    w = World(package(7))
    result = w.start(event(ModelPackageGroupName="someone-elses"))
    assert not result.started and "is not 'feecast-models'" in result.reason
    assert w.once.calls == 0 and w.executions.executions == {}


def test_given_an_update_of_other_fields_then_no_deployment_starts() -> None:
    w = World(package(7))
    result = w.start(event(UpdatedModelPackageFields=["CustomerMetadataProperties"]))
    assert not result.started and "without an approval status change" in result.reason
    assert w.executions.executions == {}


def test_given_a_rejection_then_no_deployment_starts() -> None:
    w = World(package(7, status="Rejected"))
    result = w.start(event(ModelApprovalStatus="Rejected"))
    assert not result.started and w.executions.executions == {}


def test_given_the_package_deleted_since_then_nothing_starts() -> None:
    w = World()
    result = w.start()
    assert (result.started, result.reason) == (False, "package no longer exists")
    assert w.executions.executions == {}


def test_given_the_package_rejected_since_then_nothing_starts() -> None:
    w = World(package(7, status="Rejected"))
    result = w.start()
    assert not result.started and result.reason == "package is now Rejected, not Approved"
    assert w.executions.executions == {}
