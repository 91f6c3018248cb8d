"""DeepAR hyperparameters as CreateTrainingJob passes them (a map of strings) -> DeepARSettings.

Validation reuses the project's own rules (`feecast.config.Hyperparameters.from_sagemaker` and
`sagemaker_horizon`), so a value the build pipeline would write is judged the same way here.
Two things differ from the project's model, because the twin plays the algorithm:
- a hyperparameter that is not sent takes DeepAR's documented default (mini_batch_size 128,
  learning_rate 1e-3, ...), not the project's seed default;
- `cardinality` and `num_dynamic_feat` (DeepAR-only, absent from the project model) are parsed
  here.
Any problem raises ClientError, which fails the job with "ClientError: ..." as SageMaker does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from feecast_twin.deepar.errors import ClientError

# DeepAR's documented default when test_quantiles is not sent (deepar_hyperparameters.html);
# the other defaults are feecast.config.DEEPAR_DEFAULTS, which from_sagemaker already applies.
DEFAULT_TEST_QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

_DEEPAR_ONLY = ("cardinality", "num_dynamic_feat")
_FREQ = re.compile(r"^([1-9][0-9]*)?(min|H|D|W|M)$")


@dataclass(frozen=True)
class DeepARSettings:
    """Typed, validated DeepAR hyperparameters (every field has its effective value)."""

    prediction_length: int
    context_length: int
    time_freq: str
    epochs: int
    mini_batch_size: int = 128
    learning_rate: float = 1e-3
    num_cells: int = 40
    num_layers: int = 2
    dropout_rate: float = 0.1
    likelihood: str = "student-T"
    early_stopping_patience: int | None = None
    embedding_dimension: int = 10
    num_eval_samples: int = 100
    test_quantiles: tuple[float, ...] = DEFAULT_TEST_QUANTILES
    # "auto" (use "cat" when every series has it), "ignore", or explicit category counts.
    cardinality: str | tuple[int, ...] = "auto"
    # "auto" (use "dynamic_feat" when present), "ignore", or the expected number of features.
    num_dynamic_feat: str | int = "auto"
    raw: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def pandas_freq(self) -> str:
        """time_freq spelled for pandas >= 2.2 ("H" is deprecated there in favour of "h")."""
        match = _FREQ.match(self.time_freq)
        assert match is not None  # validated in parse_hyperparameters
        mult, unit = match.group(1) or "", match.group(2)
        return f"{mult}{'h' if unit == 'H' else unit}"

    def to_json(self) -> dict[str, Any]:
        """What model.tar.gz keeps beside the network (hyperparameters.json)."""
        return {
            "prediction_length": self.prediction_length,
            "context_length": self.context_length,
            "time_freq": self.time_freq,
            "epochs": self.epochs,
            "mini_batch_size": self.mini_batch_size,
            "learning_rate": self.learning_rate,
            "num_cells": self.num_cells,
            "num_layers": self.num_layers,
            "dropout_rate": self.dropout_rate,
            "likelihood": self.likelihood,
            "early_stopping_patience": self.early_stopping_patience,
            "embedding_dimension": self.embedding_dimension,
            "num_eval_samples": self.num_eval_samples,
            "test_quantiles": list(self.test_quantiles),
            "cardinality": self.cardinality
            if isinstance(self.cardinality, str)
            else list(self.cardinality),
            "num_dynamic_feat": self.num_dynamic_feat,
            "hyperparameters": dict(self.raw),
        }


def _parse_cardinality(raw: str) -> str | tuple[int, ...]:
    value = raw.strip()
    if value in ("auto", "ignore", ""):
        return value or "auto"
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = None
    if (
        isinstance(parsed, list)
        and parsed
        and all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in parsed)
    ):
        return tuple(parsed)
    raise ClientError(
        f"Hyperparameter cardinality={raw!r} must be 'auto', 'ignore' or a list of positive "
        "integers such as [2, 3]"
    )


def _parse_num_dynamic_feat(raw: str) -> str | int:
    value = raw.strip()
    if value in ("auto", "ignore"):
        return value
    if value.isdigit():
        return int(value)
    raise ClientError(
        f"Hyperparameter num_dynamic_feat={raw!r} must be 'auto', 'ignore' or an integer >= 0"
    )


def parse_hyperparameters(hyperparameters: Mapping[str, str] | None) -> DeepARSettings:
    """Validate a training job's HyperParameters; ClientError names every problem."""
    # Imported here so a twin without the layer on its path fails with a clear ImportError
    # only when a job runs.
    from feecast.config import DEEPAR_DEFAULTS, ConfigError, Hyperparameters, sagemaker_horizon

    raw = dict(hyperparameters or {})
    for name, value in raw.items():
        if not isinstance(value, str):
            raise ClientError(
                f"Hyperparameter {name}={value!r} must be a string (CreateTrainingJob passes "
                "every hyperparameter as a string)"
            )
    deepar_only = {name: raw.pop(name) for name in _DEEPAR_ONLY if name in raw}
    try:
        prediction_length, time_freq = sagemaker_horizon(raw)
        model = Hyperparameters.from_sagemaker(raw)
    except ConfigError as exc:
        raise ClientError(f"Invalid hyperparameters: {'; '.join(exc.problems)}") from None

    # A hyperparameter not sent already holds DeepAR's default (from_sagemaker applies them).
    values: dict[str, Any] = {name: getattr(model, name) for name in DEEPAR_DEFAULTS}
    values["test_quantiles"] = tuple(
        float(q) for q in (model.test_quantiles or DEFAULT_TEST_QUANTILES)
    )
    if model.context_length is None:  # from_sagemaker requires it; defensive
        raise ClientError("Invalid hyperparameters: context_length is required by DeepAR")
    cardinality = _parse_cardinality(deepar_only.get("cardinality", "auto"))
    num_dynamic_feat = _parse_num_dynamic_feat(deepar_only.get("num_dynamic_feat", "auto"))
    return DeepARSettings(
        prediction_length=prediction_length,
        context_length=model.context_length,
        time_freq=time_freq,
        epochs=model.epochs,
        cardinality=cardinality,
        num_dynamic_feat=num_dynamic_feat,
        raw=dict(hyperparameters or {}),
        **values,
    )
