"""The AWS events feecast reacts to, modelled once (pure: no AWS calls).

Each is a Powertools `EventBridgeModel` whose `source` and `detail-type` are pinned, so an event
of another rule sent here by hand is refused naming the field:
- "SageMaker Model Package State Change" (PackageStateChange): ModelApprovalRule, PackageRejectedRule;
- "SageMaker Endpoint State Change" (EndpointStateChange): EndpointStateRule (deploy's waiter)
  and the monitoring activation rule;
- "CloudWatch Alarm State Change" (AlarmStateChange): the retraining rule.

Their detail models (PackageDetail, EndpointDetail, AlarmDetail) are what the use cases read.
The endpoint status has one spelling, EndpointStatus (events say IN_SERVICE, DescribeEndpoint
InService: both parse); times are read by feecast.times.parse_instant (ISO-8601 or epoch
numbers: AWS sends both).

Not these: feecast.lifecycle is the events feecast itself puts on the bus.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from feecast.deploy import names
from feecast.times import EventError, parse_optional_instant

__all__ = [
    "ALARM_DETAIL_TYPE",
    "ENDPOINT_DETAIL_TYPE",
    "PACKAGE_DETAIL_TYPE",
    "AlarmDetail",
    "AlarmState",
    "AlarmStateChange",
    "EndpointDetail",
    "EndpointStateChange",
    "EndpointStatus",
    "EventError",
    "PackageDetail",
    "PackageStateChange",
    "status_spelling",
]

PACKAGE_DETAIL_TYPE = "SageMaker Model Package State Change"
ENDPOINT_DETAIL_TYPE = "SageMaker Endpoint State Change"
ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z])(?=[A-Z])")


def status_spelling(raw: str) -> str:
    """ "InService" / "IN_SERVICE" / "in_service" -> "IN_SERVICE" (a status SageMaker does not
    have yet keeps its text, upper snake case)."""
    text = raw.strip()
    if not text:
        raise EventError("EndpointStatus is empty")
    return _CAMEL_BOUNDARY.sub("_", text).replace("-", "_").upper()


class EndpointStatus(StrEnum):
    """A SageMaker endpoint's status, spelled as its state-change events spell it."""

    OUT_OF_SERVICE = "OUT_OF_SERVICE"
    CREATING = "CREATING"
    UPDATING = "UPDATING"
    SYSTEM_UPDATING = "SYSTEM_UPDATING"
    ROLLING_BACK = "ROLLING_BACK"
    IN_SERVICE = "IN_SERVICE"
    DELETING = "DELETING"
    DELETED = "DELETED"
    FAILED = "FAILED"
    UPDATE_ROLLBACK_FAILED = "UPDATE_ROLLBACK_FAILED"

    @classmethod
    def parse(cls, raw: str) -> EndpointStatus | None:
        """Either spelling -> the status; None for one SageMaker does not have (yet); EventError
        for an empty one."""
        spelled = status_spelling(raw)
        return cls(spelled) if spelled in cls.__members__ else None

    @property
    def api(self) -> str:
        """DescribeEndpoint's spelling (InService), which deploy's messages and outputs use."""
        return "".join(part.capitalize() for part in self.value.split("_"))


# -- SageMaker Model Package State Change -------------------------------------------------------
class PackageDetail(BaseModel):
    """The fields of a package state change the deploy stage uses."""

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
            parse_optional_instant(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a timestamp ({exc})") from None
        return value

    @model_validator(mode="after")
    def _a_version(self) -> PackageDetail:
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
            ts = parse_optional_instant(raw)
            if ts is not None:
                return ts
        raise ValueError("the event carries no time (LastModifiedTime, CreationTime, time)")

    def detail(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class PackageStateChange(EventBridgeModel):
    """A "SageMaker Model Package State Change" event (ModelApprovalRule, PackageRejectedRule)."""

    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Model Package State Change"] = Field(alias="detail-type")
    detail: PackageDetail


# -- SageMaker Endpoint State Change ------------------------------------------------------------
class EndpointDetail(BaseModel):
    """An endpoint state change's detail: DescribeEndpoint's field names (deploy's waiter reads
    either), so unknown fields are kept."""

    model_config = ConfigDict(extra="allow")

    EndpointName: str = Field(min_length=1)
    EndpointStatus: str = Field(min_length=1)  # either spelling: EndpointStatus.parse reads both
    EndpointConfigName: str | None = None
    LastModifiedTime: Any = None  # epoch milliseconds (float) or ISO-8601: parse_instant
    FailureReason: Any = None


class EndpointStateChange(EventBridgeModel):
    """A "SageMaker Endpoint State Change" event (EndpointStateRule)."""

    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Endpoint State Change"] = Field(alias="detail-type")
    time: Any  # the published example carries epoch milliseconds as a string
    detail: EndpointDetail


# -- CloudWatch Alarm State Change --------------------------------------------------------------
class AlarmState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: str = Field(min_length=1)  # OK | ALARM | INSUFFICIENT_DATA
    timestamp: Any = None  # "2019-10-02T17:04:40.989+0000": parse_instant
    reason: str | None = None
    reasonData: Any = None  # JSON inside a JSON string


class AlarmDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    alarmName: str = Field(min_length=1)
    state: AlarmState
    previousState: Any = None


class AlarmStateChange(EventBridgeModel):
    """A "CloudWatch Alarm State Change" event (the retraining rule)."""

    source: Literal["aws.cloudwatch"]
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    time: Any
    detail: AlarmDetail
