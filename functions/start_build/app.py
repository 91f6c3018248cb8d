"""Start a model build from the schedule (or a direct invoke), exactly once per occurrence.

template.yaml StartBuildFunction (ScheduleV2, DISABLED by default) -> feecast.build.start_build.
start_build -> the ModelBuild state machine. Accepted events:
- the schedule's Input: {"trigger": "schedule", "scheduled_time": "<aws.scheduler.scheduled-time>"}
- an EventBridge "Scheduled Event" envelope (its `time` is the occurrence)
- a direct invoke: {"trigger": "manual", "dedup_key": "..."}
"""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters.state_table import StateTable
from feecast.adapters.stepfunctions import StepFunctionsExecutions
from feecast.build.settings import StartBuildSettings
from feecast.build.start_build import StartRequest, TableBuildBackend, start_build
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(StartBuildSettings)
BACKEND = TableBuildBackend(
    SETTINGS, state=StateTable(SETTINGS.state_table), executions=StepFunctionsExecutions()
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=StartRequest)
    assert request.dedup_key is not None  # set by the validator
    return start_build(request.trigger, request.dedup_key, SETTINGS, backend=BACKEND).model_dump(
        mode="json"
    )
