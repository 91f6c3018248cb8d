"""Register The Model: the CreateModelPackage request (metrics, lineage, approval status)."""

from __future__ import annotations

from typing import Any

from feecast.build.register import (
    RegisterRequest,
    RegisterSettings,
    approve_command,
    package_request,
    register_model,
)

EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:feecast-model-build:manual-x"
WINDOW = {
    "requested_start": "2026-01-03T12:00:00Z",
    "requested_end": "2026-01-05T12:00:00Z",
    "first_minute": "2026-01-03T12:00:00Z",
    "last_minute": "2026-01-05T11:59:00Z",
    "holdout_start": "2026-01-05T11:30:00Z",
    "points": 2880,
    "observed": 2875,
    "missing": 5,
    "gap_count": 2,
    "longest_gap_minutes": 3,
    "offline_points": 2860,
    "online_points": 15,
    "offline_last_minute": "2026-01-05T11:44:00Z",
}


def request(**evaluation: Any) -> RegisterRequest:
    ev = {
        "mean_wql": 0.2,
        "baseline_wql": 0.25,
        "threshold": 0.24,
        "deepar_test_wql": None,
        "evaluation_uri": "s3://artifacts/builds/manual-x/evaluation.json",
        "reason": "mean wQL 0.2000 <= threshold 0.2400",
    }
    ev.update(evaluation)
    return RegisterRequest.model_validate(
        {
            "execution_arn": EXECUTION,
            "trigger": "manual",
            "image": "224300973850.dkr.ecr.eu-west-1.amazonaws.com/forecasting-deepar:1",
            "model_data_url": "s3://artifacts/builds/manual-x/model/job/output/model.tar.gz",
            "training_job_name": "feecast-manual-x-1234abcd",
            "data": {
                "execution_name": "manual-x",
                "target_col": "avg_fee_1min",
                "prediction_length": 30,
                "quantiles": ["0.05", "0.5", "0.95"],
                "window": WINDOW,
            },
            "evaluation": ev,
        }
    )


SETTINGS = RegisterSettings(
    project_name="feecast", ssm_prefix="/feecast", model_package_group_name="feecast-models"
)


def test_given_a_passing_evaluation_then_the_package_is_pending_with_metrics_and_lineage() -> None:
    body = package_request(request(), SETTINGS)
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
    assert meta["threshold_at_build"] == "0.24" and meta["deepar_test_wql"] == "undefined"
    assert (
        meta["data_start"] == "2026-01-03T12:00:00Z" and meta["data_end"] == "2026-01-05T11:59:00Z"
    )
    assert meta["training_job"] == "feecast-manual-x-1234abcd"
    assert meta["execution_arn"] == EXECUTION and meta["trigger"] == "manual"
    assert all(isinstance(v, str) and len(v) <= 256 for v in meta.values())
    assert 1 <= len(body["ClientToken"]) <= 36


def test_given_the_same_execution_then_the_client_token_is_stable() -> None:
    assert (
        package_request(request(), SETTINGS)["ClientToken"]
        == package_request(request(mean_wql=0.1), SETTINGS)["ClientToken"]
    )


def test_register_model_calls_create_model_package_once() -> None:
    calls: list[dict[str, Any]] = []

    class FakeSageMaker:
        def create_model_package(self, **kwargs: Any) -> dict[str, str]:
            calls.append(kwargs)
            return {
                "ModelPackageArn": "arn:aws:sagemaker:eu-west-1:1:model-package/feecast-models/3"
            }

    result = register_model(request(), SETTINGS, sagemaker=FakeSageMaker())
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
    spec = package_request(request(), settings)["InferenceSpecification"]
    for key in ("SupportedRealtimeInferenceInstanceTypes", "SupportedTransformInstanceTypes"):
        types = spec[key]
        assert len(types) == len(set(types)), (key, types)
    assert spec["SupportedRealtimeInferenceInstanceTypes"][0] == defaults["EndpointInstanceType"]
    assert "ml.m5.large" in spec["SupportedRealtimeInferenceInstanceTypes"]
