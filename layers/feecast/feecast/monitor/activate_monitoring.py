"""Endpoint state change -> the endpoint's accuracy alarm on or off (ActivateMonitoringFunction).

The hourly schedules and the accuracy alarms belong to the template alone (the schedules are
always ENABLED: a run for an endpoint that does not exist returns at once, feecast.monitor.monitor_endpoint;
the alarm compares the rolling loss with the threshold each run publishes, so a threshold
changed in SSM counts from the next hour). This function only switches the alarm's actions:
- IN_SERVICE: enable the stage's accuracy alarm's actions (a deleted endpoint disabled them)
  and say that monitoring is active, with the threshold SSM holds now.
- FAILED / UPDATE_ROLLBACK_FAILED: notify with the failure reason; monitoring is left as it is
  (a failed update rolls back to the previous, still monitored, variant).
- DELETING / DELETED: disable the alarm's actions. The alarm itself is kept: its history stays
  on the dashboard, and the next IN_SERVICE re-enables it. The retraining function honours
  disabled actions, so a deleted endpoint never starts a build.
- anything else: nothing to do.
Each step is idempotent, and the whole change runs once per (endpoint, status,
LastModifiedTime): SageMaker may send several events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from feecast.config import FeecastConfig
from feecast.lifecycle import DetailType, lifecycle_event
from feecast.monitor.events import Action, EndpointChange
from feecast.monitor.names import alarm_name, schedule_name, stage_of_endpoint
from feecast.monitor.ports import AlarmActions, Endpoints
from feecast.monitor.records import EndpointState, endpoint_state
from feecast.monitor.settings import ActivationSettings
from feecast.observability import logger
from feecast.ports import Notifier, Once

__all__ = ["ActivationPorts", "ActivationResult", "apply_change", "handle_endpoint_change"]

# Duplicates of one change arrive within seconds; a day is plenty and keeps the table small.
_DUPLICATE_WINDOW_SECONDS = 86400


class ActivationResult(BaseModel):
    """What a change did to the endpoint's monitoring (also the notification's facts)."""

    endpoint_name: str
    status: str  # normalised: IN_SERVICE, FAILED, ...
    action: str  # an events.Action value, or "ignored" (another endpoint, nothing to do)
    stage: str | None = None
    changed_at: str | None = None
    reason: str | None = None  # why it was ignored
    schedule: str | None = None
    alarm: str | None = None
    alarm_actions_enabled: bool | None = None  # IN_SERVICE; False: no such alarm
    threshold: float | None = None  # IN_SERVICE: SSM's now
    alarm_actions_disabled: bool | None = None  # DELETING / DELETED; False: no such alarm
    failure_reason: str | None = None  # FAILED / UPDATE_ROLLBACK_FAILED
    replayed: bool = False  # a repeat of the change answered with the first result


@dataclass
class ActivationPorts:
    """What an activation needs from AWS (`from_adapters` puts it on the adapters)."""

    enable_alarm_actions: Callable[[str], bool]  # False: no such alarm
    disable_alarm_actions: Callable[[str], bool]
    describe_endpoint: Callable[[str], EndpointState | None]
    # notify(topic, subject, message, facts, *, event=LifecycleEvent) -> message id
    notify: Callable[..., str]

    @classmethod
    def from_adapters(
        cls, *, alarms: AlarmActions, endpoints: Endpoints, notifier: Notifier
    ) -> ActivationPorts:
        return cls(
            enable_alarm_actions=alarms.enable_actions,
            disable_alarm_actions=alarms.disable_actions,
            describe_endpoint=lambda name: endpoint_state(endpoints.describe_endpoint(name)),
            notify=notifier.notify,
        )


def apply_change(
    change: EndpointChange,
    settings: ActivationSettings,
    load_config: Callable[[], FeecastConfig],
    ports: ActivationPorts,
) -> ActivationResult:
    """Do what the change means for the endpoint's monitoring."""
    project = settings.project_name
    stage = stage_of_endpoint(project, settings.stages, change.endpoint_name)
    result: dict[str, Any] = {
        "endpoint_name": change.endpoint_name,
        "status": change.status,
        "changed_at": change.changed_at.isoformat(),
        "stage": stage,
        "action": change.action.value,
    }
    if stage is None:
        # The rule matches by prefix; only the project's own endpoint names count.
        result["action"] = "ignored"
        result["reason"] = "not one of this project's endpoints"
        return ActivationResult.model_validate(result)
    schedule = schedule_name(project, stage)
    alarm = alarm_name(project, stage)

    if change.action is Action.ACTIVATE:
        validation = load_config().validation
        result |= {
            "schedule": schedule,
            "alarm": alarm,
            "alarm_actions_enabled": ports.enable_alarm_actions(alarm),
            "threshold": validation.threshold,
        }
        _notify(
            ports,
            settings,
            DetailType.MONITORING_ACTIVATED,
            "active",
            f"feecast: monitoring of {change.endpoint_name} active",
            f"Endpoint {change.endpoint_name} is InService: the hourly accuracy run "
            f"({schedule}) scores it and alarm {alarm} fires when the loss of the last "
            f"{validation.alarm_window_hours} hours stays above the threshold (now "
            f"{validation.threshold:g}, read from SSM at every run).",
            result,
        )
    elif change.action is Action.REPORT_FAILURE:
        reason = change.failure_reason
        if not reason:
            state = ports.describe_endpoint(change.endpoint_name)
            reason = (state.failure_reason if state else None) or "SageMaker gave no reason"
        result["failure_reason"] = reason
        _notify(
            ports,
            settings,
            DetailType.ENDPOINT_FAILED,
            change.status.lower(),
            f"feecast: endpoint {change.endpoint_name} {change.status}",
            f"Endpoint {change.endpoint_name} is {change.status}: {reason}",
            result,
        )
    elif change.action is Action.DEACTIVATE:
        alarm_found = ports.disable_alarm_actions(alarm)
        result |= {
            "schedule": schedule,
            "alarm": alarm,
            "alarm_actions_disabled": alarm_found,
        }
        _notify(
            ports,
            settings,
            DetailType.MONITORING_STOPPED,
            "stopped",
            f"feecast: monitoring of {change.endpoint_name} stopped",
            f"Endpoint {change.endpoint_name} is {change.status}: its hourly accuracy run "
            f"finds nothing to score and alarm {alarm} no longer starts builds.",
            result,
        )
    logger.info("endpoint change handled", extra=result)
    return ActivationResult.model_validate(result)


def _notify(
    ports: ActivationPorts,
    settings: ActivationSettings,
    detail_type: DetailType,
    outcome: str,
    subject: str,
    message: str,
    result: dict[str, Any],
) -> None:
    ports.notify(
        settings.notification_topic_arn,
        subject,
        message,
        result,
        event=lifecycle_event(
            detail_type,
            project=settings.project_name,
            outcome=outcome,
            summary=subject,
            stage=result.get("stage"),
            facts=result,
        ),
    )


def handle_endpoint_change(
    change: EndpointChange,
    settings: ActivationSettings,
    load_config: Callable[[], FeecastConfig],
    ports: ActivationPorts,
    *,
    once: Once,
    lambda_context: Any | None = None,
) -> ActivationResult:
    """The handler's one call: `apply_change` once per change (not per event)."""

    def ignored(reason: str) -> ActivationResult:
        return ActivationResult(
            endpoint_name=change.endpoint_name,
            status=change.status,
            action="ignored",
            reason=reason,
        )

    if stage_of_endpoint(settings.project_name, settings.stages, change.endpoint_name) is None:
        return ignored("not one of this project's endpoints")
    if change.action is Action.IGNORE:
        return ignored(f"status {change.status} changes nothing for monitoring")
    result = once.run_once(
        table=settings.idempotency_table,
        name="activate-monitoring",
        key={"change": change.change_key},
        expires_after_seconds=_DUPLICATE_WINDOW_SECONDS,
        call=lambda: apply_change(change, settings, load_config, ports).model_dump(mode="json"),
        lambda_context=lambda_context,
    )
    return ActivationResult.model_validate(result)
