"""OnPackageRejectedFunction: a deployed package is rejected (PackageRejectedRule) -> stop the
deployments of it that still run, then roll production back to the previously approved model
(rollback.start_rollback, the path `feecast rollback` takes too), once per rejection.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from feecast.deploy import names, outcome, trigger
from feecast.deploy.ports import Executions
from feecast.deploy.rollback import RollbackPorts, RollbackStart, start_rollback
from feecast.deploy.settings import DeploySettings
from feecast.deploy.start_deploy import IDEMPOTENCY_SECONDS
from feecast.events import PackageDetail
from feecast.lifecycle import DetailType, lifecycle_event
from feecast.ports import Once


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
