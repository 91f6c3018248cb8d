"""Register The Model: a model package in `${ProjectName}-models`, PendingManualApproval.

The package carries what a reviewer needs to approve it and what the deploy and monitoring
stages need later (docs/build.md, "Model package"):
- InferenceSpecification: the DeepAR image and model.tar.gz, JSON in and out, CPU instances;
- ModelMetrics.ModelQuality.Statistics -> evaluation.json (every backtest number);
- CustomerMetadataProperties (strings): the backtest's headline numbers (losses, each ratio
  with its 95% interval, windows won, coverage), the alarm threshold the model earned, the
  data window and lineage (docs/build.md lists them);
- MetadataProperties.GeneratedBy = the build execution's ARN (lineage).

CreateModelPackage accepts at most 50 metadata entries, keys of 1-128 and values of 1-256
characters from letters, digits, spaces and _ . : / = + - @ (botocore's service model;
tests/unit/test_build_register.py checks the request against it): values are cleaned to that.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field

from feecast.build.settings import RegisterSettings
from feecast.observability import logger, metrics

from .comparison import RatioSummary
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
_MAX_METADATA_ENTRIES = 50
# CustomerMetadataValue's pattern for ASCII text: ([\p{L}\p{Z}\p{N}_.:\/=+\-@]*)
_NOT_METADATA = re.compile(r"[^A-Za-z0-9 _.:/=+\-@]+")


class RegisterEvaluation(BaseModel):
    mean_wql: float
    baseline_wql: float | None
    robust_wql: float | None = None
    production_wql: float | None = None
    vs_naive: RatioSummary | None = None
    vs_robust: RatioSummary | None = None
    vs_production: RatioSummary | None = None
    coverage: float | None = None
    naive_verdict: str = ""
    alarm_threshold: float | None = None
    windows: int = 0
    backtest_start: str | None = None
    backtest_end: str | None = None
    deepar_test_wql: float | None = None
    evaluation_uri: str
    reason: str


class RegisterData(BaseModel):
    execution_name: str
    target_col: str
    prediction_length: int
    quantiles: list[str]
    dynamic_features: list[str] = Field(default_factory=list)
    extra_series: list[str] = Field(default_factory=list)
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
    model_package_version: int  # for the events' model_version (docs/events.md)
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


def _clean(value: str) -> str:
    """A metadata value CreateModelPackage accepts (pattern and length), never empty."""
    text = " ".join(_NOT_METADATA.sub(" ", value).split())[:_MAX_METADATA_VALUE]
    return text or "none"


def _ratio_metadata(name: str, facts: RatioSummary | None) -> dict[str, str]:
    if facts is None:
        return {f"ratio_to_{name}": "undefined"}
    out = {
        f"ratio_to_{name}": _fmt(facts.ratio),
        f"ratio_to_{name}_ci95_low": _fmt(facts.ci_low),
        f"ratio_to_{name}_ci95_high": _fmt(facts.ci_high),
    }
    if facts.windows_won is not None:
        out[f"windows_won_vs_{name}"] = _fmt(facts.windows_won)
    return out


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
        "robust_wql": _fmt(ev.robust_wql),
        "production_wql": _fmt(ev.production_wql),
        **_ratio_metadata("naive", ev.vs_naive),
        **_ratio_metadata("robust", ev.vs_robust),
        **_ratio_metadata("production", ev.vs_production),
        "naive_verdict": ev.naive_verdict.split(" (")[0] or "undefined",
        "interval_coverage": _fmt(ev.coverage),
        "alarm_threshold": _fmt(ev.alarm_threshold),
        "backtest_windows": str(ev.windows),
        "backtest_start": ev.backtest_start or window.holdout_start,
        "backtest_end": ev.backtest_end or window.last_minute,
        "deepar_test_wql": _fmt(ev.deepar_test_wql),
        "data_start": window.first_minute,
        "data_end": window.last_minute,
        "data_points": str(window.points),
        "data_missing": str(window.missing),
        "target_col": data.target_col,
        "prediction_length": str(data.prediction_length),
        "quantiles": " ".join(data.quantiles),
        "dynamic_features": " ".join(data.dynamic_features) or "none",
        "extra_series": " ".join(data.extra_series) or "none",
        "training_job": request.training_job_name,
        "execution_arn": request.execution_arn,
        "trigger": request.trigger,
        "evaluation_uri": ev.evaluation_uri,
    }
    if len(metadata) > _MAX_METADATA_ENTRIES:  # a programming error, caught by the unit tests
        raise ValueError(f"{len(metadata)} metadata entries, CreateModelPackage takes 50")
    # Free text (the verdict) is cleaned to the pattern; a key or value that still breaks it is
    # a bug of ours: say so before SageMaker refuses the build.
    metadata = {k: _clean(v) for k, v in metadata.items()}
    for key, value in metadata.items():
        refusal = metadata_refusal(key) or metadata_refusal(value)
        if refusal is not None:
            raise ValueError(f"model package metadata {key}={value!r}: {refusal}")
    naive = ev.vs_naive
    against = (
        f"{naive.ratio:.3f} of naive (95% CI {naive.ci_low:.3f}-{naive.ci_high:.3f})"
        if naive is not None
        else f"naive {_fmt(ev.baseline_wql)}"
    )
    description = (
        f"DeepAR forecast of {data.target_col}, {data.prediction_length} minutes ahead; "
        f"backtest of {ev.windows} windows: mean wQL {_fmt(ev.mean_wql)}, {against}, "
        f"{ev.naive_verdict or 'not compared'}; alarm threshold {_fmt(ev.alarm_threshold)}; "
        f"data {window.first_minute} to {window.last_minute}"
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
    result = RegisterResult(
        model_package_arn=arn,
        model_package_version=int(arn.rsplit("/", 1)[-1]),
        model_package_group_name=settings.model_package_group_name,
        approval_status="PendingManualApproval",
        approve_command=approve_command(arn),
    )
    metrics.add_metric(name="ModelsRegistered", unit=MetricUnit.Count, value=1)
    logger.info("model registered", extra={"package": result.model_dump()})
    return result
