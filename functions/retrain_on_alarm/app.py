"""RetrainOnAlarmFunction: accuracy alarm in ALARM -> exactly one model build per episode.

template.yaml "5 Retrain"; the use case is feecast.monitor.retrain_on_alarm, which calls the build
stage's feecast.build.start_build.start_build (docs/monitoring.md).
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters import idempotency, notify, parameters
from feecast.adapters.cloudwatch import CloudWatchAlarms
from feecast.adapters.state_table import StateTable
from feecast.adapters.stepfunctions import StepFunctionsExecutions
from feecast.monitor.events import parse_alarm_event
from feecast.monitor.retrain_on_alarm import RetrainPorts, retrain_on_alarm
from feecast.monitor.settings import RetrainSettings
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(RetrainSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = parse_alarm_event(event)
    ports = RetrainPorts.from_adapters(
        SETTINGS,
        state=StateTable(SETTINGS.state_table),
        executions=StepFunctionsExecutions(),
        alarms=CloudWatchAlarms(),
        notifier=notify,
        parameters=parameters,
    )
    return retrain_on_alarm(
        change, SETTINGS, ports, once=idempotency, lambda_context=context
    ).model_dump(mode="json")
