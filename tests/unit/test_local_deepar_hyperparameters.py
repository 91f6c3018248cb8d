"""The local DeepAR reads hyperparameters as SageMaker passes them: a map of strings."""

from __future__ import annotations

import sys

import pytest

from feecast_twin.deepar import ClientError, parse_hyperparameters

BASE = {"epochs": "3", "prediction_length": "30", "context_length": "30", "time_freq": "1min"}


def test_given_required_only_when_parsed_then_deepar_defaults_fill_the_rest() -> None:
    s = parse_hyperparameters(BASE)
    assert (s.epochs, s.prediction_length, s.context_length, s.time_freq) == (3, 30, 30, "1min")
    # DeepAR's documented defaults, not the project's seed defaults.
    assert s.mini_batch_size == 128
    assert s.learning_rate == pytest.approx(1e-3)
    assert (s.num_cells, s.num_layers, s.dropout_rate) == (40, 2, pytest.approx(0.1))
    assert s.likelihood == "student-T"
    assert s.early_stopping_patience is None
    assert s.test_quantiles == (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    assert s.cardinality == "auto" and s.num_dynamic_feat == "auto"


def test_given_every_hyperparameter_as_string_when_parsed_then_typed() -> None:
    s = parse_hyperparameters(
        {
            **BASE,
            "mini_batch_size": "32",
            "learning_rate": "0.005",
            "num_cells": "20",
            "num_layers": "1",
            "dropout_rate": "0.05",
            "likelihood": "gaussian",
            "early_stopping_patience": "4",
            "embedding_dimension": "5",
            "num_eval_samples": "50",
            "test_quantiles": "[0.9, 0.1, 0.5]",
            "cardinality": "[3, 2]",
            "num_dynamic_feat": "ignore",
        }
    )
    assert s.mini_batch_size == 32 and s.learning_rate == pytest.approx(0.005)
    assert (s.num_cells, s.num_layers, s.early_stopping_patience) == (20, 1, 4)
    assert s.likelihood == "gaussian" and s.num_eval_samples == 50
    assert s.test_quantiles == (0.1, 0.5, 0.9)
    assert s.cardinality == (3, 2) and s.num_dynamic_feat == "ignore"


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"epochs": "many"}, "epochs"),
        ({"epochs": None}, "epochs is required"),
        ({"prediction_length": None}, "prediction_length is required"),
        ({"time_freq": "fortnight"}, "time_freq"),
        ({"likelihood": "poisson"}, "likelihood"),
        ({"dropout_rate": "1.5"}, "dropout_rate"),
        ({"test_quantiles": "0.5"}, "test_quantiles"),
        ({"cardinality": "three"}, "cardinality"),
        ({"num_dynamic_feat": "-1"}, "num_dynamic_feat"),
        ({"no_such_hyperparameter": "1"}, "no_such_hyperparameter"),
        ({"epochs": 3}, "must be a string"),
    ],
)
def test_given_an_invalid_hyperparameter_when_parsed_then_client_error_names_it(
    change: dict[str, object], fragment: str
) -> None:
    hp: dict[str, object] = {**BASE, **change}
    hp = {k: v for k, v in hp.items() if v is not None}
    with pytest.raises(ClientError, match=fragment) as info:
        parse_hyperparameters(hp)  # type: ignore[arg-type]
    assert info.value.failure_reason.startswith("ClientError: ")


def test_hourly_frequency_is_spelled_for_pandas() -> None:
    assert parse_hyperparameters({**BASE, "time_freq": "2H"}).pandas_freq == "2h"
    assert parse_hyperparameters({**BASE, "time_freq": "5min"}).pandas_freq == "5min"


def test_the_twin_package_imports_without_gluonts_or_torch() -> None:
    # Importing the twin (and formatting requests) must stay fast: gluonts takes ~5 s.
    import subprocess

    code = (
        "import sys, feecast_twin, feecast_twin.deepar, feecast_twin.sagemaker;"
        "bad=[m for m in ('gluonts','torch','lightning') if m in sys.modules];"
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
