"""Rollback: bring the previously approved model back to production.

Two ways in, one path: `feecast rollback` (start_rollback with trigger "manual") and a deployed
package being rejected (on_package_rejected.handle_package_rejected, from PackageRejectedRule). Both start the
ModelDeploy state machine in mode "rollback", which redeploys the target package to production
(all at once: a rollback should not bake), waits for InService, records and notifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from feecast.deploy import names, outcome, trigger
from feecast.deploy.history import DeploymentRecord, rollback_target
from feecast.deploy.ports import DeployState, Executions, Packages
from feecast.deploy.settings import DeploySettings
from feecast.observability import logger
from feecast.ports import Notifier


class RollbackStart(BaseModel):
    started: bool
    reason: str
    target_package_arn: str | None = None
    execution_name: str | None = None
    execution_arn: str | None = None
    stopped_executions: list[str] = []


@dataclass(frozen=True)
class RollbackPorts:
    """What a rollback reads and starts (the handler and the CLI wire the real adapters)."""

    state: DeployState
    packages: Packages
    executions: Executions
    notifier: Notifier


def _still_approved(packages: Packages, arn: str) -> bool:
    try:
        return packages.describe(arn).get("ModelApprovalStatus") == trigger.APPROVED
    except Exception:  # a deleted package cannot come back
        logger.warning("package not describable, skipped as rollback target", extra={"arn": arn})
        return False


def choose_target(
    state: DeployState, packages: Packages, stage: str = "production"
) -> tuple[DeploymentRecord | None, DeploymentRecord]:
    """(current, target). NothingToRollBackTo when there is no earlier approved package."""
    now = outcome.current(state, stage)
    target = rollback_target(
        outcome.history(state, stage),
        now.package_arn if now else None,
        lambda arn: _still_approved(packages, arn),
    )
    return now, target


def start_rollback(
    *,
    trigger_name: str,
    key: str,
    reason: str,
    state_machine_arn: str,
    settings: DeploySettings,
    ports: RollbackPorts,
) -> RollbackStart:
    """Start one rollback execution per (trigger, key); returns what it will deploy."""
    now, target = choose_target(ports.state, ports.packages)
    name = names.rollback_execution_name(trigger_name, key)
    payload = {
        "mode": "rollback",
        "deployment_id": name,
        "model_package_arn": target.package_arn,
        "model_package_version": target.version,
        "model_package_group": settings.model_package_group_name,
        "rolled_back_package_arn": now.package_arn if now else None,
        "reason": reason,
    }
    arn, new = ports.executions.start(state_machine_arn, name, payload)
    logger.info("rollback started" if new else "rollback already started", extra=payload)
    return RollbackStart(
        started=new,
        reason=reason if new else "a rollback for this trigger already started",
        target_package_arn=target.package_arn,
        execution_name=name,
        execution_arn=arn,
    )


def manual_rollback(
    *,
    reason: str,
    state_machine_arn: str,
    settings: DeploySettings,
    ports: RollbackPorts,
    now: datetime | None = None,
) -> RollbackStart:
    """`feecast rollback`: one rollback per minute at most (the execution name carries it)."""
    moment = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    return start_rollback(
        trigger_name="manual",
        key=names.stamp(moment),
        reason=reason or "manual rollback",
        state_machine_arn=state_machine_arn,
        settings=settings,
        ports=ports,
    )


def summary(records: list[DeploymentRecord]) -> list[dict[str, Any]]:
    return [r.to_item() for r in records]
