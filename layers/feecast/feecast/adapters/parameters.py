"""The SSM parameters feecast keeps (target, hyperparameters, validation), read and written.

Reads go through Powertools Parameters (cached for `max_age` seconds per execution
environment); every value is validated by the models in feecast.config, so a bad value fails
with the parameter's name and the rule it breaks (ConfigError). SSM throttled or failing on its
side after the SDK's retries raises AwsThrottled instead, which the state machines retry.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities import parameters

from feecast.adapters import clients
from feecast.adapters.errors import AwsThrottled, is_transient
from feecast.config import (
    PARAMETER_MODELS,
    ConfigError,
    FeecastConfig,
    ValidationConfig,
    parse_parameter,
)

# Short enough that a threshold changed by a deployment is seen within a minute.
DEFAULT_MAX_AGE = 60


def parameter_name(prefix: str, suffix: str) -> str:
    return f"{prefix.rstrip('/')}/{suffix}"


def _get(name: str, max_age: int) -> str:
    try:
        value = parameters.get_parameter(name, max_age=max_age)
    except parameters.exceptions.GetParameterError as exc:
        # Powertools wraps the SDK's error (raised inside its `except`, so it is the context).
        # SSM throttled or failing on its side is transient: the state's Retry repeats the
        # step (AwsThrottled); a missing or refused parameter is a configuration error.
        sdk_error = exc.__cause__ or exc.__context__
        if sdk_error is not None and is_transient(sdk_error):
            raise AwsThrottled(
                f"GetParameter {name} throttled or unavailable after the SDK's retries "
                f"({sdk_error})"
            ) from sdk_error
        raise ConfigError(f"{name}: parameter missing or unreadable ({exc})") from exc
    return str(value)


def load_config(prefix: str, *, max_age: int = DEFAULT_MAX_AGE) -> FeecastConfig:
    """Read and validate the three parameters under `prefix` (for example "/feecast")."""
    parsed = {}
    for suffix, model in PARAMETER_MODELS.items():  # target, hyperparameters, validation
        name = parameter_name(prefix, suffix)
        parsed[suffix] = parse_parameter(name, _get(name, max_age), model)
    return FeecastConfig.assemble(parsed, prefix)


def _ssm() -> Any:
    return clients.client("ssm")


def write_validation(prefix: str, validation: ValidationConfig) -> int:
    """Overwrite the validation parameter; returns the new SSM version (history keeps the old)."""
    response = _ssm().put_parameter(
        Name=parameter_name(prefix, "validation"),
        Value=validation.model_dump_json(exclude_none=True),
        Type="String",
        Overwrite=True,
    )
    return int(response["Version"])
