"""Evaluate The Model (ModelBuild state machine): forecast vs held-out minutes -> the gate.

template.yaml EvaluateModelFunction -> statemachines/model_build.asl.json "Evaluate The Model"
-> feecast.build.evaluate.evaluate_model. Writes evaluation.json; returns the decision that
"Is The Model Good Enough?" reads. Emits ModelsRejected when the gate fails.
"""

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from feecast.adapters.parameters import load_config
from feecast.build.artifacts import s3_store
from feecast.build.evaluate import EvaluateRequest, EvaluateSettings, evaluate_model, final_metrics
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(EvaluateSettings)


@cache
def _sagemaker() -> Any:
    return boto3.client("sagemaker")


def training_metrics(job_name: str) -> dict[str, float]:
    """DeepAR's own final metrics; informative only, so a failure to read them is logged."""
    try:
        return final_metrics(_sagemaker().describe_training_job(TrainingJobName=job_name))
    except (ClientError, BotoCoreError) as exc:
        logger.warning(
            "training job metrics unavailable", extra={"job": job_name, "error": str(exc)}
        )
        return {}


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
