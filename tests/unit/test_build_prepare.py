"""Prepare The Data: which series a build trains on, what it refuses, what it writes."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from feecast.adapters.feature_history import History
from feecast.build.artifacts import MemoryStore
from feecast.build.layout import BuildLayout, sagemaker_name
from feecast.build.prepare import (
    DataRefused,
    PrepareRequest,
    PrepareSettings,
    choose_training_series,
    prepare_data,
)
from feecast.config import ConfigError, FeecastConfig, Hyperparameters, TargetConfig
from feecast.deepar import from_jsonl, from_record
from feecast.series import MinuteSeries

EVENTS = Path(__file__).resolve().parents[2] / "events"
NOW = datetime(2026, 1, 5, 12, 0, 3, tzinfo=UTC)
END = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def fee_series(n: int, *, end: datetime = END, seed: int = 1) -> MinuteSeries:
    rng = np.random.default_rng(seed)
    values = 20 + np.cumsum(rng.normal(0, 0.5, n)).clip(-15, None)
    return MinuteSeries(end - timedelta(minutes=n), values)


def choose(series: MinuteSeries, **kw: object):
    args = {
        "now": NOW,
        "prediction_length": 30,
        "min_points": 300,
        "max_missing_fraction": 0.5,
        "max_data_age": timedelta(minutes=60),
    }
    args.update(kw)
    return choose_training_series(series, **args)  # type: ignore[arg-type]


def test_given_enough_clean_minutes_then_train_is_test_minus_the_held_out_window() -> None:
    channels = choose(fee_series(500))
    assert len(channels.test) == 500 and len(channels.train) == 470
    assert channels.train.start == channels.test.start


def test_given_empty_minutes_at_both_ends_then_they_are_trimmed() -> None:
    values = fee_series(500).values.copy()
    values[:50] = np.nan
    values[-5:] = np.nan
    channels = choose(MinuteSeries(END - timedelta(minutes=500), values))
    assert len(channels.test) == 445
    assert channels.test.end == END - timedelta(minutes=5)


@pytest.mark.parametrize(
    ("series", "code"),
    [
        (MinuteSeries(END - timedelta(minutes=400), np.full(400, np.nan)), "all_missing"),
        (fee_series(200), "too_short"),
        (MinuteSeries(END - timedelta(minutes=400), np.zeros(400)), "all_zero"),
        (fee_series(500, end=END - timedelta(hours=3)), "stale"),
    ],
)
def test_given_unusable_history_then_the_build_is_refused_with_a_code(series, code) -> None:
    with pytest.raises(DataRefused) as caught:
        choose(series)
    assert caught.value.code == code
    assert str(caught.value).startswith(f"{code}: ")


def test_given_more_gaps_than_allowed_then_refused_with_the_gap_report() -> None:
    values = fee_series(2000).values.copy()
    values[100:1300:2] = np.nan  # 600 of 2000 missing
    series = MinuteSeries(END - timedelta(minutes=2000), values)
    with pytest.raises(DataRefused, match=r"gaps: 600 of 2000 minutes are missing \(30% > 20%\)"):
        choose(series, max_missing_fraction=0.2)
    assert len(choose(series, max_missing_fraction=0.5).test) == 2000


# -- the whole step with fakes ----------------------------------------------------------------
def config(**hp: object) -> FeecastConfig:
    return FeecastConfig(
        target=TargetConfig(history_days=1),
        hyperparameters=Hyperparameters(epochs=2, mini_batch_size=32, **hp),  # type: ignore[arg-type]
    )


def settings(**kw: object) -> PrepareSettings:
    base = {
        "project_name": "feecast",
        "ssm_prefix": "/feecast",
        "artifact_bucket": "artifacts",
        "feature_group_name": "feecast-fee-minutes",
    }
    base.update(kw)
    return PrepareSettings.model_validate(base)


def request() -> PrepareRequest:
    return PrepareRequest.model_validate(
        json.loads((EVENTS / "build-prepare-request.json").read_text())
    )


def reader_of(series: MinuteSeries, calls: list | None = None):
    def read(group: str, start: datetime, end: datetime, target: str) -> History:
        if calls is not None:
            calls.append((group, start, end, target))
        return History(series.window(start, end), len(series), 0, len(series), 3, series.end)

    return read


def test_given_a_day_of_minutes_then_channels_actuals_and_context_are_written() -> None:
    store = MemoryStore("artifacts")
    calls: list = []
    result = prepare_data(
        request(),
        settings(),
        config=config(),
        read_history=reader_of(fee_series(1440), calls),
        store=store,
    )
    # The window: history_days back from the build's time, ending at its (floored) minute.
    assert calls == [("feecast-fee-minutes", END - timedelta(days=1), END, "avg_fee_1min")]
    layout = BuildLayout("artifacts", result.execution_name)
    train = from_jsonl(store.objects[layout.train_key])[0]
    test = from_jsonl(store.objects[layout.test_key])[0]
    context = from_jsonl(store.objects[layout.transform_input_key])[0]
    actuals = from_record(json.loads(store.objects[layout.actuals_key]))
    assert len(test) == 1440 and train == context and len(train) == 1410
    assert actuals == test.tail(30) and actuals.start == train.end
    assert result.uris["train"] == f"s3://artifacts/{layout.prefix}data/train/"
    assert result.uris["forecast"].endswith("transform/output/context.json.out")
    # Hyperparameters are strings; the horizon comes from the target parameter.
    assert result.hyperparameters["epochs"] == "2"
    assert result.hyperparameters["prediction_length"] == "30"
    assert result.hyperparameters["context_length"] == "30"
    assert result.hyperparameters["time_freq"] == "1min"
    assert all(isinstance(v, str) for v in result.hyperparameters.values())
    assert json.loads(result.inference_config) == {
        "num_samples": 100,
        "output_types": ["mean", "quantiles"],
        "quantiles": ["0.05", "0.5", "0.95"],
    }
    assert result.training == {
        "use_spot": True,
        "stopping_condition": {"MaxRuntimeInSeconds": 3000, "MaxWaitTimeInSeconds": 3600},
    }
    assert result.window.points == 1440 and result.window.holdout_start == "2026-01-05T11:30:00Z"
    assert result.window.first_minute == "2026-01-04T12:00:00Z"
    assert result.window.last_minute == "2026-01-05T11:59:00Z"


def test_given_spot_training_off_then_no_max_wait_is_sent() -> None:
    result = prepare_data(
        request(),
        settings(use_spot_training=False),
        config=config(),
        read_history=reader_of(fee_series(1440)),
        store=MemoryStore("artifacts"),
    )
    assert result.training == {
        "use_spot": False,
        "stopping_condition": {"MaxRuntimeInSeconds": 3000},
    }


def test_given_a_now_in_the_input_then_the_build_reads_up_to_it() -> None:
    req = request().model_copy(deep=True)
    req.input.now = datetime(2026, 1, 5, 11, 0, 30, tzinfo=UTC)
    calls: list = []
    prepare_data(
        req,
        settings(),
        config=config(),
        read_history=reader_of(
            fee_series(1440, end=datetime(2026, 1, 5, 11, 0, tzinfo=UTC)), calls
        ),
        store=MemoryStore("artifacts"),
    )
    assert calls[0][2] == datetime(2026, 1, 5, 11, 0, tzinfo=UTC)


def test_given_refused_data_then_nothing_is_written() -> None:
    store = MemoryStore("artifacts")
    with pytest.raises(DataRefused, match="too_short"):
        prepare_data(
            request(),
            settings(),
            config=config(),
            read_history=reader_of(fee_series(100)),
            store=store,
        )
    assert store.objects == {}


def test_given_a_freq_other_than_a_minute_then_a_config_error_names_it() -> None:
    cfg = FeecastConfig(target=TargetConfig(history_days=14, freq="5min"))
    with pytest.raises(ConfigError, match="5min"):
        prepare_data(
            request(),
            settings(),
            config=cfg,
            read_history=reader_of(fee_series(100)),
            store=MemoryStore(),
        )


def test_sagemaker_names_are_unique_valid_and_short() -> None:
    arn = "arn:aws:states:eu-west-1:1:execution:sm:"
    long_name = "manual-" + "x" * 80
    a = sagemaker_name("feecast", long_name, arn + "a")
    b = sagemaker_name("feecast", long_name, arn + "b")
    assert a != b and len(a) <= 63 and len(b) <= 63
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", a)
    assert re.fullmatch(
        r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
        sagemaker_name("feecast", "schedule-2026-01-05T12:00Z_x.y", arn + "c"),
    )


def test_spot_training_rule_is_explicit() -> None:
    """Built-in algorithms that do not checkpoint wait at most 3600 s on spot, and the wait must
    cover the run (model-managed-spot-training.html): a longer run is refused before any read."""
    from feecast.build.prepare import SPOT_MAX_WAIT_SECONDS, stopping_condition
    from feecast.config import ConfigError

    assert stopping_condition(use_spot=True, max_runtime_seconds=3000) == {
        "MaxRuntimeInSeconds": 3000,
        "MaxWaitTimeInSeconds": SPOT_MAX_WAIT_SECONDS,
    }
    assert (
        stopping_condition(use_spot=True, max_runtime_seconds=3600)["MaxWaitTimeInSeconds"] == 3600
    )
    assert stopping_condition(use_spot=False, max_runtime_seconds=7200) == {
        "MaxRuntimeInSeconds": 7200
    }
    with pytest.raises(ConfigError, match="UseSpotTraining=true"):
        stopping_condition(use_spot=True, max_runtime_seconds=3601)
    calls: list = []
    with pytest.raises(ConfigError, match="TrainingMaxRuntimeSeconds"):
        prepare_data(
            request(),
            settings(max_runtime_seconds=4000),
            config=config(),
            read_history=reader_of(fee_series(1440), calls),
            store=MemoryStore("artifacts"),
        )
    assert calls == []  # refused before the history was read


def test_template_bounds_the_training_runtime_by_the_spot_rule() -> None:
    from pathlib import Path

    from feecast.build.prepare import SPOT_MAX_WAIT_SECONDS

    from feecast_twin.intrinsics import load_yaml

    template = load_yaml((Path(__file__).resolve().parents[2] / "template.yaml").read_text())
    parameter = template["Parameters"]["TrainingMaxRuntimeSeconds"]
    assert parameter["MaxValue"] == SPOT_MAX_WAIT_SECONDS
    assert parameter["Default"] <= parameter["MaxValue"]
