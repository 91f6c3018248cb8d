"""Settings and packages for the deploy stage's unit tests."""

from __future__ import annotations

from typing import Any

from feecast.deploy.settings import (
    ApprovalRequestSettings,
    DeploySettings,
    EndpointSettings,
    SmokeSettings,
    StartSettings,
)

GROUP = "feecast-models"
GROUP_ARN = f"arn:aws:sagemaker:eu-west-1:123456789012:model-package/{GROUP}"
DEPLOY_MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:feecast-model-deploy"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:feecast-notifications"

_BASE: dict[str, Any] = {
    "project_name": "feecast",
    "ssm_prefix": "/feecast",
    "state_table": "feecast-state",
    "notification_topic_arn": TOPIC,
    "model_package_group_name": GROUP,
    "staging_endpoint_name": "feecast-staging",
    "production_endpoint_name": "feecast-production",
}


def package_arn(version: int) -> str:
    return f"{GROUP_ARN}/{version}"


def package(version: int, status: str = "Approved", **metadata: str) -> dict[str, Any]:
    """A registered DeepAR package as DescribeModelPackage answers (losses in its metadata)."""
    meta = {"mean_wql": "0.2", "baseline_wql": "0.3", "alarm_threshold": "0.25", **metadata}
    return {
        "ModelPackageArn": package_arn(version),
        "ModelPackageGroupName": GROUP,
        "ModelPackageVersion": version,
        "ModelApprovalStatus": status,
        "CustomerMetadataProperties": meta,
        "InferenceSpecification": {
            "Containers": [
                {"Image": "deepar:1", "ModelDataUrl": f"s3://artifacts/v{version}/model.tar.gz"}
            ]
        },
    }


def deploy_settings(**overrides: Any) -> DeploySettings:
    return DeploySettings.model_validate({**_BASE, **overrides})


def start_settings(**overrides: Any) -> StartSettings:
    return StartSettings.model_validate(
        {
            **_BASE,
            "idempotency_table": "feecast-idempotency",
            "deploy_state_machine_arn": DEPLOY_MACHINE,
            **overrides,
        }
    )


def endpoint_settings(**overrides: Any) -> EndpointSettings:
    return EndpointSettings.model_validate(
        {
            **_BASE,
            "sagemaker_role_arn": "arn:aws:iam::123456789012:role/feecast-sagemaker",
            "production_alarm_names": "feecast-production-accuracy,feecast-production-errors",
            "bake_seconds": 600,
            **overrides,
        }
    )


def approval_settings(**overrides: Any) -> ApprovalRequestSettings:
    return ApprovalRequestSettings.model_validate(
        {
            **_BASE,
            "approval_secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:links",
            "approval_api_url": "https://approve.example.com",
            **overrides,
        }
    )


def smoke_settings(**overrides: Any) -> SmokeSettings:
    return SmokeSettings.model_validate(
        {**_BASE, "feature_group_name": "feecast-fee-minutes", **overrides}
    )
