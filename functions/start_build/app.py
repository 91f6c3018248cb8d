"""Start a model build from the schedule (or a direct invoke), exactly once per occurrence.

template.yaml StartBuildFunction (ScheduleV2, DISABLED by default) -> feecast.build.start_build.
start_build -> the ModelBuild state machine. Accepted events:
- the schedule's Input: {"trigger": "schedule", "scheduled_time": "<aws.scheduler.scheduled-time>"}
- an EventBridge "Scheduled Event" envelope (its `time` is the occurrence)
- a direct invoke: {"trigger": "manual", "dedup_key": "..."}
"""

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.build.start_build import StartBuildSettings, start_build
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings
from pydantic import BaseModel, Field, model_validator

SETTINGS = load_settings(StartBuildSettings)


class StartRequest(BaseModel):
    trigger: str = "schedule"
    dedup_key: str | None = None
    scheduled_time: datetime | None = None
    time: datetime | None = None  # EventBridge envelope
    source: str | None = None
    detail_type: str | None = Field(None, alias="detail-type")

    @model_validator(mode="after")
    def _has_key(self) -> "StartRequest":
        # Another rule's event sent here by mistake must not start a build at its time.
        foreign = self.source not in (None, "aws.events")
        if foreign or self.detail_type not in (None, "Scheduled Event"):
            raise ValueError(
                f"source {self.source!r} / detail-type {self.detail_type!r}: only a schedule's"
                " input, an aws.events 'Scheduled Event' or a direct request starts a build"
            )
        when = self.scheduled_time or self.time
        if self.dedup_key is None:
            if when is None:
                raise ValueError("give dedup_key, scheduled_time or an EventBridge time")
            self.dedup_key = f"{self.trigger}-{when:%Y-%m-%dT%H:%MZ}"
        return self


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=StartRequest)
    assert request.dedup_key is not None  # set by the validator
    return start_build(request.trigger, request.dedup_key, SETTINGS).model_dump(mode="json")
