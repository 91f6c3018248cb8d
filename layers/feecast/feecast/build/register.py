"""Register The Model: a model package in `${ProjectName}-models`, PendingManualApproval.

The package carries what a reviewer needs to approve it and what the deploy and monitoring
stages need later (docs/build.md, "Model package"):
- InferenceSpecification: the DeepAR image and model.tar.gz, JSON in and out, CPU instances;
- ModelMetrics.ModelQuality.Statistics -> evaluation.json;
- CustomerMetadataProperties (strings): mean_wql, baseline_wql, threshold_at_build,
  data_start, data_end, holdout_start, training_job, execution_arn, trigger, ...;
- MetadataProperties.GeneratedBy = the build execution's ARN (lineage).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from feecast.settings import BaseSettings

from .window import DataWindow

__all__ = [
    "RegisterRequest",
    "RegisterResult",
    "RegisterSettings",
    "approve_command",
    "metadata_refusal",
    "package_request",
    "register_model",
]

# CreateModelPackage limits: metadata values <= 256 characters, ClientToken <= 36; keys and
# values may hold only letters, numbers, separators and _ . : / = + - @ (the API model's
# pattern [\p{L}\p{Z}\p{N}_.:/=+\-@]*): a comma fails the whole registration.
_MAX_METADATA_VALUE = 256
_METADATA_SYMBOLS = frozenset("_.:/=+-@")


class RegisterSettings(BaseSettings):
    model_package_group_name: str
    # Comma-separated instance types the package declares (template parameters).
    realtime_instance_types: str = "ml.m5.large,ml.m5.xlarge,ml.c5.large,ml.c5.xlarge"
    transform_instance_types: str = "ml.m5.large,ml.m5.xlarge"


class RegisterEvaluation(BaseModel):
    mean_wql: float
    baseline_wql: float | None
    threshold: float
    deepar_test_wql: float | None = None
    evaluation_uri: str
    reason: str


class RegisterData(BaseModel):
    execution_name: str
    target_col: str
    prediction_length: int
    quantiles: list[str]
    hyperparameters: dict[str, str] = Field(default_factory=dict)
    window: DataWindow


class RegisterRequest(BaseModel):
    execution_arn: str
    trigger: str = "manual"
    image: str = Field(min_length=1)
    model_data_url: str = Field(min_length=1)
    training_job_name: str
    data: RegisterData
    evaluation: RegisterEvaluation


class RegisterResult(BaseModel):
    model_package_arn: str
    model_package_group_name: str
    approval_status: str
    approve_command: str


def _types(csv: str) -> list[str]:
    """The comma-separated instance types, each once, in the order given.

    The template lists the configured type first and then the usual CPU types, so with the
    default parameters the configured one appears twice; a package lists each type once."""
    return list(dict.fromkeys(t.strip() for t in csv.split(",") if t.strip()))


def metadata_refusal(text: str) -> str | None:
    """Why SageMaker would refuse `text` as a CustomerMetadataProperties key or value, or None."""
    for char in text:
        if unicodedata.category(char)[0] not in "LNZ" and char not in _METADATA_SYMBOLS:
            return f"character {char!r} is not allowed"
    return None


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else repr(float(value))


def approve_command(model_package_arn: str) -> str:
    return (
        f"aws sagemaker update-model-package --model-package-arn {model_package_arn} "
        "--model-approval-status Approved"
    )


def package_request(request: RegisterRequest, settings: RegisterSettings) -> dict[str, Any]:
    """The CreateModelPackage request (pure: no AWS calls)."""
    data, ev, window = request.data, request.evaluation, request.data.window
    metadata: dict[str, str] = {
        "mean_wql": _fmt(ev.mean_wql),
        "baseline_wql": _fmt(ev.baseline_wql),
        "threshold_at_build": _fmt(ev.threshold),
        "deepar_test_wql": _fmt(ev.deepar_test_wql),
        "data_start": window.first_minute,
        "data_end": window.last_minute,
        "holdout_start": window.holdout_start,
        "data_points": str(window.points),
        "data_missing": str(window.missing),
        "target_col": data.target_col,
        "prediction_length": str(data.prediction_length),
        "quantiles": " ".join(data.quantiles),
        "training_job": request.training_job_name,
        "execution_arn": request.execution_arn,
        "trigger": request.trigger,
        "evaluation_uri": ev.evaluation_uri,
    }
    metadata = {k: v[:_MAX_METADATA_VALUE] for k, v in metadata.items()}
    for key, value in metadata.items():
        refusal = metadata_refusal(key) or metadata_refusal(value)
        if refusal is not None:  # a bug of ours: say so before SageMaker refuses the build
            raise ValueError(f"model package metadata {key}={value!r}: {refusal}")
    description = (
        f"DeepAR forecast of {data.target_col}, {data.prediction_length} minutes ahead; "
        f"mean wQL {_fmt(ev.mean_wql)} vs naive {_fmt(ev.baseline_wql)} "
        f"(threshold {_fmt(ev.threshold)}); data {window.first_minute} to {window.last_minute}"
    )
    return {
        "ModelPackageGroupName": settings.model_package_group_name,
        "ModelPackageDescription": description[:1024],
        "ModelApprovalStatus": "PendingManualApproval",
        "InferenceSpecification": {
            "Containers": [{"Image": request.image, "ModelDataUrl": request.model_data_url}],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
            "SupportedRealtimeInferenceInstanceTypes": _types(settings.realtime_instance_types),
            "SupportedTransformInstanceTypes": _types(settings.transform_instance_types),
        },
        "ModelMetrics": {
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": ev.evaluation_uri}
            }
        },
        "CustomerMetadataProperties": metadata,
        "MetadataProperties": {"GeneratedBy": request.execution_arn[:1024]},
        # A retried registration of the same execution returns the same package.
        "ClientToken": _client_token(request.execution_arn),
    }


def _client_token(execution_arn: str) -> str:
    return hashlib.sha256(execution_arn.encode()).hexdigest()[:36]


def register_model(
    request: RegisterRequest, settings: RegisterSettings, *, sagemaker: Any
) -> RegisterResult:
    """Create the model package; returns its ARN and how a person approves it."""
    response: Mapping[str, Any] = sagemaker.create_model_package(
        **package_request(request, settings)
    )
    arn = str(response["ModelPackageArn"])
    return RegisterResult(
        model_package_arn=arn,
        model_package_group_name=settings.model_package_group_name,
        approval_status="PendingManualApproval",
        approve_command=approve_command(arn),
    )
