"""SageMaker: endpoints, endpoint configs and models (deploy), the model registry (deploy,
build), a training job's final metrics (build).

Errors a use case handles arrive as domain errors (feecast.adapters.errors): NotFound,
AlreadyExists, AwsThrottled; anything else propagates as botocore raised it.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from feecast.adapters import clients
from feecast.adapters.errors import NotFound, aws_errors
from feecast.observability import logger


def client() -> Any:
    return clients.client("sagemaker")


def training_metrics(job_name: str) -> dict[str, float]:
    """DeepAR's own final metrics; informative only, so a failure to read them is logged."""
    # Imported here: feecast.build.evaluate_model needs numpy, RegisterModel only this function.
    from feecast.build.evaluate_model import final_metrics

    try:
        return final_metrics(client().describe_training_job(TrainingJobName=job_name))
    except (ClientError, BotoCoreError) as exc:
        logger.warning(
            "training job metrics unavailable", extra={"job": job_name, "error": str(exc)}
        )
        return {}


class SageMakerPackages:
    """The model registry, read-only (deploy's Packages port)."""

    def describe(self, arn: str) -> dict[str, Any]:
        """DescribeModelPackage; NotFound when the package does not exist (deleted since)."""
        with aws_errors():
            return dict(client().describe_model_package(ModelPackageName=arn))

    def find(self, arn: str) -> dict[str, Any] | None:
        """DescribeModelPackage, or None when the package no longer exists."""
        try:
            return self.describe(arn)
        except NotFound:
            return None


class SageMakerEndpoints:
    """Endpoints, their configs and models (deploy's Endpoints port). `sm`: a client to use
    instead of the factory's (the CLI's doctor passes its own)."""

    def __init__(self, sm: Any = None) -> None:
        self._sm = sm

    @property
    def sm(self) -> Any:
        return self._sm or client()

    def describe_endpoint(self, name: str) -> dict[str, Any] | None:
        try:
            with aws_errors():
                return dict(self.sm.describe_endpoint(EndpointName=name))
        except NotFound:
            return None

    def endpoint_config(self, name: str) -> dict[str, Any] | None:
        try:
            with aws_errors():
                return dict(self.sm.describe_endpoint_config(EndpointConfigName=name))
        except NotFound:
            return None

    def model(self, name: str) -> dict[str, Any] | None:
        try:
            with aws_errors():
                return dict(self.sm.describe_model(ModelName=name))
        except NotFound:
            return None

    def create_model(self, request: dict[str, Any]) -> None:
        """CreateModel; AlreadyExists when the name is taken."""
        with aws_errors():
            self.sm.create_model(**request)

    def create_endpoint_config(self, request: dict[str, Any]) -> None:
        """CreateEndpointConfig; AlreadyExists when the name is taken."""
        with aws_errors():
            self.sm.create_endpoint_config(**request)

    def create_endpoint(self, name: str, config: str, tags: list[dict[str, str]]) -> None:
        with aws_errors():
            self.sm.create_endpoint(EndpointName=name, EndpointConfigName=config, Tags=tags)

    def update_endpoint(
        self, name: str, config: str, deployment_config: dict[str, Any] | None
    ) -> None:
        kwargs: dict[str, Any] = {"EndpointName": name, "EndpointConfigName": config}
        if deployment_config:
            kwargs["DeploymentConfig"] = deployment_config
        with aws_errors():
            self.sm.update_endpoint(**kwargs)

    def delete_endpoint(self, name: str) -> None:
        with aws_errors():
            self.sm.delete_endpoint(EndpointName=name)
