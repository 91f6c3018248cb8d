"""Prepare The Data (ModelBuild state machine): feature history -> DeepAR channels in S3.

template.yaml PrepareDataFunction -> statemachines/model_build.asl.json "Prepare The Data"
-> feecast.build.prepare_data.prepare_data. Raises DataRefused / ConfigError with the reason, which
the state machine's Catch turns into a "build failed" notification (AwsThrottled, SSM throttled
or unavailable, and HistoryReadTimeout, the offline store too slow for the time left, are
retried by the state first).
"""

from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters.feature_history import Deadline, read_history
from feecast.adapters.parameters import load_config
from feecast.build.artifacts import s3_store
from feecast.build.prepare_data import PrepareRequest, PrepareSettings, prepare_data
from feecast.build.production import production_finder
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(PrepareSettings)
# Stop reading the offline store this long before the function's timeout: time to write the
# channels, or to fail with the retriable HistoryReadTimeout instead of a Lambda timeout.
RESERVE_SECONDS = 60


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=PrepareRequest)
    # max_age=0: a build uses the parameters as they are now, not a cached copy.
    config = load_config(SETTINGS.ssm_prefix, max_age=0)
    result = prepare_data(
        request,
        SETTINGS,
        config=config,
        read_history=partial(
            read_history,
            deadline=Deadline.from_lambda_context(context, reserve_seconds=RESERVE_SECONDS),
        ),
        store=s3_store(SETTINGS.artifact_bucket),
        find_production=production_finder(SETTINGS.state_table, SETTINGS.production_stage_name),
    )
    logger.info("data prepared", extra={"window": result.window.model_dump()})
    return result.model_dump(mode="json")
