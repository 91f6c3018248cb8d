"""Prepare The Data (ModelBuild): feature history -> DeepAR channels in S3.

Library: feecast.build.prepare_data (its docstring: which errors are retried, which reported)."""

from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters.feature_history import Deadline, read_history
from feecast.adapters.parameters import load_config
from feecast.adapters.s3 import s3_store
from feecast.adapters.sagemaker import SageMakerPackages
from feecast.adapters.state_table import StateTable
from feecast.build.prepare_data import PrepareRequest, prepare_data
from feecast.build.production import production_finder
from feecast.build.settings import PrepareSettings
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(PrepareSettings)
STATE = StateTable(SETTINGS.state_table) if SETTINGS.state_table else None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=PrepareRequest)
    deadline = Deadline.from_lambda_context(context, reserve_seconds=SETTINGS.reserve_seconds)
    return prepare_data(
        request,
        SETTINGS,
        config=load_config(SETTINGS.ssm_prefix, max_age=0),  # as they are now, not cached
        read_history=partial(read_history, deadline=deadline),
        store=s3_store(SETTINGS.artifact_bucket),
        find_production=production_finder(
            SETTINGS.production_stage_name, state=STATE, packages=SageMakerPackages()
        ),
    ).model_dump(mode="json")
