"""Smoke Test Staging when the container does not answer (issue 16, defect 16): a clear error
naming the endpoint type and the fallback, never a raw SDK exception; throttling stays
retriable (AwsThrottled)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from feecast.adapters import clients
from feecast.adapters.errors import AwsThrottled
from feecast.adapters.sagemaker_runtime import SageMakerRuntime
from feecast.config import FeecastConfig
from feecast.deploy import smoke_test
from feecast.deploy.settings import SmokeSettings


def settings(endpoint_type: str) -> SmokeSettings:
    return SmokeSettings(
        project_name="feecast",
        ssm_prefix="/feecast",
        state_table="t",
        notification_topic_arn="arn:aws:sns:eu-west-1:123456789012:t",
        model_package_group_name="feecast-models",
        staging_endpoint_name="feecast-staging",
        production_endpoint_name="feecast-production",
        feature_group_name="feecast-fee-minutes",
        endpoint_type=endpoint_type,
    )


@pytest.fixture
def no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    from feecast.deploy import smoke

    monkeypatch.setattr(
        smoke_test,
        "_context",
        lambda s, needed, now, *ports: (smoke.synthetic_context(now, needed), "synthetic"),
    )


class _Parameters:
    def load_config(self, prefix: str, *, max_age: int = 60) -> FeecastConfig:
        return FeecastConfig()

    def write_validation(self, prefix: str, validation: Any) -> int:
        raise AssertionError("the smoke test writes no parameter")


def run(endpoint_type: str) -> Any:
    """The step with the real SageMaker Runtime adapter (its client replaced)."""
    return smoke_test.smoke_test(
        "feecast-staging",
        settings(endpoint_type),
        forecaster=SageMakerRuntime(),
        parameters=_Parameters(),
        history=None,  # _context is replaced: no minutes are read
    )


def fail_with(monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    class Runtime:
        def invoke_endpoint(self, **kwargs: Any) -> dict[str, Any]:
            raise exc

    monkeypatch.setattr(clients, "client", lambda service: Runtime())


MODEL_ERROR = ClientError(
    {
        "Error": {"Code": "ModelError", "Message": "Received server error (500) from primary"},
        "OriginalStatusCode": 500,
        "OriginalMessage": "container crashed",
    },
    "InvokeEndpoint",
)


def test_a_serverless_container_that_does_not_answer_names_the_fallback(
    no_data: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_with(monkeypatch, MODEL_ERROR)
    with pytest.raises(smoke_test.EndpointDidNotAnswer) as raised:
        run("Serverless")
    message = str(raised.value)
    assert "Serverless endpoint feecast-staging did not answer" in message
    assert "ModelError: container crashed" in message
    assert "EndpointType=Provisioned" in message


def test_a_timeout_is_a_clear_failure_too(no_data: None, monkeypatch: pytest.MonkeyPatch) -> None:
    fail_with(monkeypatch, ReadTimeoutError(endpoint_url="https://runtime.sagemaker/x"))
    with pytest.raises(smoke_test.EndpointDidNotAnswer, match="ReadTimeoutError"):
        run("Provisioned")


def test_throttling_stays_retriable(no_data: None, monkeypatch: pytest.MonkeyPatch) -> None:
    fail_with(
        monkeypatch,
        ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate"}}, "Invoke"),
    )
    with pytest.raises(AwsThrottled):
        run("Serverless")
