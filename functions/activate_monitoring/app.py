"""ActivateMonitoringFunction: "SageMaker Endpoint State Change" -> monitoring on / off.

template.yaml "4 Monitor"; the use case is feecast.monitor.activate_monitoring (docs/monitoring.md).
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters import idempotency, notify
from feecast.adapters.cloudwatch import CloudWatchAlarms
from feecast.adapters.parameters import load_config
from feecast.adapters.sagemaker import SageMakerEndpoints
from feecast.monitor.activate_monitoring import ActivationPorts, handle_endpoint_change
from feecast.monitor.events import parse_endpoint_event
from feecast.monitor.settings import ActivationSettings
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(ActivationSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = parse_endpoint_event(event)
    return handle_endpoint_change(
        change,
        SETTINGS,
        # max_age=0: the alarm must get the threshold SSM holds now (the deploy stage may just
        # have lowered it), not a cached one.
        lambda: load_config(SETTINGS.ssm_prefix, max_age=0),
        ActivationPorts.from_adapters(
            alarms=CloudWatchAlarms(), endpoints=SageMakerEndpoints(), notifier=notify
        ),
        once=idempotency,
        lambda_context=context,
    ).model_dump(mode="json")
