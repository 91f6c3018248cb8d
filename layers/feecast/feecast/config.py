"""Configuration kept in SSM: the target, the DeepAR hyperparameters and the validation policy.

Each parameter is a JSON string (`${SSM_PREFIX}/target`, `/hyperparameters`, `/validation`)
created by the template with the defaults below and edited later without a deploy, so every
value is validated here and errors name the parameter, the field, the value and the rule.
Defaults come from the seed system; ranges from the DeepAR documentation (valid values, which
are wider than AWS's suggested tuning ranges).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from feecast.deepar_spec import DEEPAR_MIN_OBSERVATIONS, quantile_key
from feecast.feature_schema import AVG_FEE, TargetColumn
from feecast.features import DynamicFeature

__all__ = [
    "DEEPAR_DEFAULTS",
    "DEFAULT_PARAMETERS",
    "PARAMETER_MODELS",
    "ConfigError",
    "FeecastConfig",
    "Hyperparameters",
    "TargetConfig",
    "ValidationConfig",
    "freq_minutes",
    "parse_parameter",
    "sagemaker_horizon",
    "to_parameter_json",
]

Likelihood = Literal["student-T", "gaussian", "beta", "negative-binomial", "deterministic-L1"]

# DeepAR time_freq: an optional positive multiple of M, W, D, H or min ("5min", "2H", "D").
_FREQ = re.compile(r"^([1-9][0-9]*)?(min|H|D|W|M)$")
_FREQ_MINUTES = {"min": 1, "H": 60, "D": 1440, "W": 10080, "M": 43200}  # M ~ 30 days
FREQ_RULE = 'must be a DeepAR time_freq: an optional integer then M, W, D, H or min (e.g. "5min")'

MAX_PREDICTION_LENGTH = 400


class ConfigError(ValueError):
    """A configuration value breaks a rule; the message names parameter, field, value, rule.

    `ConfigError(parameter, problems)` builds "parameter: problem; problem";
    `ConfigError(message)` takes a ready message that starts with "parameter: ".
    """

    def __init__(self, parameter: str, problems: Sequence[str] | None = None) -> None:
        if problems is None:
            message = parameter
            parameter = parameter.partition(": ")[0]
            problems = [message.partition(": ")[2] or message]
        else:
            message = f"{parameter}: " + "; ".join(problems)
        self.parameter = parameter
        self.problems = tuple(problems)
        super().__init__(message)


def freq_minutes(freq: str) -> int:
    """Minutes in one step of a DeepAR time_freq ("5min" -> 5, "H" -> 60; "M" counts 30 days)."""
    match = _FREQ.match(freq)
    if match is None:
        raise ValueError(f"freq={freq!r} {FREQ_RULE}")
    return int(match.group(1) or 1) * _FREQ_MINUTES[match.group(2)]


def _check_freq(value: str) -> str:
    if _FREQ.match(value) is None:
        raise ValueError(FREQ_RULE)
    return value


class _Parameter(BaseModel):
    # strict: "30" or true is not silently turned into a number; extra keys are typos.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


class TargetConfig(_Parameter):
    """`${SSM_PREFIX}/target`: what to forecast and how much data a build uses."""

    target_col: TargetColumn = AVG_FEE
    prediction_length: int = Field(30, ge=1, le=MAX_PREDICTION_LENGTH)
    freq: str = "1min"
    validation_windows: int = Field(4, ge=1)
    min_train_points: int = Field(DEEPAR_MIN_OBSERVATIONS, ge=DEEPAR_MIN_OBSERVATIONS)
    history_days: int = Field(14, gt=0)
    # Known-in-advance DeepAR features written into every series (`dynamic_feat`).
    dynamic_features: list[DynamicFeature] = Field(default_factory=list)
    # Related series DeepAR also trains on (more examples of the same process); it still
    # forecasts only target_col.
    extra_series: list[TargetColumn] = Field(default_factory=list)

    @field_validator("dynamic_features", "extra_series")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("must not repeat a name")
        return v

    @model_validator(mode="after")
    def _extra_is_not_the_target(self) -> TargetConfig:
        if self.target_col in self.extra_series:
            raise ValueError(f"extra_series must not repeat target_col {self.target_col!r}")
        return self

    @field_validator("freq")
    @classmethod
    def _valid_freq(cls, v: str) -> str:
        return _check_freq(v)

    @model_validator(mode="after")
    def _history_covers_training(self) -> TargetConfig:
        # A build that can never gather enough points should fail at configuration time,
        # not minutes into a pipeline run.
        steps = self.history_days * 1440 // freq_minutes(self.freq)
        needed = self.min_train_points + self.prediction_length
        if steps < needed:
            raise ValueError(
                f"history_days={self.history_days} at freq={self.freq!r} gives {steps} points, "
                f"fewer than min_train_points + prediction_length = {needed}"
            )
        return self


class Hyperparameters(_Parameter):
    """`${SSM_PREFIX}/hyperparameters`: DeepAR training hyperparameters (seed defaults).

    context_length None means "the prediction length". prediction_length and time_freq are not
    stored here: they come from the target so the two cannot disagree.
    """

    epochs: int = Field(182, ge=1)
    early_stopping_patience: int | None = Field(40, ge=1)
    mini_batch_size: int = Field(77, ge=1)
    learning_rate: float = Field(4.5e-4, ge=1e-5, le=1e-1)
    # No upper bound: 1-200 is AWS's tuning range, and the default (= prediction_length) may
    # legitimately be up to 400.
    context_length: int | None = Field(None, ge=1)
    num_cells: int = Field(40, ge=1)
    num_layers: int = Field(2, ge=1, le=8)
    dropout_rate: float = Field(0.1, ge=0.0, lt=1.0)
    embedding_dimension: int = Field(10, ge=1)
    likelihood: Likelihood = "student-T"
    num_eval_samples: int = Field(100, ge=1)
    test_quantiles: list[Annotated[float, Field(gt=0.0, lt=1.0)]] | None = None

    @field_validator("test_quantiles")
    @classmethod
    def _distinct_quantiles(cls, v: list[float] | None) -> list[float] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("must not be empty (omit it for DeepAR's default)")
        if len({quantile_key(q) for q in v}) != len(v):
            raise ValueError("must not repeat a quantile")
        return sorted(v)

    def effective_context_length(self, prediction_length: int) -> int:
        return prediction_length if self.context_length is None else self.context_length

    def to_sagemaker(self, prediction_length: int, time_freq: str) -> dict[str, str]:
        """The HyperParameters map of CreateTrainingJob: every value a string, unset omitted."""
        _check_horizon(prediction_length, time_freq, "to_sagemaker")
        out: dict[str, str] = {
            "prediction_length": str(prediction_length),
            "context_length": str(self.effective_context_length(prediction_length)),
            "time_freq": time_freq,
        }
        for name, value in self.model_dump(exclude={"context_length"}).items():
            if value is None:
                continue
            if name == "test_quantiles":
                out[name] = "[" + ", ".join(quantile_key(q) for q in value) + "]"
            elif isinstance(value, float):
                out[name] = repr(value)  # shortest string that parses back to the same float
            else:
                out[name] = str(value)
        return out

    @classmethod
    def from_sagemaker(
        cls, hyperparameters: Mapping[str, str], *, source: str = "HyperParameters"
    ) -> Hyperparameters:
        """Parse and validate the string map a training job receives.

        prediction_length and time_freq are required (DeepAR requires them) and checked, but
        not kept; use `sagemaker_horizon` to read them. A key the job did not receive takes
        DeepAR's own default (mini_batch_size 128, ...), not the seed's: that is what the
        algorithm would run with. Errors are ConfigError naming `source`.
        """
        sagemaker_horizon(hyperparameters, source=source)  # validates; values not kept
        data: dict[str, Any] = {}
        problems: list[str] = []
        for name, raw in hyperparameters.items():
            if name in ("prediction_length", "time_freq"):
                continue
            if not isinstance(raw, str):
                problems.append(f"{name}={raw!r} must be a string (SageMaker passes strings)")
                continue
            if name == "test_quantiles":
                try:
                    data[name] = json.loads(raw)
                except json.JSONDecodeError:
                    problems.append(f"test_quantiles={raw!r} must be a list like [0.1, 0.5, 0.9]")
                continue
            data[name] = raw
        for required in ("epochs", "context_length"):
            if required not in hyperparameters:
                problems.append(f"{required} is required by DeepAR")
        if problems:
            raise ConfigError(source, problems)
        try:
            # Lax mode: here numbers arrive as strings, which is what SageMaker sends.
            return cls.model_validate({**DEEPAR_DEFAULTS, **data}, strict=False)
        except ValidationError as exc:
            raise ConfigError(source, _problems(exc, cls)) from None


# What DeepAR uses for an optional hyperparameter it does not receive (deepar_hyperparameters
# page); None = unset.
DEEPAR_DEFAULTS: dict[str, Any] = {
    "early_stopping_patience": None,
    "mini_batch_size": 128,
    "learning_rate": 1e-3,
    "num_cells": 40,
    "num_layers": 2,
    "dropout_rate": 0.1,
    "embedding_dimension": 10,
    "likelihood": "student-T",
    "num_eval_samples": 100,
    "test_quantiles": None,
}


def sagemaker_horizon(
    hyperparameters: Mapping[str, str], *, source: str = "HyperParameters"
) -> tuple[int, str]:
    """(prediction_length, time_freq) from a training job's HyperParameters, validated."""
    problems = []
    raw_length = hyperparameters.get("prediction_length")
    time_freq = hyperparameters.get("time_freq")
    prediction_length = 0
    if raw_length is None:
        problems.append("prediction_length is required by DeepAR")
    else:
        try:
            prediction_length = int(str(raw_length).strip())
        except ValueError:
            problems.append(f"prediction_length={raw_length!r} must be an integer")
        else:
            if not 1 <= prediction_length <= MAX_PREDICTION_LENGTH:
                problems.append(
                    f"prediction_length={prediction_length} must be between 1 and "
                    f"{MAX_PREDICTION_LENGTH}"
                )
    if time_freq is None:
        problems.append("time_freq is required by DeepAR")
    elif not isinstance(time_freq, str) or _FREQ.match(time_freq) is None:
        problems.append(f"time_freq={time_freq!r} {FREQ_RULE}")
    if problems:
        raise ConfigError(source, problems)
    assert time_freq is not None  # narrowed by the checks above
    return prediction_length, time_freq


def _check_horizon(prediction_length: int, time_freq: str, where: str) -> None:
    if (
        isinstance(prediction_length, bool)
        or not isinstance(prediction_length, int)
        or not 1 <= prediction_length <= MAX_PREDICTION_LENGTH
    ):
        raise ValueError(
            f"{where}: prediction_length={prediction_length!r} must be an integer between 1 "
            f"and {MAX_PREDICTION_LENGTH}"
        )
    if not isinstance(time_freq, str) or _FREQ.match(time_freq) is None:
        raise ValueError(f"{where}: time_freq={time_freq!r} {FREQ_RULE}")


RetrainWhen = Literal["model_degraded", "any"]


class ValidationConfig(_Parameter):
    """`${SSM_PREFIX}/validation`: the backtest, the gate, the alarm and the retraining rule.

    docs/build.md (the backtest and the gate) and docs/monitoring.md (the threshold and the
    alarm) explain each value in plain words.
    """

    # The alarm threshold: pooled mean wQL of the last `alarm_window_hours` hourly monitoring
    # windows. Every approved model sets it from its own backtest (`threshold_quantile` of its
    # rolling pooled loss); this is the value before the first approval.
    # The run publishes it every hour; the alarm (template.yaml, <stage>AccuracyAlarm) compares
    # the rolling loss with it, so a change here counts from the next run. How many hours in a
    # row is the alarm's shape: the template parameter AccuracyAlarmBreaches.
    threshold: float = Field(0.24, gt=0.0)
    # int | float keeps 90 as 90 when written back to SSM.
    confidence: Annotated[int | float, Field(gt=0, lt=100)] = 90
    # The backtest: the last `backtest_days` of a build's history are held out, and forecast
    # from an origin every `origin_spacing_minutes` (7 days every 30 minutes: 336 windows).
    backtest_days: float = Field(7.0, gt=0.0)
    origin_spacing_minutes: int = Field(30, ge=1, le=1440)
    bootstrap_block_hours: float = Field(6.0, gt=0.0)
    bootstrap_resamples: int = Field(2000, ge=200, le=20000)
    # The gate, on the 95% interval of each pooled ratio: candidate/naive below 1 - naive_margin,
    # candidate/production below 1 + production_tolerance, candidate/robust below
    # 1 + robust_tolerance when that is set (None: reported, not required); and the backtest
    # loss at most max_loss (a sanity cap, on the same quantiles). The defaults let models of
    # equal quality through (bench: gate_simulation; docs/build.md says why naive_margin is
    # negative on noisy minutes, and when to raise it).
    naive_margin: float = Field(-0.2, gt=-10.0, lt=1.0)
    production_tolerance: float = Field(0.15, ge=0.0)
    robust_tolerance: float | None = Field(None, gt=-1.0)
    max_loss: float = Field(0.5, gt=0.0)
    # Threshold and alarm.
    threshold_quantile: float = Field(0.99, ge=0.5, lt=1.0)
    alarm_window_hours: int = Field(6, ge=1, le=24)
    # Retraining on an alarm: "model_degraded" rebuilds only when the model lost its edge over
    # the naive forecast (pooled model/naive ratio over the alarm window above degraded_ratio);
    # "any" rebuilds on every alarm.
    retrain_when: RetrainWhen = "model_degraded"
    degraded_ratio: float = Field(1.0, gt=0.0)

    @property
    def quantiles(self) -> tuple[str, str, str]:
        """(lower, median, upper) quantile keys of the central interval: 90 -> 0.05/0.5/0.95."""
        tail = (100 - self.confidence) / 200
        return quantile_key(tail), "0.5", quantile_key(1 - tail)

    @property
    def backtest_minutes(self) -> int:
        return round(self.backtest_days * 1440)

    def backtest_origins(self, prediction_length: int, step_minutes: int = 1) -> int:
        """How many origins the backtest holds (before any is skipped for missing data)."""
        steps = self.backtest_minutes // step_minutes
        spacing = max(1, self.origin_spacing_minutes // step_minutes)
        return 0 if steps < prediction_length else (steps - prediction_length) // spacing + 1


class FeecastConfig(BaseModel):
    """All three parameters together, as `load_config()` returns them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: TargetConfig = Field(default_factory=TargetConfig)
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)

    @model_validator(mode="after")
    def _backtest_fits_history(self) -> FeecastConfig:
        # A build holds out the backtest from its history: both must fit, or every build fails.
        step = freq_minutes(self.target.freq)
        steps = self.target.history_days * 1440 // step
        held = self.validation.backtest_minutes // step
        origins = self.validation.backtest_origins(self.target.prediction_length, step)
        problems = []
        if origins < 1:
            problems.append(
                f"validation.backtest_days={self.validation.backtest_days} holds no "
                f"{self.target.prediction_length}-step window: no origin to backtest"
            )
        if steps - held < self.target.min_train_points:
            problems.append(
                f"target.history_days={self.target.history_days} minus "
                f"validation.backtest_days={self.validation.backtest_days} leaves "
                f"{max(steps - held, 0)} training points, fewer than target.min_train_points="
                f"{self.target.min_train_points}"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @classmethod
    def from_parameters(cls, values: Mapping[str, str], prefix: str = "/feecast") -> FeecastConfig:
        """Build from raw SSM values keyed by full name ("/feecast/target") or by suffix."""
        parsed: dict[str, BaseModel] = {}
        for suffix, model in PARAMETER_MODELS.items():
            name = f"{prefix.rstrip('/')}/{suffix}"
            raw = values.get(name, values.get(suffix))
            if raw is None:
                raise ConfigError(name, ["parameter is missing"])
            parsed[suffix] = parse_parameter(name, raw, model)
        return cls.assemble(parsed, prefix)

    @classmethod
    def assemble(cls, parsed: Mapping[str, BaseModel], prefix: str = "/feecast") -> FeecastConfig:
        """The three parsed parameters together; the rules across them (the backtest must fit
        in the history) raise ConfigError naming the validation parameter."""
        try:
            return cls.model_validate(dict(parsed))
        except ValidationError as exc:
            raise ConfigError(f"{prefix.rstrip('/')}/validation", _problems(exc, cls)) from None

    def to_parameters(self, prefix: str = "/feecast") -> dict[str, str]:
        """Full parameter name -> JSON string, the form written to SSM."""
        return {
            f"{prefix.rstrip('/')}/{suffix}": to_parameter_json(getattr(self, suffix))
            for suffix in PARAMETER_MODELS
        }


M = TypeVar("M", bound=BaseModel)

PARAMETER_MODELS: dict[str, type[BaseModel]] = {
    "target": TargetConfig,
    "hyperparameters": Hyperparameters,
    "validation": ValidationConfig,
}


def _fmt_value(value: object) -> str:
    # JSON spelling, because that is what the operator typed into SSM.
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


# Keys that moved elsewhere: the error says where, not just "unknown".
_MOVED = {
    "consecutive_breaches_to_alarm": "the accuracy alarm is a template resource; set the "
    "template parameter AccuracyAlarmBreaches (sam deploy --parameter-overrides)",
}

_RULES = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
}


def _problems(exc: ValidationError, model: type[BaseModel]) -> list[str]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        kind = err["type"]
        ctx = err.get("ctx", {})
        field = _field_path(loc)
        if kind == "extra_forbidden":
            if field in _MOVED:
                problems.append(f"{field!r} is no longer read here: {_MOVED[field]}")
                continue
            allowed = ", ".join(model.model_fields)
            problems.append(f"unknown key {field!r} (allowed: {allowed})")
            continue
        if kind == "missing":
            problems.append(f"{field} is required")
            continue
        if kind in _RULES:
            rule = _RULES[kind].format(**ctx)
        elif kind == "literal_error":
            rule = f"must be one of {ctx.get('expected')}"
        elif kind.startswith("int"):
            rule = "must be an integer"
        elif kind.startswith("float") or kind == "finite_number":
            rule = "must be a finite number"
        elif kind == "value_error":
            rule = str(ctx.get("error", err["msg"]))
        else:
            rule = err["msg"][:1].lower() + err["msg"][1:]
        if not loc:  # a rule across fields: the message names them itself
            problems.append(rule)
        else:
            problems.append(f"{field}={_fmt_value(err.get('input'))} {rule}")
    return problems


def parse_parameter(name: str, raw: str, model: type[M]) -> M:
    """Validate the JSON string of SSM parameter `name` with `model`; ConfigError if invalid."""
    if not isinstance(raw, str | bytes):
        raise ConfigError(name, [f"value must be a JSON string, got {type(raw).__name__}"])
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            name, [f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"]
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(name, [f"must be a JSON object, got {type(data).__name__}"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(name, _problems(exc, model)) from None


def to_parameter_json(model: BaseModel) -> str:
    """The JSON string stored in SSM (unset optionals omitted, compact)."""
    return model.model_dump_json(exclude_none=True)


DEFAULT_PARAMETERS: dict[str, str] = {
    suffix: to_parameter_json(model()) for suffix, model in PARAMETER_MODELS.items()
}
