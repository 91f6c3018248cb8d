"""Evaluate The Model (ModelBuild state machine): the backtest forecasts -> every model scored on the same windows -> the gate.

template.yaml EvaluateModelFunction -> statemachines/model_build.asl.json "Evaluate The Model"
-> feecast.build.evaluate_model.evaluate_model. Writes evaluation.json; returns the decision that
"Is The Model Good Enough?" reads. Emits ModelsRejected when the gate fails.
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters.parameters import load_config
from feecast.adapters.s3 import s3_store
from feecast.adapters.sagemaker import training_metrics
from feecast.build.evaluate_model import EvaluateRequest, evaluate_model
from feecast.build.settings import EvaluateSettings
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(EvaluateSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=EvaluateRequest)
    validation = load_config(SETTINGS.ssm_prefix, max_age=0).validation
    result = evaluate_model(
        request,
        SETTINGS,
        validation=validation,
        store=s3_store(SETTINGS.artifact_bucket),
        training_metrics=training_metrics,
    )
    if not result.passed:
        metrics.add_metric(name="ModelsRejected", unit=MetricUnit.Count, value=1)
    logger.info("model evaluated", extra={"evaluation": result.model_dump()})
    return result.model_dump(mode="json")
