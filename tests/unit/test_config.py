"""Configuration models for the SSM parameters (feecast.config)."""

from __future__ import annotations

import json

import pytest
from feecast.config import (
    DEFAULT_PARAMETERS,
    PARAMETER_MODELS,
    ConfigError,
    FeecastConfig,
    Hyperparameters,
    TargetConfig,
    ValidationConfig,
    freq_minutes,
    parse_parameter,
    sagemaker_horizon,
    to_parameter_json,
)
from hypothesis import given
from hypothesis import strategies as st

HP = "/feecast/hyperparameters"
TARGET = "/feecast/target"
VALIDATION = "/feecast/validation"


def error_of(name: str, raw: str, model: type) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_parameter(name, raw, model)
    return info.value


# -- defaults -------------------------------------------------------------------------------
def test_given_no_values_when_building_target_then_seed_defaults_apply() -> None:
    target = TargetConfig()
    assert (target.target_col, target.prediction_length, target.freq) == (
        "avg_fee_1min",
        30,
        "1min",
    )
    assert (target.validation_windows, target.min_train_points, target.history_days) == (4, 300, 14)


def test_given_no_values_when_building_hyperparameters_then_seed_defaults_apply() -> None:
    hp = Hyperparameters()
    assert hp.epochs == 182
    assert hp.early_stopping_patience == 40
    assert hp.mini_batch_size == 77
    assert hp.learning_rate == pytest.approx(4.5e-4)
    assert hp.context_length is None
    assert (hp.num_cells, hp.num_layers, hp.dropout_rate) == (40, 2, 0.1)
    assert (hp.embedding_dimension, hp.likelihood, hp.num_eval_samples) == (10, "student-T", 100)
    assert hp.test_quantiles is None


def test_given_no_values_when_building_validation_then_seed_defaults_apply() -> None:
    v = ValidationConfig()
    assert v.threshold == 0.24
    assert v.confidence == 90
    assert v.quantiles == ("0.05", "0.5", "0.95")
    # 7 days held out, an origin every 30 minutes: 336 backtest windows of 30 minutes.
    assert v.backtest_origins(30) == 336
    assert v.robust_tolerance is None  # the robust baseline is reported, not required
    assert v.retrain_when == "model_degraded" and v.degraded_ratio == 1.0


def test_given_default_parameters_then_each_parses_back_to_the_model_defaults() -> None:
    assert set(DEFAULT_PARAMETERS) == {"target", "hyperparameters", "validation"}
    for suffix, raw in DEFAULT_PARAMETERS.items():
        model = PARAMETER_MODELS[suffix]
        assert parse_parameter(f"/feecast/{suffix}", raw, model) == model()


def test_given_default_validation_json_then_it_reads_as_the_conventions_document_it() -> None:
    data = json.loads(DEFAULT_PARAMETERS["validation"])
    assert set(data) == {
        "threshold",
        "confidence",
        "backtest_days",
        "origin_spacing_minutes",
        "bootstrap_block_hours",
        "bootstrap_resamples",
        "naive_margin",
        "production_tolerance",
        "max_loss",
        "threshold_quantile",
        "alarm_window_hours",
        "retrain_when",
        "degraded_ratio",
    }  # robust_tolerance (None) is left out
    assert isinstance(data["confidence"], int)  # 90, not 90.0, when written back to SSM


def test_given_default_hyperparameters_json_then_unset_optionals_are_omitted() -> None:
    data = json.loads(DEFAULT_PARAMETERS["hyperparameters"])
    assert "context_length" not in data and "test_quantiles" not in data
    assert data["learning_rate"] == pytest.approx(4.5e-4)


# -- parse_parameter: message format --------------------------------------------------------
def test_given_learning_rate_2_when_parsing_then_message_names_parameter_field_value_rule() -> None:
    err = error_of(HP, '{"learning_rate": 2.0}', Hyperparameters)
    assert str(err) == "/feecast/hyperparameters: learning_rate=2.0 must be <= 0.1"
    assert err.parameter == HP
    assert err.problems == ("learning_rate=2.0 must be <= 0.1",)
    assert isinstance(err, ValueError)


def test_given_two_bad_fields_when_parsing_then_both_are_reported() -> None:
    err = error_of(HP, '{"epochs": 0, "num_layers": 9}', Hyperparameters)
    assert "epochs=0 must be >= 1" in str(err)
    assert "num_layers=9 must be <= 8" in str(err)
    assert len(err.problems) == 2


def test_given_unknown_key_when_parsing_then_error_names_the_key() -> None:
    err = error_of(HP, '{"epochz": 10}', Hyperparameters)
    assert "unknown key 'epochz'" in str(err)
    assert str(err).startswith(HP + ": ")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("{bad json", "not valid JSON"),
        ("", "not valid JSON"),
        ("[1, 2]", "must be a JSON object, got list"),
        ('"text"', "must be a JSON object, got str"),
    ],
)
def test_given_malformed_json_when_parsing_then_config_error_names_parameter(
    raw: str, expected: str
) -> None:
    err = error_of(TARGET, raw, TargetConfig)
    assert str(err).startswith(TARGET + ": ")
    assert expected in str(err)


def test_given_non_string_value_when_parsing_then_config_error() -> None:
    with pytest.raises(ConfigError, match="must be a JSON string"):
        parse_parameter(TARGET, 30, TargetConfig)  # type: ignore[arg-type]


# -- parse_parameter: every rule --------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"target_col": "fee"}', 'target_col="fee" must be one of'),
        ('{"prediction_length": 0}', "prediction_length=0 must be >= 1"),
        ('{"prediction_length": 401}', "prediction_length=401 must be <= 400"),
        ('{"prediction_length": "30"}', 'prediction_length="30" must be an integer'),
        ('{"prediction_length": 30.5}', "prediction_length=30.5 must be an integer"),
        ('{"prediction_length": true}', "prediction_length=true must be an integer"),
        ('{"freq": "2x"}', 'freq="2x" must be a DeepAR time_freq'),
        ('{"validation_windows": 0}', "validation_windows=0 must be >= 1"),
        ('{"min_train_points": 299}', "min_train_points=299 must be >= 300"),
        ('{"history_days": 0}', "history_days=0 must be > 0"),
        ('{"freq": "D"}', "history_days=14 at freq='D' gives 14 points"),
    ],
)
def test_given_bad_target_value_when_parsing_then_rule_is_named(raw: str, expected: str) -> None:
    err = error_of(TARGET, raw, TargetConfig)
    assert str(err).startswith(TARGET + ": ")
    assert expected in str(err)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"epochs": 0}', "epochs=0 must be >= 1"),
        ('{"early_stopping_patience": 0}', "early_stopping_patience=0 must be >= 1"),
        ('{"mini_batch_size": 0}', "mini_batch_size=0 must be >= 1"),
        ('{"learning_rate": 1e-6}', "learning_rate=1e-06 must be >= 1e-05"),
        ('{"learning_rate": 2.0}', "learning_rate=2.0 must be <= 0.1"),
        ('{"learning_rate": "0.001"}', 'learning_rate="0.001" must be a finite number'),
        ('{"context_length": 0}', "context_length=0 must be >= 1"),
        ('{"num_cells": 0}', "num_cells=0 must be >= 1"),
        ('{"num_layers": 0}', "num_layers=0 must be >= 1"),
        ('{"num_layers": 9}', "num_layers=9 must be <= 8"),
        ('{"dropout_rate": -0.1}', "dropout_rate=-0.1 must be >= 0.0"),
        ('{"dropout_rate": 1.0}', "dropout_rate=1.0 must be < 1.0"),
        ('{"embedding_dimension": 0}', "embedding_dimension=0 must be >= 1"),
        ('{"likelihood": "poisson"}', 'likelihood="poisson" must be one of'),
        ('{"num_eval_samples": 0}', "num_eval_samples=0 must be >= 1"),
        ('{"test_quantiles": [0.1, 1.5]}', "test_quantiles[1]=1.5 must be < 1.0"),
        ('{"test_quantiles": [0.0]}', "test_quantiles[0]=0.0 must be > 0.0"),
        ('{"test_quantiles": []}', "test_quantiles=[] must not be empty"),
        ('{"test_quantiles": [0.5, 0.50]}', "must not repeat a quantile"),
    ],
)
def test_given_bad_hyperparameter_when_parsing_then_rule_is_named(raw: str, expected: str) -> None:
    err = error_of(HP, raw, Hyperparameters)
    assert str(err).startswith(HP + ": ")
    assert expected in str(err)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"threshold": 0}', "threshold=0 must be > 0.0"),
        ('{"threshold": -0.1}', "threshold=-0.1 must be > 0.0"),
        ('{"backtest_days": 0}', "backtest_days=0 must be > 0.0"),
        ('{"threshold_quantile": 0.3}', "threshold_quantile=0.3 must be >= 0.5"),
        ('{"retrain_when": "never"}', 'retrain_when="never" must be one of'),
        ('{"bootstrap_resamples": 10}', "bootstrap_resamples=10 must be >= 200"),
        (
            '{"consecutive_breaches_to_alarm": 2}',
            "'consecutive_breaches_to_alarm' is no longer read here: the accuracy alarm is a "
            "template resource; set the template parameter AccuracyAlarmBreaches",
        ),
        ('{"confidence": 0}', "confidence=0 must be > 0"),
        ('{"confidence": 100}', "confidence=100 must be < 100"),
        ('{"naive_margin": 1.0}', "naive_margin=1.0 must be < 1.0"),
        ('{"production_tolerance": -0.5}', "production_tolerance=-0.5 must be >= 0.0"),
        ('{"consecutive_breach_to_alarm": 3}', "unknown key 'consecutive_breach_to_alarm'"),
    ],
)
def test_given_bad_validation_value_when_parsing_then_rule_is_named(
    raw: str, expected: str
) -> None:
    err = error_of(VALIDATION, raw, ValidationConfig)
    assert str(err).startswith(VALIDATION + ": ")
    assert expected in str(err)


def test_given_values_at_the_valid_not_tuning_range_when_parsing_then_accepted() -> None:
    """AWS's tuning ranges (dropout 0-0.2, mini_batch 32-1028, num_cells 30-200) are advice."""
    hp = parse_parameter(
        HP,
        '{"dropout_rate": 0.5, "mini_batch_size": 8, "num_cells": 5, "epochs": 5000,'
        ' "context_length": 400}',
        Hyperparameters,
    )
    assert (hp.dropout_rate, hp.mini_batch_size, hp.num_cells, hp.epochs) == (0.5, 8, 5, 5000)
    assert hp.context_length == 400


def test_given_partial_json_when_parsing_then_missing_fields_take_defaults() -> None:
    target = parse_parameter(
        TARGET, '{"prediction_length": 5, "validation_windows": 10}', TargetConfig
    )
    assert target.prediction_length == 5
    assert target.validation_windows == 10
    assert target.target_col == "avg_fee_1min"


def test_given_a_parsed_model_then_it_is_immutable() -> None:
    v = ValidationConfig()
    with pytest.raises(ValueError):
        v.threshold = 0.1  # type: ignore[misc]


# -- freq -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("freq", "minutes"),
    [("1min", 1), ("min", 1), ("5min", 5), ("H", 60), ("2H", 120), ("D", 1440), ("W", 10080)],
)
def test_given_deepar_freq_then_it_is_accepted_and_its_minutes_known(
    freq: str, minutes: int
) -> None:
    assert freq_minutes(freq) == minutes
    assert TargetConfig(freq=freq, history_days=3650).freq == freq


@pytest.mark.parametrize("freq", ["0min", "min5", "1m", "h", "5 min", "", "1.5H", "05min"])
def test_given_bad_freq_then_rejected(freq: str) -> None:
    with pytest.raises(ValueError, match="time_freq"):
        freq_minutes(freq)
    err = error_of(TARGET, json.dumps({"freq": freq}), TargetConfig)
    assert "must be a DeepAR time_freq" in str(err)


# -- to_sagemaker / from_sagemaker ----------------------------------------------------------
def test_given_defaults_when_rendering_for_sagemaker_then_every_value_is_a_string() -> None:
    out = Hyperparameters().to_sagemaker(30, "1min")
    assert out == {
        "prediction_length": "30",
        "context_length": "30",
        "time_freq": "1min",
        "epochs": "182",
        "early_stopping_patience": "40",
        "mini_batch_size": "77",
        "learning_rate": "0.00045",
        "num_cells": "40",
        "num_layers": "2",
        "dropout_rate": "0.1",
        "embedding_dimension": "10",
        "likelihood": "student-T",
        "num_eval_samples": "100",
    }


def test_given_explicit_context_and_quantiles_when_rendering_then_they_are_used() -> None:
    hp = Hyperparameters(
        context_length=60, test_quantiles=[0.95, 0.05, 0.5], early_stopping_patience=None
    )
    out = hp.to_sagemaker(5, "5min")
    assert out["context_length"] == "60"
    assert out["prediction_length"] == "5"
    assert out["time_freq"] == "5min"
    assert out["test_quantiles"] == "[0.05, 0.5, 0.95]"  # sorted, canonical
    assert "early_stopping_patience" not in out


@pytest.mark.parametrize(("length", "freq"), [(0, "1min"), (401, "1min"), (30, "1x"), (True, "H")])
def test_given_bad_horizon_when_rendering_then_value_error(length: int, freq: str) -> None:
    with pytest.raises(ValueError, match="to_sagemaker"):
        Hyperparameters().to_sagemaker(length, freq)


hyperparameters_strategy = st.builds(
    Hyperparameters,
    epochs=st.integers(1, 2000),
    early_stopping_patience=st.none() | st.integers(1, 100),
    mini_batch_size=st.integers(1, 2048),
    learning_rate=st.floats(1e-5, 1e-1),
    context_length=st.none() | st.integers(1, 1000),
    num_cells=st.integers(1, 300),
    num_layers=st.integers(1, 8),
    dropout_rate=st.floats(0.0, 0.99),
    embedding_dimension=st.integers(1, 50),
    likelihood=st.sampled_from(
        ["student-T", "gaussian", "beta", "negative-binomial", "deterministic-L1"]
    ),
    num_eval_samples=st.integers(1, 500),
    test_quantiles=st.none()
    | st.lists(st.sampled_from([0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95]), min_size=1, unique=True),
)


@given(hp=hyperparameters_strategy, length=st.integers(1, 400))
def test_given_any_valid_hyperparameters_when_round_tripping_sagemaker_strings_then_unchanged(
    hp: Hyperparameters, length: int
) -> None:
    rendered = hp.to_sagemaker(length, "1min")
    assert all(isinstance(v, str) for v in rendered.values())
    parsed = Hyperparameters.from_sagemaker(rendered)
    assert parsed.to_sagemaker(length, "1min") == rendered
    assert parsed.learning_rate == hp.learning_rate  # exact: repr round-trips floats
    assert sagemaker_horizon(rendered) == (length, "1min")


def _job(**overrides: str) -> dict[str, str]:
    base = Hyperparameters().to_sagemaker(30, "1min")
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    ("hyperparameters", "expected"),
    [
        (_job(epochs="ten"), 'epochs="ten" must be an integer'),
        (_job(learning_rate="1"), 'learning_rate="1" must be <= 0.1'),
        (_job(num_layers="1.5"), 'num_layers="1.5" must be an integer'),
        (_job(cardinality="auto"), "unknown key 'cardinality'"),
        (_job(test_quantiles="0.1,0.5"), "test_quantiles='0.1,0.5' must be a list"),
        (_job(prediction_length="x"), "prediction_length='x' must be an integer"),
        (_job(prediction_length="500"), "prediction_length=500 must be between 1 and 400"),
        (_job(time_freq="minute"), "time_freq='minute' must be a DeepAR time_freq"),
        (_job(dropout_rate="nan"), 'dropout_rate="nan" must be a finite number'),
    ],
)
def test_given_bad_training_job_strings_when_parsing_then_config_error_names_the_field(
    hyperparameters: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Hyperparameters.from_sagemaker(hyperparameters)
    assert str(info.value).startswith("HyperParameters: ")
    assert expected in str(info.value)


@pytest.mark.parametrize("missing", ["epochs", "context_length", "prediction_length", "time_freq"])
def test_given_a_required_deepar_key_missing_when_parsing_then_it_is_named(missing: str) -> None:
    job = _job()
    del job[missing]
    with pytest.raises(ConfigError, match=f"{missing} is required by DeepAR"):
        Hyperparameters.from_sagemaker(job, source="training-job x")


def test_given_optional_keys_absent_when_parsing_training_job_then_deepar_defaults_apply() -> None:
    """A job without mini_batch_size runs with DeepAR's 128, not the seed's 77."""
    job = {"epochs": "5", "context_length": "30", "prediction_length": "30", "time_freq": "1min"}
    hp = Hyperparameters.from_sagemaker(job)
    assert hp.mini_batch_size == 128
    assert hp.learning_rate == 1e-3
    assert hp.early_stopping_patience is None
    assert hp.epochs == 5
    assert hp.to_sagemaker(30, "1min")["mini_batch_size"] == "128"


def test_given_a_non_string_value_when_parsing_training_job_then_rejected() -> None:
    job: dict[str, object] = dict(_job())
    job["epochs"] = 10
    with pytest.raises(ConfigError, match="epochs=10 must be a string"):
        Hyperparameters.from_sagemaker(job)  # type: ignore[arg-type]


# -- ValidationConfig.quantiles -------------------------------------------------------------
@pytest.mark.parametrize(
    ("confidence", "expected"),
    [
        (90, ("0.05", "0.5", "0.95")),
        (80, ("0.1", "0.5", "0.9")),
        (95, ("0.025", "0.5", "0.975")),
        (50, ("0.25", "0.5", "0.75")),
        (99.9, ("0.0005", "0.5", "0.9995")),
        (70, ("0.15", "0.5", "0.85")),
    ],
)
def test_given_confidence_then_quantiles_are_canonical_central_interval(
    confidence: float, expected: tuple[str, str, str]
) -> None:
    assert ValidationConfig(confidence=confidence).quantiles == expected


# -- FeecastConfig --------------------------------------------------------------------------
def test_given_raw_values_by_full_name_when_building_config_then_all_three_are_parsed() -> None:
    raw = {
        "/feecast/target": '{"prediction_length": 5}',
        "/feecast/hyperparameters": '{"epochs": 10}',
        "/feecast/validation": '{"threshold": 0.3}',
    }
    config = FeecastConfig.from_parameters(raw)
    assert config.target.prediction_length == 5
    assert config.hyperparameters.epochs == 10
    assert config.validation.threshold == 0.3


def test_given_raw_values_by_suffix_when_building_config_then_defaults_round_trip() -> None:
    config = FeecastConfig.from_parameters(DEFAULT_PARAMETERS, prefix="/other/")
    assert config == FeecastConfig()
    written = config.to_parameters("/other")
    assert set(written) == {"/other/target", "/other/hyperparameters", "/other/validation"}
    assert FeecastConfig.from_parameters(written, prefix="/other") == config


def test_given_a_missing_parameter_when_building_config_then_it_is_named() -> None:
    raw = {k: v for k, v in DEFAULT_PARAMETERS.items() if k != "validation"}
    with pytest.raises(ConfigError, match=r"^/feecast/validation: parameter is missing$"):
        FeecastConfig.from_parameters(raw)


def test_given_a_bad_parameter_when_building_config_then_its_full_name_is_in_the_error() -> None:
    raw = dict(DEFAULT_PARAMETERS, hyperparameters='{"learning_rate": 2.0}')
    with pytest.raises(ConfigError, match=r"^/feecast/hyperparameters: learning_rate=2\.0"):
        FeecastConfig.from_parameters(raw)


def test_given_updated_threshold_when_serialising_then_only_threshold_changes() -> None:
    updated = ValidationConfig().model_copy(update={"threshold": 0.22})
    assert json.loads(to_parameter_json(updated)) == dict(
        json.loads(DEFAULT_PARAMETERS["validation"]), threshold=0.22
    )


def test_given_a_ready_message_when_raising_config_error_then_parameter_is_its_prefix() -> None:
    err = ConfigError("/feecast/target: parameter missing or unreadable (boom)")
    assert err.parameter == "/feecast/target"
    assert str(err) == "/feecast/target: parameter missing or unreadable (boom)"
    assert err.problems == ("parameter missing or unreadable (boom)",)


def test_given_a_backtest_longer_than_the_history_allows_then_both_parameters_are_named() -> None:
    raw = dict(DEFAULT_PARAMETERS, target='{"history_days": 7}')
    with pytest.raises(ConfigError) as caught:
        FeecastConfig.from_parameters(raw)
    assert str(caught.value) == (
        "/feecast/validation: target.history_days=7 minus validation.backtest_days=7.0 leaves "
        "0 training points, fewer than target.min_train_points=300"
    )


def test_given_extra_series_then_they_must_differ_from_the_target() -> None:
    with pytest.raises(ConfigError, match="extra_series must not repeat target_col"):
        parse_parameter(TARGET, '{"extra_series": ["avg_fee_1min"]}', TargetConfig)
    ok = parse_parameter(TARGET, '{"extra_series": ["median_fee_1min"]}', TargetConfig)
    assert ok.extra_series == ["median_fee_1min"]
