"""Rollback: bring the previously approved model back to production.

Two ways in, one path: `feecast rollback` (start_rollback with trigger "manual") and a deployed
package being rejected (handle_package_rejected, from PackageRejectedRule). Both start the
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
from feecast.deploy.ports import DeployState, Executions, Notifier, Once, Packages
from feecast.deploy.settings import DeploySettings
from feecast.deploy.start import IDEMPOTENCY_SECONDS
from feecast.events import PackageDetail
from feecast.lifecycle import DetailType, lifecycle_event
from feecast.observability import logger


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


def _running_deployments_of(
    executions: Executions, state_machine_arn: str, version: int
) -> list[str]:
    prefix = f"v{version}-"
    return [arn for arn, name in executions.running(state_machine_arn) if name.startswith(prefix)]


def handle_package_rejected(
    event: PackageDetail,
    event_time: datetime | str | None,
    *,
    state_machine_arn: str,
    idempotency_table: str,
    settings: DeploySettings,
    ports: RollbackPorts,
    once: Once,
    context: Any = None,
) -> RollbackStart:
    """A package was rejected: stop its running deployment; roll back if production serves it.

    Idempotent: once per (package, rejection time) through Powertools Idempotency, and the
    rollback execution's name is derived from the same pair.
    """
    decision = trigger.classify(
        event.detail(), wanted_status=trigger.REJECTED, group=settings.model_package_group_name
    )
    if not decision.act:
        return RollbackStart(started=False, reason=decision.reason)
    key = {
        "model_package_arn": event.model_package_arn,
        "status": event.model_approval_status,
        "rejected_at": event.changed_at(event_time).isoformat(),
    }
    result = once.run_once(
        table=idempotency_table,
        name="package-rejected",
        key=key,
        expires_after_seconds=IDEMPOTENCY_SECONDS,
        call=lambda: _handle_rejected(
            event, event_time, state_machine_arn, settings, ports
        ).model_dump(),
        lambda_context=context,
    )
    return RollbackStart.model_validate(result)


def _handle_rejected(
    event: PackageDetail,
    event_time: datetime | str | None,
    state_machine_arn: str,
    settings: DeploySettings,
    ports: RollbackPorts,
) -> RollbackStart:
    stopped = []
    for arn in _running_deployments_of(ports.executions, state_machine_arn, event.version):
        # Before production changes this ends the deployment cleanly; a production update
        # already requested is followed by the rollback below once it is recorded.
        ports.executions.stop(arn, "PackageRejected", f"{event.model_package_arn} was rejected")
        stopped.append(arn)
    live = outcome.current(ports.state, "production")
    if live is None or live.package_arn != event.model_package_arn:
        reason = "the rejected package is not what production serves: nothing to roll back"
        if stopped:
            subject = f"feecast: deployment of rejected model v{event.version} stopped"
            ports.notifier.notify(
                settings.notification_topic_arn,
                subject,
                f"Model package version {event.version} was rejected while being deployed; the deployment was stopped. "
                "Production keeps serving its current model.",
                {"stopped": stopped},
                event=lifecycle_event(
                    DetailType.DEPLOYMENT_STOPPED,
                    project=settings.project_name,
                    outcome="stopped",
                    summary=subject,
                    model_package_arn=event.model_package_arn,
                    facts={"stopped": stopped},
                ),
            )
        return RollbackStart(started=False, reason=reason, stopped_executions=stopped)
    key = f"v{event.version}-{names.stamp(event.changed_at(event_time))}"
    try:
        result = start_rollback(
            trigger_name="rejected",
            key=key,
            reason=f"model package v{event.version}, serving in production, was rejected",
            state_machine_arn=state_machine_arn,
            settings=settings,
            ports=ports,
        )
    except LookupError as exc:
        subject = f"feecast: rejected model v{event.version} is still in production"
        ports.notifier.notify(
            settings.notification_topic_arn,
            subject,
            f"Model package version {event.version} was rejected, but {exc}. Production keeps serving it; "
            "approve another package to replace it.",
            {"model_package_arn": event.model_package_arn},
            event=lifecycle_event(
                DetailType.ROLLBACK_NOT_POSSIBLE,
                project=settings.project_name,
                outcome="not_possible",
                summary=subject,
                stage="production",
                model_package_arn=event.model_package_arn,
                facts={"reason": str(exc), "stopped": stopped},
            ),
        )
        return RollbackStart(started=False, reason=str(exc), stopped_executions=stopped)
    return result.model_copy(update={"stopped_executions": stopped})


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
