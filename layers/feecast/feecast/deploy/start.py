"""Start one ModelDeploy execution per approval of a model package.

Two layers of deduplication, because SageMaker may send several events per change and
EventBridge delivers at least once:
1. Powertools Idempotency on (package ARN, approval status, approval time): a duplicate event
   returns the first call's result without touching Step Functions;
2. the execution name `v<version>-<approval time>`: StartExecution itself refuses (or returns)
   a second execution of the same name, even after the idempotency record expired.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from feecast.deploy import names, trigger
from feecast.deploy.ports import Executions, Once, Packages
from feecast.deploy.settings import StartSettings
from feecast.observability import logger, metrics

IDEMPOTENCY_SECONDS = 24 * 3600


class PackageEvent(BaseModel):
    """The fields of a "SageMaker Model Package State Change" detail the deploy stage uses."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    model_package_arn: str = Field(alias="ModelPackageArn")
    model_package_group_name: str = Field(alias="ModelPackageGroupName")
    model_package_version: int | None = Field(None, alias="ModelPackageVersion")
    model_approval_status: str = Field(alias="ModelApprovalStatus")
    updated_fields: list[str] | None = Field(None, alias="UpdatedModelPackageFields")
    last_modified_time: str | int | float | None = Field(None, alias="LastModifiedTime")
    creation_time: str | int | float | None = Field(None, alias="CreationTime")

    # Checked here so a bad event is refused naming the field, before any AWS call.
    @field_validator("last_modified_time", "creation_time")
    @classmethod
    def _a_time(cls, value: str | int | float | None) -> str | int | float | None:
        try:
            names.parse_time(value)
        except (ValueError, OverflowError, OSError) as exc:
            raise ValueError(f"{value!r} is not a timestamp ({exc})") from None
        return value

    @model_validator(mode="after")
    def _a_version(self) -> PackageEvent:
        if self.model_package_version is None:
            try:
                names.package_version(self.model_package_arn)
            except ValueError:
                raise ValueError(
                    "ModelPackageVersion is missing and ModelPackageArn"
                    f" {self.model_package_arn!r} ends in no version"
                ) from None
        return self

    @property
    def version(self) -> int:
        if self.model_package_version is not None:
            return self.model_package_version
        return names.package_version(self.model_package_arn)

    def changed_at(self, event_time: datetime | str | None) -> datetime:
        """When the approval happened: LastModifiedTime, else creation, else the event's time."""
        for raw in (self.last_modified_time, self.creation_time, event_time):
            ts = names.parse_time(raw)
            if ts is not None:
                return ts
        raise ValueError("the event carries no time (LastModifiedTime, CreationTime, time)")

    def detail(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class PackageStateChange(EventBridgeModel):
    """A "SageMaker Model Package State Change" event (ModelApprovalRule, PackageRejectedRule)."""

    # Another rule's event sent here (by hand, by a wrong target) is refused, naming the field.
    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Model Package State Change"] = Field(alias="detail-type")
    detail: PackageEvent


class DeployStart(BaseModel):
    started: bool
    reason: str
    execution_name: str | None = None
    execution_arn: str | None = None


def start_deploy(
    event: PackageEvent,
    event_time: datetime | str | None,
    settings: StartSettings,
    context: Any = None,
    *,
    packages: Packages,
    executions: Executions,
    once: Once,
) -> DeployStart:
    """Start the ModelDeploy state machine for an approval event, exactly once."""
    decision = trigger.classify(
        event.detail(), wanted_status=trigger.APPROVED, group=settings.model_package_group_name
    )
    if not decision.act:
        logger.info("package event ignored", extra={"reason": decision.reason})
        return DeployStart(started=False, reason=decision.reason)

    approved_at = event.changed_at(event_time)

    def _start() -> dict[str, Any]:
        # The package may have been rejected again, or deleted, since the event was sent:
        # nothing to deploy then, and nothing to retry.
        package = packages.find(event.model_package_arn)
        if package is None:
            logger.warning("approved package no longer exists", extra=event.detail())
            return DeployStart(started=False, reason="package no longer exists").model_dump()
        if package.get("ModelApprovalStatus") != trigger.APPROVED:
            return DeployStart(
                started=False,
                reason=f"package is now {package.get('ModelApprovalStatus')}, not Approved",
            ).model_dump()
        name = names.deploy_execution_name(event.version, approved_at)
        payload = {
            "mode": "deploy",
            "deployment_id": name,
            "model_package_arn": event.model_package_arn,
            "model_package_version": event.version,
            "model_package_group": event.model_package_group_name,
            "approved_at": approved_at.isoformat(),
        }
        arn, new = executions.start(settings.deploy_state_machine_arn, name, payload)
        if new:
            metrics.add_metric(name="DeploymentsStarted", unit="Count", value=1)
        reason = "deployment started" if new else "deployment already started for this approval"
        logger.info(reason, extra={"execution": name})
        return DeployStart(
            started=new, reason=reason, execution_name=name, execution_arn=arn
        ).model_dump()

    key = {
        "model_package_arn": event.model_package_arn,
        "status": event.model_approval_status,
        "approved_at": approved_at.isoformat(),
    }
    result = once.run_once(
        table=settings.idempotency_table,
        name="start-deploy",
        key=key,
        expires_after_seconds=IDEMPOTENCY_SECONDS,
        call=_start,
        lambda_context=context,
    )
    return DeployStart.model_validate(result)
