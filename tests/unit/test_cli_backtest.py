"""`feecast backtest`: the CSV on the grid, the origins, bad input (exit 2, one line), the JSON."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from feecast_cli.backtest import choose_origins, read_series
from feecast_cli.context import CliError
from feecast_cli.main import main

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def write_csv(path: Path, rows: list[tuple[str, str]], header: str = "timestamp,value") -> Path:
    path.write_text(header + "\n" + "".join(f"{t},{v}\n" for t, v in rows))
    return path


def fee_rows(n: int, *, seed: int = 1, step_minutes: int = 1) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    level = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    values = level * rng.lognormal(0, 0.3, n)
    return [
        ((T0 + timedelta(minutes=step_minutes * i)).strftime("%Y-%m-%dT%H:%M:%SZ"), f"{v:.3f}")
        for i, v in enumerate(values)
    ]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["backtest", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- the grid ----------------------------------------------------------------------------------
def test_irregular_timestamps_are_placed_on_the_grid_and_gaps_stay_missing(tmp_path: Path) -> None:
    epoch = int(T0.timestamp())
    path = write_csv(
        tmp_path / "s.csv",
        [
            ("2026-01-05T00:03:00Z", "10"),
            (str(epoch + 7 * 60), "20"),  # epoch seconds, same 10-minute step
            ("2026-01-05T00:24:59", "5"),  # no zone: UTC
            ("2026-01-05T00:41:00+00:00", ""),  # empty: missing
            ("2026-01-05T00:55:00Z", "NaN"),
            ("2026-01-05T01:01:00Z", "7"),
        ],
    )
    grid = read_series(path, 10)
    assert grid.start == T0 and grid.freq == "10min" and grid.rows == 6
    assert [None if math.isnan(v) else v for v in grid.values] == [
        15.0,
        None,
        5.0,
        None,
        None,
        None,
        7.0,
    ]


def test_origins_are_the_last_windows_or_those_after_the_training_fraction() -> None:
    assert choose_origins(1000, 30, 10, None).origins[0] == 700
    assert choose_origins(1000, 30, None, 0.8).origins == (800, 830, 860, 890, 920, 950)
    assert choose_origins(1000, 30, 4, 0.5).origins == (500, 530, 560, 590)


# -- bad input: exit 2 with one clear line ----------------------------------------------------
def one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("feecast: "), err
    return lines[0]


def test_missing_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "s.csv", [("2026-01-05T00:00:00Z", "1")], header="time,fee")
    line = one_line_error(capsys, "--series", str(path))
    assert "missing column(s) timestamp, value (the header has: time, fee)" in line


def test_a_value_that_is_not_a_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = fee_rows(50)
    rows[7] = (rows[7][0], "12,5".replace(",", "x"))
    line = one_line_error(capsys, "--series", str(write_csv(tmp_path / "s.csv", rows)))
    assert line.endswith("s.csv line 9: value '12x5' is not a number")


def test_a_timestamp_that_is_neither_iso_nor_epoch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "s.csv", [("yesterday", "1")])
    assert "line 2: timestamp 'yesterday' is neither ISO-8601 nor epoch seconds" in one_line_error(
        capsys, "--series", str(path)
    )


def test_too_few_points_for_the_requested_origins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "s.csv", fee_rows(600))
    line = one_line_error(
        capsys, "--series", str(path), "--origins", "30", "--train-fraction", "0.5"
    )
    assert "too few points: the series has 600 steps; 30 origins x 30 steps need 900" in line


def test_too_few_points_to_train_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "s.csv", fee_rows(400))
    line = one_line_error(capsys, "--series", str(path), "--origins", "5")
    assert "the training part has 250 observed values; DeepAR needs at least 300" in line


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--freq", "7s"], "--freq: freq='7s' must be a DeepAR time_freq"),
        (["--train-fraction", "1.5"], "--train-fraction must be between 0 and 1"),
        (["--origins", "0"], "--origins must be >= 1"),
        (["--prediction-length", "0"], "--prediction-length must be >= 1"),
        (["--hyperparameters", "{epochs"], "--hyperparameters is not JSON"),
    ],
)
def test_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    path = write_csv(tmp_path / "s.csv", fee_rows(50))
    assert fragment in one_line_error(capsys, "--series", str(path), *argv)


def test_a_missing_or_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "cannot read the file" in one_line_error(capsys, "--series", str(tmp_path / "no.csv"))
    (tmp_path / "empty.csv").write_text("")
    assert "the file is empty" in one_line_error(capsys, "--series", str(tmp_path / "empty.csv"))


def test_read_series_reports_the_file_and_line() -> None:
    with pytest.raises(CliError, match="cannot read"):
        read_series(Path("/nonexistent/file.csv"), 1)


# -- a whole backtest (trains the local DeepAR for two epochs) ---------------------------------
@pytest.mark.slow
def test_a_backtest_prints_one_json_object_and_writes_the_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "s.csv", fee_rows(2000))
    plot = tmp_path / "backtest.png"
    code, out, err = run(
        capsys,
        "--series",
        str(path),
        "--prediction-length",
        "10",
        "--origins",
        "24",
        "--hyperparameters",
        '{"epochs": 2, "context_length": 10, "num_eval_samples": 50}',
        "--json",
        "--plot",
        str(plot),
    )
    assert code == 0, err
    result = json.loads(out)  # exactly one JSON object on stdout
    assert set(result) == {"origins", "prediction_length", "quantiles", "models", "gate"}
    assert (result["origins"], result["prediction_length"]) == (24, 10)
    assert result["quantiles"] == [0.05, 0.5, 0.95]
    assert set(result["models"]) == {"deepar", "naive", "seasonal_naive", "robust"}
    for name, m in result["models"].items():
        assert set(m) == {"wql", "ratio_to_naive", "ci95", "windows_won"}, name
        assert isinstance(m["wql"], float) and m["wql"] > 0
        low, high = m["ci95"]
        assert low <= m["ratio_to_naive"] <= high
    assert result["models"]["naive"]["ratio_to_naive"] == 1.0
    assert isinstance(result["gate"]["passed"], bool) and result["gate"]["reasons"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
