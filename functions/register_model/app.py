"""Register The Model (ModelBuild state machine): a model package, PendingManualApproval.

template.yaml RegisterModelFunction -> statemachines/model_build.asl.json "Register The Model"
-> feecast.build.register_model.register_model. Idempotent per execution (Powertools Idempotency on
the execution ARN, plus CreateModelPackage's ClientToken): a retried task registers once.
"""

from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent,
)
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters import sagemaker
from feecast.build.register_model import RegisterRequest, register_model
from feecast.build.settings import RegisterFunctionSettings
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(RegisterFunctionSettings)
PERSISTENCE = DynamoDBPersistenceLayer(table_name=SETTINGS.idempotency_table)
IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="execution_arn", expires_after_seconds=7 * 24 * 3600
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@idempotent(persistence_store=PERSISTENCE, config=IDEMPOTENCY)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=RegisterRequest)
    return register_model(request, SETTINGS, sagemaker=sagemaker.client()).model_dump(mode="json")
