"""Lifecycle events: what feecast tells other systems, as EventBridge events and SNS attributes.

Pure: no boto3. Every notification (feecast.adapters.notify) carries one `LifecycleEvent`; the
adapter publishes it twice: as the SNS message's attributes (for subscription filter policies)
and as an EventBridge event on the default bus, source `feecast`, with the detail-type below and
`LifecycleDetail` as its detail. docs/events.md is the contract other systems rely on: change
the two together.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SOURCE = "feecast"
SCHEMA_VERSION = "1"

# EventBridge PutEvents: one entry at most 256 KB in all (Detail, DetailType, Source,
# Resources); the detail must be a JSON object. Facts are cut before that, never the envelope.
MAX_ENTRY_BYTES = 256 * 1024
MAX_DETAIL_BYTES = 200 * 1024
# SNS: at most 10 message attributes; String values must not be empty.
MAX_SNS_ATTRIBUTES = 10


class DetailType(StrEnum):
    """The detail-type of every event feecast puts on the bus (docs/events.md)."""

    BUILD_STARTED = "Build Started"
    BUILD_SUCCEEDED = "Build Succeeded"
    BUILD_REJECTED = "Build Rejected"
    BUILD_FAILED = "Build Failed"
    PACKAGE_WAITING = "Model Package Waiting For Approval"
    DEPLOYMENT_SUCCEEDED = "Deployment Succeeded"
    DEPLOYMENT_FAILED = "Deployment Failed"
    DEPLOYMENT_STOPPED = "Deployment Stopped"
    APPROVAL_REQUESTED = "Approval Requested"
    APPROVAL_GRANTED = "Approval Granted"
    APPROVAL_REJECTED = "Approval Rejected"
    APPROVAL_EXPIRED = "Approval Expired"
    ACCURACY_ALARM = "Accuracy Alarm Handled"
    ROLLBACK_SUCCEEDED = "Rollback Succeeded"
    ROLLBACK_NOT_POSSIBLE = "Rollback Not Possible"
    MONITORING_ACTIVATED = "Monitoring Activated"
    MONITORING_STOPPED = "Monitoring Stopped"
    ENDPOINT_FAILED = "Endpoint Failed"


class LifecycleDetail(BaseModel):
    """The `detail` of every feecast event: the same fields for every detail-type, so one rule
    pattern can filter on `stage`, `outcome` or `model_version` across types."""

    model_config = ConfigDict(extra="forbid")

    schema_version: str = SCHEMA_VERSION
    project: str = Field(min_length=1)
    outcome: str = Field(min_length=1)
    summary: str = Field(min_length=1)  # the notification's subject line
    stage: str | None = None
    model_version: int | None = None
    model_package_arn: str | None = None
    execution: str | None = None
    facts: dict[str, Any] = Field(default_factory=dict)  # the notification's facts, as JSON


class LifecycleEvent(BaseModel):
    """One lifecycle outcome: its detail-type and detail."""

    model_config = ConfigDict(frozen=True)

    detail_type: DetailType
    detail: LifecycleDetail

    def detail_json(self) -> str:
        """The detail as PutEvents takes it: a JSON object of at most MAX_DETAIL_BYTES (the
        facts give way, with `facts_truncated`, when a notification's facts are that large)."""
        text = json.dumps(self.detail.model_dump(mode="json"), default=str, sort_keys=True)
        if len(text.encode("utf-8")) <= MAX_DETAIL_BYTES:
            return text
        slim = self.detail.model_copy(update={"facts": {"facts_truncated": True}})
        return json.dumps(slim.model_dump(mode="json"), default=str, sort_keys=True)

    def put_events_entry(self, event_bus_name: str = "default") -> dict[str, Any]:
        """The PutEvents request entry (the default bus unless told)."""
        return {
            "Source": SOURCE,
            "DetailType": self.detail_type.value,
            "Detail": self.detail_json(),
            "EventBusName": event_bus_name,
            **(
                {"Resources": [self.detail.model_package_arn]}
                if self.detail.model_package_arn
                else {}
            ),
        }

    def sns_attributes(self) -> dict[str, dict[str, str]]:
        """SNS MessageAttributes for subscription filter policies: event_type, outcome, project,
        and stage / model_version when known (SNS refuses empty values: absent ones are left out)."""
        attributes = {
            "event_type": ("String", self.detail_type.value),
            "outcome": ("String", self.detail.outcome),
            "project": ("String", self.detail.project),
            "stage": ("String", self.detail.stage or ""),
            "model_version": (
                "Number",
                "" if self.detail.model_version is None else str(self.detail.model_version),
            ),
        }
        return {
            name: {"DataType": kind, "StringValue": value}
            for name, (kind, value) in attributes.items()
            if value
        }


def package_version(model_package_arn: str | None) -> int | None:
    """The version at the end of a model package ARN (.../<group>/<version>), if any."""
    if not model_package_arn:
        return None
    tail = model_package_arn.rstrip("/").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def lifecycle_event(
    detail_type: DetailType,
    *,
    project: str,
    outcome: str,
    summary: str,
    stage: str | None = None,
    model_package_arn: str | None = None,
    model_version: int | None = None,
    execution: str | None = None,
    facts: dict[str, Any] | None = None,
) -> LifecycleEvent:
    """A LifecycleEvent; the model version is read from the package ARN when not given."""
    version = model_version if model_version is not None else package_version(model_package_arn)
    return LifecycleEvent(
        detail_type=detail_type,
        detail=LifecycleDetail(
            project=project,
            outcome=outcome,
            summary=summary,
            stage=stage,
            model_version=version,
            model_package_arn=model_package_arn,
            execution=execution,
            facts=json.loads(json.dumps(facts or {}, default=str)),
        ),
    )
