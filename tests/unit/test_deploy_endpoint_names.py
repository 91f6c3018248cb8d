"""Deploy To Staging/Production: a taken name is accepted only when it is this deployment's, and
the endpoint type running is read from DescribeEndpoint / DescribeEndpointConfig (issue 16)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from feecast.adapters.sagemaker import SageMakerEndpoints
from feecast.deploy.deploy_endpoint import (
    PackageNotDeployable,
    _create_config_once,
    _create_model_once,
)
from feecast.deploy.endpoint_config import endpoint_type_of

TAKEN = ClientError(
    {
        "Error": {
            "Code": "ValidationException",
            "Message": 'Cannot create already existing model "x".',
        }
    },
    "CreateModel",
)


class FakeSageMaker:
    """A SageMaker client: a taken name and a missing config answer as SageMaker does."""

    def __init__(
        self, *, model: dict[str, Any] | None = None, config: dict[str, Any] | None = None
    ):
        self.model, self.config, self.calls = model, config, []

    def create_model(self, **kw: Any) -> None:
        self.calls.append("create_model")
        if self.model is not None:
            raise TAKEN

    def describe_model(self, ModelName: str) -> dict[str, Any]:
        return {"PrimaryContainer": self.model}

    def create_endpoint_config(self, **kw: Any) -> None:
        if self.config is not None:
            raise TAKEN

    def describe_endpoint_config(self, EndpointConfigName: str) -> dict[str, Any]:
        if self.config is None:
            raise ClientError(
                {"Error": {"Code": "ValidationException", "Message": "Could not find"}}, "x"
            )
        return self.config


def FakeSageMakerEndpoints(sm: FakeSageMaker | None = None, **kw: Any) -> SageMakerEndpoints:
    """The real adapter (which translates SageMaker's answers) on a fake client."""
    return SageMakerEndpoints(sm or FakeSageMaker(**kw))


MODEL = {
    "ModelName": "feecast-v7-20260105t101500",
    "ExecutionRoleArn": "arn:aws:iam::123456789012:role/r",
    "PrimaryContainer": {"Image": "deepar:1", "ModelDataUrl": "s3://b/v7/model.tar.gz"},
}


def test_a_model_left_by_a_retry_of_this_deployment_is_accepted() -> None:
    _create_model_once(FakeSageMakerEndpoints(model=dict(MODEL["PrimaryContainer"])), MODEL)


def test_a_model_of_the_same_name_with_other_data_is_refused() -> None:
    other = {"Image": "deepar:1", "ModelDataUrl": "s3://b/OTHER/model.tar.gz"}
    with pytest.raises(PackageNotDeployable, match="not this deployment's"):
        _create_model_once(FakeSageMakerEndpoints(model=other), MODEL)


def test_an_existing_config_must_serve_this_model() -> None:
    request = {
        "EndpointConfigName": "feecast-staging-v7-x",
        "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "feecast-v7-x"}],
    }
    _create_config_once(
        FakeSageMakerEndpoints(config={"ProductionVariants": request["ProductionVariants"]}),
        request,
    )
    with pytest.raises(PackageNotDeployable):
        _create_config_once(
            FakeSageMakerEndpoints(config={"ProductionVariants": [{"ModelName": "someone-else"}]}),
            request,
        )


def test_other_create_errors_are_not_swallowed() -> None:
    class Refusing(FakeSageMaker):
        def create_model(self, **kw: Any) -> None:
            raise ClientError(
                {"Error": {"Code": "ValidationException", "Message": "bad image"}}, "x"
            )

    with pytest.raises(ClientError, match="bad image"):
        _create_model_once(FakeSageMakerEndpoints(Refusing()), MODEL)


@pytest.mark.parametrize(
    ("endpoint", "config", "expected"),
    [
        (
            {"ProductionVariants": [{"CurrentServerlessConfig": {"MaxConcurrency": 5}}]},
            None,
            "Serverless",
        ),
        ({"ProductionVariants": [{"CurrentInstanceCount": 1}]}, None, "Provisioned"),
        (
            {"EndpointConfigName": "c"},
            {"ProductionVariants": [{"ServerlessConfig": {}}]},
            "Serverless",
        ),
        (
            {"EndpointConfigName": "c"},
            {"ProductionVariants": [{"InstanceType": "ml.m5.large"}]},
            "Provisioned",
        ),
        ({"EndpointConfigName": "gone"}, None, None),
    ],
)
def test_the_running_endpoint_type(endpoint: dict[str, Any], config: Any, expected: Any) -> None:
    assert endpoint_type_of(FakeSageMakerEndpoints(config=config), endpoint) == expected


@pytest.mark.parametrize(
    ("code", "message", "missing"),
    [
        ("ValidationException", 'Could not find endpoint "feecast-staging".', True),
        ("ValidationException", "Model package arn:...:7 does not exist.", True),
        ("ResourceNotFound", "Resource not found", True),
        ("ValidationException", "EndpointConfigName must be set", False),
        ("ThrottlingException", "Could not find a free slot", False),
    ],
)
def test_one_not_found_rule_for_sagemaker(code: str, message: str, missing: bool) -> None:
    """Deploy's adapters and monitoring's describe_endpoint share it (issue 17)."""
    from feecast.adapters.errors import is_not_found

    exc = ClientError({"Error": {"Code": code, "Message": message}}, "DescribeEndpoint")
    assert is_not_found(exc) is missing
