"""MonitorEndpointFunction: the hourly accuracy run of one endpoint (EventBridge Scheduler).

template.yaml "4 Monitor" (StagingMonitoringSchedule / ProductionMonitoringSchedule); the use
case is feecast.monitor.monitor_endpoint (docs/monitoring.md). The input carries the scheduled time, which
is the run's "now": replaying an hour computes the same thing and publishes nothing twice.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters.parameters import load_config
from feecast.monitor.events import parse_run_request
from feecast.monitor.monitor_endpoint import monitor_endpoint
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
    return monitor_endpoint(request, SETTINGS, config, lambda_context=context)
