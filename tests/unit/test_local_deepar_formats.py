"""DeepAR's inference and batch formats, and its data rules, on a stub forecaster (no training)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence

import numpy as np
import pytest

from feecast_twin.deepar import ClientError, InferenceError, batch_transform, invoke, read_channel
from feecast_twin.deepar.data import SeriesRecord, check_training_data

PL = 4


class StubForecaster:
    """Sample i of a series is its last observed value + i (so quantiles are predictable)."""

    prediction_length = PL

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def predict_samples(
        self, records: Sequence[SeriesRecord], num_samples: int
    ) -> list[np.ndarray]:
        self.calls.append((len(records), num_samples))
        out = []
        for r in records:
            last = r.target[~np.isnan(r.target)][-1]
            out.append(np.tile(last + np.arange(num_samples, dtype=float)[:, None], (1, PL)))
        return out


def _request(**config: object) -> bytes:
    return json.dumps(
        {
            "instances": [
                {"start": "2026-01-05 00:00:00", "target": [1.0, "NaN", None, 10.0]},
                {"start": "2026-01-05 00:00:00", "target": [5, 20]},
            ],
            "configuration": config,
        }
    ).encode()


def test_given_a_request_when_invoked_then_each_instance_gets_mean_quantiles_and_samples() -> None:
    stub = StubForecaster()
    body = invoke(
        stub,
        _request(
            num_samples=11,
            output_types=["mean", "quantiles", "samples"],
            quantiles=["0.1", "0.5", "0.9"],
        ),
    )
    predictions = json.loads(body)["predictions"]
    assert len(predictions) == 2 and stub.calls == [(2, 11)]
    first = predictions[0]
    assert first["mean"] == [15.0] * PL  # 10 + mean(0..10)
    assert set(first["quantiles"]) == {"0.1", "0.5", "0.9"}
    assert first["quantiles"]["0.5"] == [15.0] * PL
    assert len(first["samples"]) == 11 and all(len(s) == PL for s in first["samples"])
    assert predictions[1]["mean"] == [25.0] * PL


def test_given_no_configuration_when_invoked_then_deepar_defaults_apply() -> None:
    body = json.loads(
        invoke(
            StubForecaster(),
            json.dumps({"instances": [{"start": "2026-01-05 00:00:00", "target": [3]}]}),
        )
    )
    only = body["predictions"][0]
    assert set(only) == {"mean", "quantiles"}
    assert list(only["quantiles"]) == [
        "0.1",
        "0.2",
        "0.3",
        "0.4",
        "0.5",
        "0.6",
        "0.7",
        "0.8",
        "0.9",
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"instances": []}).encode(),
        json.dumps({"instances": [{"target": [1]}]}).encode(),
        json.dumps({"instances": [{"start": "2026-01-05 00:00:00", "target": ["x"]}]}).encode(),
        json.dumps({"instances": [{"start": "2026-01-05 00:00:00", "target": ["NaN"]}]}).encode(),
        _request(output_types=["median"]),
        _request(num_samples=0),
        _request(quantiles=["1.5"]),
    ],
)
def test_given_a_bad_request_when_invoked_then_inference_error(body: bytes) -> None:
    with pytest.raises(InferenceError):
        invoke(StubForecaster(), body)


def test_given_json_lines_when_batch_transformed_then_one_line_per_input_line_in_order() -> None:
    lines = [json.dumps({"start": "2026-01-05 00:00:00", "target": [float(v)]}) for v in (7, 1, 4)]
    env = {"DEEPAR_INFERENCE_CONFIG": json.dumps({"num_samples": 3, "output_types": ["mean"]})}
    out = batch_transform(StubForecaster(), ("\n".join(lines) + "\n\n").encode(), env).decode()
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["mean"][0] for r in rows] == [8.0, 2.0, 5.0]  # last + mean(0, 1, 2)
    assert all(set(r) == {"mean"} for r in rows)  # no "predictions" wrapper
    assert out.endswith("\n")


def test_given_no_inference_config_when_batch_transformed_then_mean_and_default_quantiles() -> None:
    out = batch_transform(StubForecaster(), b'{"start": "2026-01-05 00:00:00", "target": [1]}\n')
    row = json.loads(out)
    assert set(row) == {"mean", "quantiles"} and len(row["quantiles"]) == 9


@pytest.mark.parametrize(
    ("data", "env"),
    [
        (b'{"start": "2026-01-05 00:00:00", "target": [1]}\n{broken\n', {}),
        (
            b'{"start": "2026-01-05 00:00:00", "target": [1]}\n',
            {"DEEPAR_INFERENCE_CONFIG": "{oops"},
        ),
        (
            b'{"start": "2026-01-05 00:00:00", "target": [1]}\n',
            {"DEEPAR_INFERENCE_CONFIG": '{"num_samples": -1}'},
        ),
    ],
)
def test_given_bad_batch_input_or_config_when_transformed_then_client_error(
    data: bytes, env: dict[str, str]
) -> None:
    with pytest.raises(ClientError):
        batch_transform(StubForecaster(), data, env)


def _series(values: list[float], start: str = "2026-01-05 00:00:00") -> bytes:
    return json.dumps({"start": start, "target": values}).encode()


def test_given_gzip_and_plain_files_when_reading_a_channel_then_all_records_in_key_order() -> None:
    files = [
        ("b.json.gz", gzip.compress(_series([2.0] * 3))),
        ("a.json", _series([1.0, "NaN", None])),
    ]  # type: ignore[list-item]
    records = read_channel("train", files)
    assert [r.target[0] for r in records] == [1.0, 2.0]
    assert np.isnan(records[0].target[1]) and np.isnan(records[0].target[2])


@pytest.mark.parametrize(
    ("train", "test", "fragment"),
    [
        ([[1.0] * 299], None, "at least 300"),
        ([[0.0] * 400], None, "all zeros"),
        ([[float("nan")] * 400], None, "no observed value"),
        ([[1.0] * 400], [[1.0] * 4], "longer than prediction_length"),
    ],
)
def test_given_data_deepar_rejects_when_checked_then_client_error(
    train: list[list[float]], test: list[list[float]] | None, fragment: str
) -> None:
    def records(rows: list[list[float]]) -> list[SeriesRecord]:
        from datetime import datetime

        return [SeriesRecord(datetime(2026, 1, 5), np.array(r, dtype=float)) for r in rows]

    with pytest.raises(ClientError, match=fragment):
        check_training_data(records(train), records(test) if test else None, prediction_length=PL)


def test_given_a_malformed_line_when_reading_a_channel_then_client_error_names_file_and_line() -> (
    None
):
    with pytest.raises(ClientError, match=r"train\.json line 2: malformed JSON"):
        read_channel("train", [("train.json", _series([1.0]) + b"\n{nope")])
    with pytest.raises(ClientError, match="No data found in channel 'test'"):
        read_channel("test", [])


# -- dynamic_feat: DeepAR's length rules ------------------------------------------------------
def _with_features(length: int, width: int, features: int = 1) -> SeriesRecord:
    from datetime import datetime

    return SeriesRecord(
        datetime(2026, 1, 5),
        np.arange(1.0, length + 1.0),
        dynamic_feat=np.zeros((features, width)),
    )


def test_training_features_must_be_as_long_as_the_target_in_both_channels() -> None:
    check_training_data([_with_features(400, 400)], [_with_features(404, 404)], PL)
    with pytest.raises(
        ClientError, match="train series 0: dynamic_feat has 404 points, target has 400"
    ):
        check_training_data([_with_features(400, 404)], None, PL)
    with pytest.raises(ClientError, match="test series 0: dynamic_feat has 400 points"):
        check_training_data([_with_features(400, 400)], [_with_features(404, 400)], PL)
    with pytest.raises(ClientError, match="both channels must carry the same features"):
        check_training_data([_with_features(400, 400)], [_with_features(404, 404, 2)], PL)


class FeatureModelStub(StubForecaster):
    """A stub that takes features the way the trained model does (training._entries)."""

    def predict_samples(
        self, records: Sequence[SeriesRecord], num_samples: int
    ) -> list[np.ndarray]:
        from feecast_twin.deepar.training import FeatureLayout, _entries

        _entries(records, "1min", FeatureLayout((), 1), horizon=PL)
        return super().predict_samples(records, num_samples)


def test_inference_refuses_features_that_do_not_cover_the_horizon() -> None:
    good = {
        "start": "2026-01-05 00:00:00",
        "target": [1.0, 2.0],
        "dynamic_feat": [[0.0] * (2 + PL)],
    }
    short = {**good, "dynamic_feat": [[0.0] * 2]}
    invoke(FeatureModelStub(), json.dumps({"instances": [good]}).encode())
    with pytest.raises(InferenceError, match=r"needs 'dynamic_feat' with 1 rows of 6 values"):
        invoke(FeatureModelStub(), json.dumps({"instances": [short]}).encode())
    with pytest.raises(ClientError, match="needs 'dynamic_feat'"):
        batch_transform(FeatureModelStub(), (json.dumps(short) + "\n").encode())
