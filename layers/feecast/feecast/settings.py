"""Function configuration from environment variables, validated once at cold start.

Each handler declares a pydantic model of the variables it needs; `load_settings` builds it
from os.environ (field `state_table` <- variable `STATE_TABLE`). A missing or invalid variable
raises SettingsError naming the variable, so a bad deployment fails loudly at its first call.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError


class SettingsError(RuntimeError):
    """The function's environment is incomplete or invalid."""


class BaseSettings(BaseModel):
    """Common variables every feecast function receives (template.yaml Globals)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    project_name: str
    ssm_prefix: str


SettingsT = TypeVar("SettingsT", bound=BaseModel)


def load_settings(model: type[SettingsT], environ: Mapping[str, str] | None = None) -> SettingsT:
    """Build `model` from environment variables named after its fields, upper-cased."""
    env = os.environ if environ is None else environ
    values = {name: env[name.upper()] for name in model.model_fields if name.upper() in env}
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{str(err['loc'][0]).upper()}: {err['msg']}" for err in exc.errors() if err["loc"]
        )
        raise SettingsError(f"invalid function environment: {problems}") from exc
