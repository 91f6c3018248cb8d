"""Rollback (`feecast rollback`, a deployed package rejected), on in-memory ports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from feecast.deploy import rollback
from feecast.deploy.history import NothingToRollBackTo
from feecast.deploy.on_package_rejected import handle_package_rejected
from feecast.deploy.record_deployment import record_deployment
from feecast.events import PackageDetail

from tests.support.deploy import (
    DEPLOY_MACHINE,
    GROUP,
    deploy_settings,
    package,
    package_arn,
)
from tests.support.fakes import (
    FakeExecutions,
    FakeNotifier,
    FakeOnce,
    FakePackages,
    FakeState,
)

REJECTED_AT = "2026-01-06T09:00:00Z"


class World:
    def __init__(self, *packages: dict[str, Any]) -> None:
        self.executions = FakeExecutions()
        self.notifier = FakeNotifier()
        self.ports = rollback.RollbackPorts(
            state=FakeState(),
            packages=FakePackages(*packages),
            executions=self.executions,
            notifier=self.notifier,
        )
        self.once = FakeOnce()

    def deployed(self, *versions: int) -> None:
        """Production served these versions, in order (the last one now)."""
        for i, version in enumerate(versions):
            record_deployment(
                stage="production",
                model_package_arn=package_arn(version),
                execution=f"exec-{i}",
                mode="deploy",
                endpoint={},
                reason="",
                settings=deploy_settings(),
                state=self.ports.state,
                notifier=FakeNotifier(),
            )

    def manual(self, now: datetime) -> rollback.RollbackStart:
        return rollback.manual_rollback(
            reason="bad forecasts",
            state_machine_arn=DEPLOY_MACHINE,
            settings=deploy_settings(),
            ports=self.ports,
            now=now,
        )

    def rejected(self, version: int, group: str = GROUP) -> rollback.RollbackStart:
        event = PackageDetail.model_validate(
            {
                "ModelPackageArn": package_arn(version),
                "ModelPackageGroupName": group,
                "ModelPackageVersion": version,
                "ModelApprovalStatus": "Rejected",
                "UpdatedModelPackageFields": ["ModelApprovalStatus"],
                "LastModifiedTime": REJECTED_AT,
            }
        )
        return handle_package_rejected(
            event,
            None,
            state_machine_arn=DEPLOY_MACHINE,
            idempotency_table="feecast-idempotency",
            settings=deploy_settings(),
            ports=self.ports,
            once=self.once,
        )


NOON = datetime(2026, 1, 6, 12, 0, 30, tzinfo=UTC)


def test_a_manual_rollback_redeploys_the_previous_approved_package_once_a_minute() -> None:
    w = World(package(5), package(6), package(7))
    w.deployed(5, 6, 7)
    started = w.manual(NOON)
    assert started.started and started.target_package_arn == package_arn(6)
    assert started.execution_name == "rollback-manual-20260106T120000"
    [execution] = w.executions.executions.values()
    assert execution["payload"]["mode"] == "rollback"
    assert execution["payload"]["rolled_back_package_arn"] == package_arn(7)
    again = w.manual(NOON.replace(second=59))
    assert not again.started and again.reason == "a rollback for this trigger already started"
    assert len(w.executions.executions) == 1


def test_a_target_no_longer_approved_or_deleted_is_skipped() -> None:
    w = World(package(4), package(5, status="Rejected"), package(7))  # 6 was deleted
    w.deployed(4, 5, 6, 7)
    current, target = rollback.choose_target(w.ports.state, w.ports.packages)
    assert current is not None and current.version == 7
    assert target.version == 4


def test_with_no_earlier_approved_package_there_is_nothing_to_roll_back_to() -> None:
    w = World(package(7))
    w.deployed(7)
    with pytest.raises(NothingToRollBackTo):
        w.manual(NOON)
    assert w.executions.executions == {}


def test_a_rejected_package_serving_production_is_rolled_back_once() -> None:
    w = World(package(6), package(7, status="Rejected"))
    w.deployed(6, 7)
    result = w.rejected(7)
    assert result.started and result.target_package_arn == package_arn(6)
    assert result.execution_name == "rollback-rejected-v7-20260106T090000"
    assert w.rejected(7) == result  # the same event again
    assert w.once.calls == 1 and len(w.executions.executions) == 1


def test_a_rejected_package_being_deployed_is_stopped_and_production_kept() -> None:
    w = World(package(6), package(7, status="Rejected"))
    w.deployed(6)
    running, _ = w.executions.start(DEPLOY_MACHINE, "v7-20260105T101500", {})
    other, _ = w.executions.start(DEPLOY_MACHINE, "v8-20260105T111500", {})
    result = w.rejected(7)
    assert not result.started and "not what production serves" in result.reason
    assert result.stopped_executions == [running]
    assert w.executions.stopped == [(running, "PackageRejected", f"{package_arn(7)} was rejected")]
    assert w.executions.executions[other]["status"] == "RUNNING"
    assert w.notifier.subjects() == ["feecast: deployment of rejected model v7 stopped"]


def test_a_rejected_package_not_deployed_anywhere_changes_nothing() -> None:
    w = World(package(6), package(7, status="Rejected"))
    w.deployed(6)
    result = w.rejected(7)
    assert not result.started and result.stopped_executions == []
    assert w.notifier.sent == [] and w.executions.executions == {}


def test_a_rejected_package_with_nothing_to_go_back_to_is_reported() -> None:
    w = World(package(7, status="Rejected"))
    w.deployed(7)
    result = w.rejected(7)
    assert not result.started and "nothing to roll back to" in result.reason
    assert w.notifier.subjects() == ["feecast: rejected model v7 is still in production"]


def test_a_rejection_in_another_group_is_ignored() -> None:
    w = World(package(6), package(7))
    w.deployed(6, 7)
    result = w.rejected(7, group="someone-elses")
    assert not result.started and w.once.calls == 0 and w.executions.executions == {}
