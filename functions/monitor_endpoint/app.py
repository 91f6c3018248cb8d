"""MonitorEndpointFunction: the hourly accuracy run of one endpoint (EventBridge Scheduler).

template.yaml "4 Monitor" (StagingMonitoringSchedule / ProductionMonitoringSchedule); the use
case is feecast.monitor.monitor_endpoint (docs/monitoring.md), whose "now" is the scheduled time.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters import cloudwatch, feature_history, idempotency, sagemaker, sagemaker_runtime
from feecast.adapters.parameters import load_config
from feecast.adapters.state_table import StateTable
from feecast.monitor.events import parse_run_request
from feecast.monitor.monitor_endpoint import RunPorts, monitor_endpoint
from feecast.monitor.settings import RunSettings
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(RunSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_run_request(event)
    config = load_config(SETTINGS.ssm_prefix, max_age=0)  # hourly: always the current threshold
    ports = RunPorts.from_adapters(
        SETTINGS,
        config,
        state=StateTable(SETTINGS.state_table),
        endpoints=sagemaker.SageMakerEndpoints(),
        forecaster=sagemaker_runtime.SageMakerRuntime(),
        metric_sink=cloudwatch.CloudWatchMetrics(),
        history=feature_history,
    )
    return monitor_endpoint(
        request, SETTINGS, config, ports, once=idempotency, lambda_context=context
    ).model_dump(mode="json")
