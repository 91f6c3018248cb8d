"""The SSM parameters adapter: a throttled or failing SSM is transient (AwsThrottled, retried by
the state machines), a missing or corrupt parameter is a ConfigError. The real Powertools
provider answers from a stubbed SSM client (botocore Stubber: no network, no retries)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
from botocore.stub import Stubber
from feecast.adapters.errors import AwsThrottled
from feecast.adapters.parameters import load_config
from feecast.config import DEFAULT_PARAMETERS, ConfigError


@pytest.fixture
def ssm() -> Iterator[Stubber]:
    client = boto3.client(
        "ssm", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    saved = DEFAULT_PROVIDERS.get("ssm")
    DEFAULT_PROVIDERS["ssm"] = SSMProvider(boto3_client=client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()
    if saved is None:
        DEFAULT_PROVIDERS.pop("ssm", None)
    else:
        DEFAULT_PROVIDERS["ssm"] = saved


def answer(stubber: Stubber, suffix: str, value: str | None = None) -> None:
    text = DEFAULT_PARAMETERS[suffix] if value is None else value  # the template's defaults
    stubber.add_response(
        "get_parameter",
        {"Parameter": {"Name": f"/feecast/{suffix}", "Value": text, "Type": "String"}},
        {"Name": f"/feecast/{suffix}", "WithDecryption": False},
    )


def test_given_valid_parameters_then_the_config_loads(ssm: Stubber) -> None:
    for suffix in ("target", "hyperparameters", "validation"):
        answer(ssm, suffix)
    config = load_config("/feecast", max_age=0)
    assert config.validation.threshold > 0


@pytest.mark.parametrize(
    ("code", "status"),
    [("ThrottlingException", 400), ("InternalServerError", 500), ("ServiceUnavailable", 503)],
)
def test_given_ssm_throttled_or_failing_then_the_error_is_transient(
    ssm: Stubber, code: str, status: int
) -> None:
    ssm.add_client_error(
        "get_parameter",
        service_error_code=code,
        service_message="Rate exceeded",
        http_status_code=status,
    )
    with pytest.raises(AwsThrottled, match=f"/feecast/target.*{code}") as caught:
        load_config("/feecast", max_age=0)
    assert not isinstance(caught.value, ConfigError)


def test_given_a_missing_parameter_then_config_error_naming_it(ssm: Stubber) -> None:
    answer(ssm, "target")
    ssm.add_client_error(
        "get_parameter", service_error_code="ParameterNotFound", http_status_code=400
    )
    with pytest.raises(ConfigError, match="/feecast/hyperparameters: parameter missing"):
        load_config("/feecast", max_age=0)


def test_given_a_corrupt_parameter_then_config_error_naming_it(ssm: Stubber) -> None:
    answer(ssm, "target", '{"target_col": ')
    with pytest.raises(ConfigError, match="/feecast/target"):
        load_config("/feecast", max_age=0)
