"""Prepare The Data: which series a build trains on, what it refuses, what it writes."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from feecast.adapters.feature_history import History
from feecast.build.layout import BuildLayout, sagemaker_name
from feecast.build.prepare_data import (
    DataRefused,
    PrepareRequest,
    choose_training_series,
    prepare_data,
)
from feecast.build.production import ProductionModel, find_production_model
from feecast.build.settings import PrepareSettings
from feecast.config import (
    ConfigError,
    FeecastConfig,
    Hyperparameters,
    TargetConfig,
    ValidationConfig,
)
from feecast.deepar import from_jsonl, from_record
from feecast.series import MinuteSeries

from feecast_testing.artifacts import MemoryStore

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
        "holdout": 360,
        "spacing": 30,
        "context": 1440,
    }
    args.update(kw)
    return choose_training_series(series, **args)  # type: ignore[arg-type]


def test_given_enough_clean_minutes_then_the_model_trains_on_the_part_before_the_backtest() -> None:
    prepared = choose(fee_series(1000))
    # 360 minutes held out: 12 origins every 30 minutes, each window of 30 minutes.
    assert prepared.plan.first == 640 and len(prepared.plan.origins) == 12
    assert prepared.plan.origins[0] == 640 and prepared.plan.origins[-1] == 970
    assert len(prepared.channels.train) == 640
    # DeepAR's test channel: the training part plus the first backtest window.
    assert len(prepared.channels.test) == 670
    assert prepared.channels.train.start == prepared.series.start


def test_given_empty_minutes_at_both_ends_then_they_are_trimmed() -> None:
    values = fee_series(1000).values.copy()
    values[:50] = np.nan
    values[-5:] = np.nan
    prepared = choose(MinuteSeries(END - timedelta(minutes=1000), values))
    assert len(prepared.series) == 945
    assert prepared.series.end == END - timedelta(minutes=5)


@pytest.mark.parametrize(
    ("series", "code"),
    [
        (MinuteSeries(END - timedelta(minutes=400), np.full(400, np.nan)), "all_missing"),
        (fee_series(200), "too_short"),
        (fee_series(600), "too_short"),  # 240 training minutes before the backtest
        (MinuteSeries(END - timedelta(minutes=1000), np.zeros(1000)), "all_zero"),
        (fee_series(1000, end=END - timedelta(hours=3)), "stale"),
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
    assert len(choose(series, max_missing_fraction=0.5).series) == 2000


def test_given_backtest_windows_without_any_observed_minute_then_refused() -> None:
    values = fee_series(1000).values.copy()
    values[640:-1] = np.nan  # only the very last minute, which no window covers, is observed
    series = MinuteSeries(END - timedelta(minutes=1000), values)
    with pytest.raises(DataRefused, match="backtest_missing"):
        choose(series, spacing=60)


def test_given_a_gap_in_the_backtest_then_its_windows_are_skipped_and_counted() -> None:
    values = fee_series(1000).values.copy()
    values[700:760] = np.nan  # two whole windows
    prepared = choose(MinuteSeries(END - timedelta(minutes=1000), values))
    assert len(prepared.plan.origins) == 10 and prepared.plan.skipped == (700, 730)


# -- the whole step with fakes ----------------------------------------------------------------
def config(features: tuple[str, ...] = (), **hp: object) -> FeecastConfig:
    return FeecastConfig(
        target=TargetConfig(history_days=1, dynamic_features=list(features)),  # type: ignore[arg-type]
        hyperparameters=Hyperparameters(epochs=2, mini_batch_size=32, **hp),  # type: ignore[arg-type]
        validation=ValidationConfig(backtest_days=0.25),  # 6 hours: 12 origins
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


def test_given_a_day_of_minutes_then_channels_series_and_backtest_input_are_written() -> None:
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
    series = from_record(json.loads(store.objects[layout.series_key]))
    lines = from_jsonl(store.objects[layout.transform_input_key])
    assert len(series) == 1440 and len(train) == 1080 and len(test) == 1110
    # One line per origin, each the history right before its origin (at most a day of it).
    assert len(lines) == 12 == result.backtest["origins"]
    assert lines[0] == series.head(1080) and lines[-1] == series[0:1410]
    assert result.backtest["start"] == "2026-01-05T06:00:00Z"
    assert result.backtest["last_origin"] == "2026-01-05T11:30:00Z"
    assert result.uris["train"] == f"s3://artifacts/{layout.prefix}data/train/"
    assert result.uris["forecast"].endswith("transform/output/backtest.json.out")
    assert result.production.present is False
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
    assert result.window.points == 1440 and result.window.holdout_start == "2026-01-05T06:00:00Z"
    assert result.window.first_minute == "2026-01-04T12:00:00Z"
    assert result.window.last_minute == "2026-01-05T11:59:00Z"


def test_given_dynamic_features_then_every_series_carries_them_as_deepar_requires() -> None:
    store = MemoryStore("artifacts")
    result = prepare_data(
        request(),
        settings(),
        config=config(features=("hour_of_day", "day_of_week")),
        read_history=reader_of(fee_series(1440)),
        store=store,
    )
    layout = BuildLayout("artifacts", result.execution_name)
    train = json.loads(store.objects[layout.train_key])
    # Training: as long as the target. Inference: the target plus prediction_length.
    assert [len(row) for row in train["dynamic_feat"]] == [1080, 1080]
    first = json.loads(store.objects[layout.transform_input_key].splitlines()[0])
    assert [len(row) for row in first["dynamic_feat"]] == [len(first["target"]) + 30] * 2
    assert result.dynamic_features == ["hour_of_day", "day_of_week"]


def test_given_a_comparable_production_model_then_it_gets_its_own_names() -> None:
    def finder(target: str, length: int, features: object) -> ProductionModel:
        assert (target, length, list(features)) == ("avg_fee_1min", 30, [])  # type: ignore[call-overload]
        return ProductionModel(
            present=True,
            package_arn="arn:aws:sagemaker:eu-west-1:1:model-package/feecast-models/3",
            version=3,
            image="img",
            model_data_url="s3://artifacts/builds/old/model.tar.gz",
        )

    result = prepare_data(
        request(),
        settings(),
        config=config(),
        read_history=reader_of(fee_series(1440)),
        store=MemoryStore("artifacts"),
        find_production=finder,
    )
    p = result.production
    assert p.present and p.model_name and p.model_name != result.job_name
    assert p.model_name.startswith("feecast-production-") and len(p.model_name) <= 63
    assert p.transform_output == result.uris["production_output"]


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
            read_history=reader_of(fee_series(600)),
            store=store,
        )
    assert store.objects == {}


def test_given_a_freq_other_than_a_minute_then_a_config_error_names_it() -> None:
    cfg = FeecastConfig(target=TargetConfig(history_days=14, freq="5min"))
    assert cfg.validation.backtest_days == 7.0
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
    from feecast.build.prepare_data import stopping_condition
    from feecast.build.settings import SPOT_MAX_WAIT_SECONDS
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

    from feecast.build.settings import SPOT_MAX_WAIT_SECONDS

    from feecast_twin.intrinsics import load_yaml

    template = load_yaml((Path(__file__).resolve().parents[2] / "template.yaml").read_text())
    parameter = template["Parameters"]["TrainingMaxRuntimeSeconds"]
    assert parameter["MaxValue"] == SPOT_MAX_WAIT_SECONDS
    assert parameter["Default"] <= parameter["MaxValue"]


def test_sagemaker_names_for_a_second_role_differ_even_for_long_executions() -> None:
    arn = "arn:aws:states:eu-west-1:1:execution:sm:x"
    long_name = "manual-" + "x" * 80
    own = sagemaker_name("feecast", long_name, arn)
    other = sagemaker_name("feecast", long_name, arn, role="production")
    assert own != other and len(other) <= 63


# -- the model in production ----------------------------------------------------------------
PACKAGE = {
    "ModelPackageVersion": 3,
    "InferenceSpecification": {
        "Containers": [{"Image": "img", "ModelDataUrl": "s3://b/builds/x/model.tar.gz"}]
    },
    "CustomerMetadataProperties": {
        "target_col": "avg_fee_1min",
        "prediction_length": "30",
        "dynamic_features": "none",
    },
}


def find(package: dict | None, *, arn: str | None = "arn:pkg/3", **kw: object) -> ProductionModel:
    args = {"target_col": "avg_fee_1min", "prediction_length": 30, "features": []}
    args.update(kw)
    return find_production_model(
        current_package_arn=lambda: arn,
        describe_package=lambda _: package,
        **args,  # type: ignore[arg-type]
    )


def test_given_nothing_in_production_then_there_is_nothing_to_compare() -> None:
    got = find(PACKAGE, arn=None)
    assert got.present is False and got.reason == "no model in production yet"


def test_given_a_comparable_package_then_its_model_is_used() -> None:
    got = find(PACKAGE)
    assert got.present and got.version == 3 and got.model_data_url == "s3://b/builds/x/model.tar.gz"


@pytest.mark.parametrize(
    ("kw", "says"),
    [
        ({"target_col": "total_fee_1min"}, "target avg_fee_1min"),
        ({"prediction_length": 60}, "prediction_length 30"),
        ({"features": ["hour_of_day"]}, "dynamic features none"),
    ],
)
def test_given_a_model_that_forecasts_something_else_then_it_is_not_compared(kw, says) -> None:
    got = find(PACKAGE, **kw)
    assert got.present is False and says in (got.reason or "")


def test_given_a_deleted_package_then_the_reason_says_so() -> None:
    got = find(None)
    assert got.present is False and "no longer exists" in (got.reason or "")


def test_given_extra_series_then_deepar_also_trains_on_them_over_the_same_minutes() -> None:
    store = MemoryStore("artifacts")
    cfg = FeecastConfig(
        target=TargetConfig(history_days=1, extra_series=["median_fee_1min", "fee_rate_1min"]),
        hyperparameters=Hyperparameters(epochs=2),
        validation=ValidationConfig(backtest_days=0.25),
    )
    target, median = fee_series(1440), fee_series(1440, seed=2)
    empty = MinuteSeries(target.start, np.full(1440, np.nan))
    columns = {"avg_fee_1min": target, "median_fee_1min": median, "fee_rate_1min": empty}

    def read(group: str, start: datetime, end: datetime, column: str) -> History:
        s = columns[column].window(start, end)
        return History(s, len(s), 0, len(s), 3, s.end)

    result = prepare_data(request(), settings(), config=cfg, read_history=read, store=store)
    layout = BuildLayout("artifacts", result.execution_name)
    train = from_jsonl(store.objects[layout.train_key])
    assert len(train) == 2 and train[1] == median.head(1080)  # the target first, then median
    assert len(from_jsonl(store.objects[layout.test_key])) == 1  # scored on the target only
    assert result.extra_series == ["median_fee_1min"]
    assert result.extra_series_notes == [
        "fee_rate_1min: no non-zero value before 2026-01-05T06:00:00Z, left out"
    ]
