"""Register The Model: the CreateModelPackage request (metrics, lineage, approval status)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import botocore
from feecast.build.register_model import approve_command, package_request, register_model
from feecast.build.settings import RegisterSettings

from tests.support.builds import EXECUTION, register_request

SETTINGS = RegisterSettings(
    project_name="feecast", ssm_prefix="/feecast", model_package_group_name="feecast-models"
)


def test_given_a_passing_evaluation_then_the_package_is_pending_with_metrics_and_lineage() -> None:
    body = package_request(register_request(), SETTINGS)
    assert body["ModelPackageGroupName"] == "feecast-models"
    assert body["ModelApprovalStatus"] == "PendingManualApproval"
    container = body["InferenceSpecification"]["Containers"][0]
    assert container["Image"].endswith("forecasting-deepar:1")
    assert container["ModelDataUrl"].endswith("model.tar.gz")
    assert body["InferenceSpecification"]["SupportedContentTypes"] == ["application/json"]
    assert (
        "ml.m5.large" in body["InferenceSpecification"]["SupportedRealtimeInferenceInstanceTypes"]
    )
    assert body["ModelMetrics"]["ModelQuality"]["Statistics"] == {
        "ContentType": "application/json",
        "S3Uri": "s3://artifacts/builds/manual-x/evaluation.json",
    }
    assert body["MetadataProperties"] == {"GeneratedBy": EXECUTION}
    meta = body["CustomerMetadataProperties"]
    assert meta["mean_wql"] == "0.2" and meta["baseline_wql"] == "0.25"
    assert meta["alarm_threshold"] == "0.31" and meta["deepar_test_wql"] == "undefined"
    assert (meta["ratio_to_naive"], meta["ratio_to_naive_ci95_low"]) == ("0.8", "0.72")
    assert meta["ratio_to_naive_ci95_high"] == "0.9" and meta["windows_won_vs_naive"] == "0.7"
    assert meta["ratio_to_robust"] == "1.05" and meta["ratio_to_production"] == "undefined"
    assert meta["naive_verdict"] == "beats naive" and meta["interval_coverage"] == "0.87"
    assert meta["backtest_windows"] == "144" and meta["quantiles"] == "0.05 0.5 0.95"
    assert meta["dynamic_features"] == "none"
    assert (
        meta["data_start"] == "2026-01-03T12:00:00Z" and meta["data_end"] == "2026-01-05T11:59:00Z"
    )
    assert meta["training_job"] == "feecast-manual-x-1234abcd"
    assert meta["execution_arn"] == EXECUTION and meta["trigger"] == "manual"
    assert all(isinstance(v, str) and len(v) <= 256 for v in meta.values())
    assert 1 <= len(body["ClientToken"]) <= 36


def test_given_the_same_execution_then_the_client_token_is_stable() -> None:
    assert (
        package_request(register_request(), SETTINGS)["ClientToken"]
        == package_request(register_request(mean_wql=0.1), SETTINGS)["ClientToken"]
    )


def test_register_model_calls_create_model_package_once() -> None:
    calls: list[dict[str, Any]] = []

    class FakeSageMaker:
        def create_model_package(self, **kwargs: Any) -> dict[str, str]:
            calls.append(kwargs)
            return {
                "ModelPackageArn": "arn:aws:sagemaker:eu-west-1:1:model-package/feecast-models/3"
            }

    result = register_model(register_request(), SETTINGS, sagemaker=FakeSageMaker())
    assert len(calls) == 1
    assert result.model_package_arn.endswith("/3")
    assert result.approve_command == approve_command(result.model_package_arn)
    assert "--model-approval-status Approved" in result.approve_command


def test_given_the_template_defaults_then_each_instance_type_is_listed_once() -> None:
    """The template puts EndpointInstanceType (default ml.m5.large) before the usual CPU types;
    the package must not list ml.m5.large twice (issue 16, defect 10)."""
    from pathlib import Path

    from feecast_twin.intrinsics import load_yaml

    template = load_yaml((Path(__file__).resolve().parents[2] / "template.yaml").read_text())
    defaults = {k: str(v.get("Default", "")) for k, v in template["Parameters"].items()}
    env = template["Resources"]["RegisterModelFunction"]["Properties"]["Environment"]["Variables"]

    def resolve(value: Any) -> str:
        text = value["Fn::Sub"] if isinstance(value, dict) else value
        for name, default in defaults.items():
            text = text.replace("${" + name + "}", default)
        return str(text)

    settings = RegisterSettings(
        project_name="feecast",
        ssm_prefix="/feecast",
        model_package_group_name="feecast-models",
        realtime_instance_types=resolve(env["REALTIME_INSTANCE_TYPES"]),
        transform_instance_types=resolve(env["TRANSFORM_INSTANCE_TYPES"]),
    )
    spec = package_request(register_request(), settings)["InferenceSpecification"]
    for key in ("SupportedRealtimeInferenceInstanceTypes", "SupportedTransformInstanceTypes"):
        types = spec[key]
        assert len(types) == len(set(types)), (key, types)
    assert spec["SupportedRealtimeInferenceInstanceTypes"][0] == defaults["EndpointInstanceType"]
    assert "ml.m5.large" in spec["SupportedRealtimeInferenceInstanceTypes"]


# -- what CreateModelPackage accepts (botocore's service model) ------------------------------
def _sagemaker_shapes() -> dict[str, Any]:
    root = Path(botocore.__file__).parent / "data" / "sagemaker"
    (model,) = sorted(root.glob("*/service-2.json*"))[-1:]
    raw = gzip.decompress(model.read_bytes()) if model.suffix == ".gz" else model.read_bytes()
    return dict(json.loads(raw)["shapes"])


def _ascii_pattern(java: str) -> re.Pattern[str]:
    """The model's \\p{L}/\\p{Z}/\\p{N} classes, for the ASCII text the build writes."""
    body = java.split("]")[0].lstrip("([")
    body = body.replace("\\p{L}", "A-Za-z").replace("\\p{Z}", " ").replace("\\p{N}", "0-9")
    return re.compile(f"[{body}]*")


def test_the_request_meets_create_model_package_limits() -> None:
    shapes = _sagemaker_shapes()
    key_shape, value_shape = shapes["CustomerMetadataKey"], shapes["CustomerMetadataValue"]
    key_re, value_re = _ascii_pattern(key_shape["pattern"]), _ascii_pattern(value_shape["pattern"])
    awkward = register_request(
        naive_verdict="barely beats naive (3% lower loss, 95% CI up to 0.99)",
        deepar_test_wql=1e-5,
    )
    for req in (register_request(), awkward):
        body = package_request(req, SETTINGS)
        meta = body["CustomerMetadataProperties"]
        assert (
            shapes["CustomerMetadataMap"]["min"]
            <= len(meta)
            <= shapes["CustomerMetadataMap"]["max"]
        )
        for key, value in meta.items():
            assert key_shape["min"] <= len(key) <= key_shape["max"] and key_re.fullmatch(key), key
            assert value_shape["min"] <= len(value) <= value_shape["max"], key
            assert value_re.fullmatch(value), (key, value)
        description = body["ModelPackageDescription"]
        assert len(description) <= shapes["EntityDescription"]["max"]
        assert len(body["ClientToken"]) <= shapes["ClientToken"]["max"]
    assert package_request(awkward, SETTINGS)["CustomerMetadataProperties"]["naive_verdict"] == (
        "barely beats naive"
    )
