"""SageMaker for the build stage: one client per cold start, and a training job's final metrics."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from feecast.observability import logger


@cache
def client() -> Any:
    return boto3.client("sagemaker")


def training_metrics(job_name: str) -> dict[str, float]:
    """DeepAR's own final metrics; informative only, so a failure to read them is logged."""
    # Imported here: feecast.build.evaluate needs numpy, RegisterModel only this function.
    from feecast.build.evaluate import final_metrics

    try:
        return final_metrics(client().describe_training_job(TrainingJobName=job_name))
    except (ClientError, BotoCoreError) as exc:
        logger.warning(
            "training job metrics unavailable", extra={"job": job_name, "error": str(exc)}
        )
        return {}
