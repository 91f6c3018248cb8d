"""HTTP-level additions to moto: UpdateEndpoint, StopTrainingJob, and InvokeEndpoint.

These methods are set on moto's response classes by SageMakerTwin.install(), so they serve both
in-process boto3 calls and the moto server (the AWS CLI).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, EmptyResult

if TYPE_CHECKING:
    from feecast_twin.sagemaker.component import SageMakerTwin

_ENDPOINT_PATH = re.compile(r"/endpoints/(?P<name>[^/?]+)/invocations")


class RuntimeValidationError(ServiceException):
    """sagemaker-runtime's ValidationError (HTTP 400), e.g. an unknown endpoint."""

    code = "ValidationError"


class ModelError(ServiceException):
    """sagemaker-runtime's ModelError (HTTP 424): the model container answered with an error."""

    code = "ModelError"

    def __init__(
        self, message: str, *, original_status: int, original_message: str, log_stream_arn: str
    ) -> None:
        super().__init__(message)
        self.OriginalStatusCode = original_status
        self.OriginalMessage = original_message
        self.LogStreamArn = log_stream_arn


def update_endpoint(self: Any) -> ActionResult:
    """SageMakerResponse.update_endpoint (moto has none)."""
    arn = self.sagemaker_backend.update_endpoint(
        endpoint_name=self._get_param("EndpointName"),
        endpoint_config_name=self._get_param("EndpointConfigName"),
        deployment_config=self._get_param("DeploymentConfig"),
        retain_all_variant_properties=self._get_param("RetainAllVariantProperties", False),
        retain_deployment_config=self._get_param("RetainDeploymentConfig", False),
    )
    return ActionResult({"EndpointArn": arn})


def stop_training_job(self: Any) -> EmptyResult:
    """SageMakerResponse.stop_training_job (moto has none)."""
    self.sagemaker_backend.stop_training_job(self._get_param("TrainingJobName"))
    return EmptyResult()


def runtime_invoke_endpoint(twin: SageMakerTwin) -> Any:
    def invoke_endpoint(self: Any) -> tuple[int, dict[str, str], bytes]:
        match = _ENDPOINT_PATH.search(self.path)
        name = (
            unquote(match.group("name")) if match else str(self._get_params().get("EndpointName"))
        )
        body = self.body if isinstance(self.body, bytes) else str(self.body or "").encode("utf-8")
        content_type = self.headers.get("Content-Type", "application/json")
        target_variant = self.headers.get("X-Amzn-SageMaker-Target-Variant")
        payload, variant = twin.invoke(
            self.current_account, self.region, name, body, content_type, target_variant
        )
        headers = {
            "Content-Type": "application/json",
            "x-Amzn-Invoked-Production-Variant": variant,
        }
        return 200, headers, payload

    return invoke_endpoint
