"""`feecast backtest`: judge a forecasting configuration on any series, offline, before AWS.

    feecast backtest --series FILE.csv [--freq 10min] [--prediction-length N] [--origins K]
                     [--train-fraction F] [--json] [--plot OUT.png] [--hyperparameters JSON]

FILE has a header with the columns `timestamp` and `value` (others are ignored). Timestamps
are ISO-8601 (UTC when no zone is given) or epoch seconds; each is placed in its step of the
`--freq` grid (steps since the epoch), several values in one step are averaged, and a step
without a value stays missing. Empty values and "NaN" are missing values.

The local DeepAR (feecast_twin.deepar, the stand-in for SageMaker's) is trained with the
hyperparameters the SSM defaults give (feecast.config; `--hyperparameters '{"epochs": 20}'`
overrides some) on the steps before the first origin, then forecasts every origin from the
history before it. Origins are `--prediction-length` steps apart, so windows do not overlap:
the last K windows (`--origins K`), or all the windows after the first F of the series
(`--train-fraction F`, default 0.8). The naive forecast, the seasonal naive (same step one day
earlier) and the robust baseline are scored on the same windows, and DeepAR is compared with
each (feecast.stats: pooled ratio, 95% block-bootstrap interval, windows won). The gate rules
of the SSM defaults decide "passed". Nothing here calls AWS.

Bad input (missing columns, a value that is not a number, too few points for the requested
origins, ...) exits 2 with one line saying what is wrong.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from feecast_cli.context import CliError, Context

DEFAULT_TRAIN_FRACTION = 0.8
MODELS = ("deepar", "naive", "seasonal_naive", "robust")
_COLUMNS = ("timestamp", "value")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "backtest",
        help="rolling-origin backtest of a series against naive and robust baselines (offline)",
        description=__doc__.split("\n\n")[2] if __doc__ else None,
    )
    parser.add_argument("--series", required=True, type=Path, help="CSV with timestamp,value")
    parser.add_argument(
        "--freq", default=None, help="grid step, a DeepAR time_freq (default: the target's, 1min)"
    )
    parser.add_argument(
        "--prediction-length",
        type=int,
        default=None,
        help="steps ahead (default: the target's prediction_length, 30)",
    )
    parser.add_argument("--origins", type=int, default=None, help="how many windows to score")
    parser.add_argument(
        "--train-fraction",
        type=float,
        default=None,
        help=f"share of the series before the first origin (default {DEFAULT_TRAIN_FRACTION}, "
        "or all but the last --origins windows)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot", type=Path, default=None, help="write a PNG of the backtest")
    parser.add_argument(
        "--hyperparameters",
        default=None,
        help="JSON object overriding the SSM default hyperparameters, e.g. '{\"epochs\": 20}'",
    )
    parser.set_defaults(func=_run)


# ---------------------------------------------------------------------------- input
@dataclass(frozen=True)
class GridSeries:
    """Values on a regular grid: values[i] belongs to start + i * step (NaN: missing)."""

    start: datetime
    step_minutes: int
    values: np.ndarray[Any, np.dtype[np.float64]]
    rows: int  # data rows read from the file

    @property
    def freq(self) -> str:
        return f"{self.step_minutes}min"


def _parse_time(raw: str, where: str) -> float:
    text = raw.strip()
    try:
        return float(text)  # epoch seconds
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(
            f"{where}: timestamp {raw!r} is neither ISO-8601 nor epoch seconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _parse_value(raw: str, where: str) -> float:
    text = raw.strip()
    if text == "" or text.lower() == "nan":
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise CliError(f"{where}: value {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise CliError(f"{where}: value {raw!r} is not a finite number")
    return value


def read_series(path: Path, step_minutes: int) -> GridSeries:
    """The CSV placed on the grid (CliError with the file and line for any problem)."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CliError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise CliError(
                f"{path}: the file is empty (expected a header timestamp,value)"
            ) from None
        except csv.Error as exc:
            raise CliError(f"{path}: not a CSV file ({exc})") from None
        names = [h.strip().lower() for h in header]
        missing = [c for c in _COLUMNS if c not in names]
        if missing:
            raise CliError(
                f"{path}: missing column(s) {', '.join(missing)} (the header has: "
                f"{', '.join(h.strip() for h in header) or 'nothing'}); expected timestamp,value"
            )
        t_col, v_col = names.index("timestamp"), names.index("value")
        times: list[float] = []
        values: list[float] = []
        try:
            for line, row in enumerate(reader, start=2):
                if not row or all(not cell.strip() for cell in row):
                    continue
                where = f"{path} line {line}"
                if len(row) <= max(t_col, v_col):
                    raise CliError(f"{where}: {len(row)} field(s), expected {len(header)}")
                times.append(_parse_time(row[t_col], where))
                values.append(_parse_value(row[v_col], where))
        except csv.Error as exc:
            raise CliError(f"{path}: not a valid CSV file ({exc})") from None
    if not times:
        raise CliError(f"{path}: no data rows after the header")
    step = step_minutes * 60
    slots = np.floor(np.asarray(times) / step).astype(np.int64)
    first = int(slots.min())
    index = slots - first
    size = int(index.max()) + 1
    arr = np.asarray(values, dtype=np.float64)
    ok = ~np.isnan(arr)
    sums = np.bincount(index[ok], weights=arr[ok], minlength=size)
    counts = np.bincount(index[ok], minlength=size)
    grid = np.full(size, np.nan)
    grid[counts > 0] = sums[counts > 0] / counts[counts > 0]
    start = datetime.fromtimestamp(first * step, UTC)
    return GridSeries(start, step_minutes, grid, len(times))


# ---------------------------------------------------------------------------- the backtest
@dataclass(frozen=True)
class Split:
    first: int  # index of the first origin = steps the model trains on
    origins: tuple[int, ...]


def choose_origins(
    size: int, prediction_length: int, origins: int | None, train_fraction: float | None
) -> Split:
    """Non-overlapping windows after the training part (module doc); CliError if none fit."""
    if train_fraction is not None:
        first = math.floor(train_fraction * size)
    elif origins is not None:
        first = size - origins * prediction_length
    else:
        first = math.floor(DEFAULT_TRAIN_FRACTION * size)
    capacity = max(0, (size - first) // prediction_length) if first > 0 else 0
    wanted = capacity if origins is None else origins
    if first <= 0 or wanted > capacity or capacity < 1:
        need = (origins or 1) * prediction_length
        raise CliError(
            f"too few points: the series has {size} steps; "
            + (
                f"{origins} origins x {prediction_length} steps need {need} steps after the "
                f"training part, which leaves {max(size - max(first, 0), 0)}"
                if origins is not None
                else f"no {prediction_length}-step window fits after the training part"
            )
        )
    return Split(first, tuple(first + k * prediction_length for k in range(wanted)))


def _record(start: datetime, values: np.ndarray[Any, Any]) -> dict[str, Any]:
    return {
        "start": start.strftime("%Y-%m-%d %H:%M:%S"),
        "target": ["NaN" if math.isnan(v) else float(v) for v in values.tolist()],
    }


def deepar_forecasts(
    grid: GridSeries,
    split: Split,
    prediction_length: int,
    quantiles: Sequence[str],
    hyperparameters: dict[str, str],
    num_samples: int,
) -> list[Any]:
    """Train the local DeepAR on the training part; forecast every origin."""
    from feecast.deepar import parse_endpoint_response

    from feecast_twin.deepar import ClientError, invoke, run_training

    train = json.dumps(_record(grid.start, grid.values[: split.first]), allow_nan=False) + "\n"
    try:
        trained = run_training({"train": [("train.json", train.encode())]}, hyperparameters)
    except ClientError as exc:
        raise CliError(f"the local DeepAR refused the training data: {exc}") from None
    request = {
        "instances": [_record(grid.start, grid.values[:o]) for o in split.origins],
        "configuration": {
            "num_samples": num_samples,
            "output_types": ["mean", "quantiles"],
            "quantiles": list(quantiles),
        },
    }
    return parse_endpoint_response(invoke(trained.model, json.dumps(request, allow_nan=False)))


def run_backtest(
    grid: GridSeries,
    *,
    prediction_length: int,
    origins: int | None,
    train_fraction: float | None,
    overrides: dict[str, Any],
) -> dict[str, Any]:
    """Everything the table, the JSON and the plot show."""
    from feecast.backtest import actual_windows, evaluate_backtest, naive_verdict
    from feecast.baseline import RobustBaseline, naive_forecast, seasonal_naive_forecast
    from feecast.config import FeecastConfig
    from feecast.threshold import gate

    config = FeecastConfig()
    validation = config.validation
    keys = list(validation.quantiles)
    split = choose_origins(grid.values.size, prediction_length, origins, train_fraction)
    train = grid.values[: split.first]
    observed = int(np.count_nonzero(~np.isnan(train)))
    if observed < config.target.min_train_points:
        raise CliError(
            f"too few points: the training part has {observed} observed values; DeepAR needs "
            f"at least {config.target.min_train_points}"
        )
    season = max(1, 1440 // grid.step_minutes)
    try:
        hyper = config.hyperparameters.model_validate(
            {**config.hyperparameters.model_dump(), **overrides}
        )
        hyperparameters = hyper.to_sagemaker(prediction_length, grid.freq)
    except ValueError as exc:
        raise CliError(f"--hyperparameters: {exc}") from None
    forecasts: dict[str, Any] = {}
    try:
        forecasts["naive"] = [
            naive_forecast(grid.values[:o], prediction_length, keys) for o in split.origins
        ]
        robust = RobustBaseline.fit(
            grid.values,
            prediction_length,
            keys,
            start=grid.start,
            step_minutes=grid.step_minutes,
            fit_end=split.first,
        )
        forecasts["robust"] = robust.forecasts(grid.values, list(split.origins), start=grid.start)
    except ValueError as exc:
        raise CliError(f"too few points for the baselines: {exc}") from None
    if prediction_length <= season:
        # Less than a day (and its pairs) of history: the seasonal naive is left out.
        with contextlib.suppress(ValueError):
            forecasts["seasonal_naive"] = [
                seasonal_naive_forecast(grid.values[:o], prediction_length, keys, season=season)
                for o in split.origins
            ]
    forecasts["deepar"] = deepar_forecasts(
        grid, split, prediction_length, keys, hyperparameters, hyper.num_eval_samples
    )
    actual = actual_windows(grid.values, split.origins, prediction_length)
    block = max(
        1, round(validation.bootstrap_block_hours * 60 / (grid.step_minutes * prediction_length))
    )
    results = {
        name: evaluate_backtest(
            actual,
            {name: fc, **{k: v for k, v in forecasts.items() if k != name}},
            quantiles=keys,
            subject=name,
            block=block,
            resamples=validation.bootstrap_resamples,
        )
        for name, fc in forecasts.items()
    }
    deepar = results["deepar"]
    decision = gate(
        loss=deepar.pooled("deepar"),
        vs_naive=deepar.ratio("naive"),
        vs_robust=deepar.ratio("robust"),
        naive_margin=validation.naive_margin,
        robust_tolerance=validation.robust_tolerance,
        max_loss=validation.max_loss,
        production_note="an offline backtest has no production model",
    )
    models: dict[str, Any] = {}
    for name in MODELS:
        if name not in results:
            continue
        result = results[name]
        vs = result.ratio("naive")
        models[name] = {
            "wql": _num(result.pooled(name)),
            "ratio_to_naive": 1.0 if name == "naive" else _num(vs.ratio if vs else None),
            "ci95": [1.0, 1.0]
            if name == "naive"
            else ([_num(vs.ci95[0]), _num(vs.ci95[1])] if vs and vs.ci95 else None),
            "windows_won": 0.5 if name == "naive" else _num(vs.windows_won if vs else None),
        }
    return {
        "grid": grid,
        "split": split,
        "keys": keys,
        "actual": actual,
        "forecasts": forecasts,
        "results": results,
        "decision": decision,
        "verdict": naive_verdict(deepar.ratio("naive")),
        "models": models,
        "coverage": {n: results[n].scores[n].coverage() for n in results},
        "vs_robust": deepar.ratio("robust"),
        "hyperparameters": hyperparameters,
    }


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 5)


# ---------------------------------------------------------------------------- output
def as_json(out: dict[str, Any]) -> dict[str, Any]:
    decision = out["decision"]
    return {
        "origins": len(out["split"].origins),
        "prediction_length": int(out["actual"].shape[1]),
        "quantiles": [float(k) for k in out["keys"]],
        "models": out["models"],
        "gate": {"passed": bool(decision.passed), "reasons": list(decision.reasons)},
    }


def as_table(out: dict[str, Any], path: Path) -> str:
    grid: GridSeries = out["grid"]
    split: Split = out["split"]
    step = timedelta(minutes=grid.step_minutes)
    pl = int(out["actual"].shape[1])
    missing = int(np.count_nonzero(np.isnan(grid.values)))
    lines = [
        f"feecast backtest of {path}: {grid.values.size} steps of {grid.freq} "
        f"({missing} missing) from {grid.start:%Y-%m-%d %H:%M}Z",
        f"trained on the first {split.first} steps (to {grid.start + split.first * step:%Y-%m-%d %H:%M}Z); "
        f"{len(split.origins)} windows of {pl} steps; quantiles {', '.join(out['keys'])}",
        "",
        f"{'model':<16}{'mean wQL':>10}{'/ naive':>10}{'95% CI':>18}{'windows won':>13}{'coverage':>10}",
    ]
    for name, m in out["models"].items():
        ci = m["ci95"]
        ci_text = f"{ci[0]:.3f}-{ci[1]:.3f}" if ci and None not in ci else "-"
        cov = out["coverage"].get(name)
        won = "-" if m["windows_won"] is None else f"{m['windows_won']:.0%}"
        lines.append(
            f"{name:<16}{_f(m['wql'], 4):>10}{_f(m['ratio_to_naive'], 3):>10}{ci_text:>18}"
            f"{won:>13}"
            f"{_f(cov, 3):>10}"
        )
    robust = out["vs_robust"]
    lines += [
        "",
        f"DeepAR {out['verdict']}"
        + (
            f"; against the robust baseline {robust.ratio:.3f} (95% CI {robust.ci95[0]:.3f}-"
            f"{robust.ci95[1]:.3f})"
            if robust is not None and robust.ratio is not None and robust.ci95 is not None
            else ""
        ),
        f"gate (SSM default rules): {'passed' if out['decision'].passed else 'REJECTED'}",
    ]
    lines += [f"  - {reason}" for reason in out["decision"].reasons]
    return "\n".join(lines)


def _f(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def write_plot(out: dict[str, Any], target: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise CliError("--plot needs matplotlib (pip install matplotlib)") from None
    grid: GridSeries = out["grid"]
    split: Split = out["split"]
    keys = out["keys"]
    lo, mid, hi = keys[0], "0.5", keys[-1]
    pl = int(out["actual"].shape[1])
    step = timedelta(minutes=grid.step_minutes)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 7), height_ratios=[2, 1])
    start = max(0, split.first - 2 * pl)
    times = [grid.start + i * step for i in range(start, grid.values.size)]
    top.plot(times, grid.values[start:], color="black", lw=0.8, label="actual")
    for i, origin in enumerate(split.origins):
        t = [grid.start + (origin + h) * step for h in range(pl)]
        deepar = out["forecasts"]["deepar"][i]
        top.fill_between(
            t, deepar.quantiles[lo], deepar.quantiles[hi], color="tab:blue", alpha=0.2, lw=0
        )
        top.plot(
            t,
            deepar.quantiles[mid],
            color="tab:blue",
            lw=1,
            label="DeepAR median" if i == 0 else None,
        )
        naive = out["forecasts"]["naive"][i]
        top.plot(
            t,
            naive.quantiles[mid],
            color="tab:orange",
            lw=0.8,
            ls="--",
            label="naive median" if i == 0 else None,
        )
    top.set_title(
        f"backtest: {len(split.origins)} windows of {pl} x {grid.freq}; band = DeepAR {lo}-{hi}"
    )
    top.legend(loc="upper left")
    names = list(out["models"])
    ratios = [out["models"][n]["ratio_to_naive"] or math.nan for n in names]
    errors = [
        [r - (out["models"][n]["ci95"] or [r, r])[0] for n, r in zip(names, ratios, strict=True)],
        [(out["models"][n]["ci95"] or [r, r])[1] - r for n, r in zip(names, ratios, strict=True)],
    ]
    bottom.barh(names, ratios, xerr=errors, color="tab:gray", alpha=0.6, capsize=4)
    bottom.axvline(1.0, color="black", lw=0.8)
    bottom.set_xlabel("pooled mean wQL / naive (95% block-bootstrap interval)")
    fig.tight_layout()
    try:
        fig.savefig(target, dpi=110)
    except OSError as exc:
        raise CliError(f"--plot {target}: cannot write ({exc.strerror or exc})") from None
    finally:
        plt.close(fig)


# ---------------------------------------------------------------------------- the command
def _run(args: argparse.Namespace, context: Context) -> int:
    del context  # offline: no AWS
    from feecast.config import FeecastConfig, freq_minutes

    target = FeecastConfig().target
    freq = args.freq or target.freq
    try:
        step_minutes = freq_minutes(freq)
    except ValueError as exc:
        raise CliError(f"--freq: {exc}") from None
    prediction_length = (
        args.prediction_length if args.prediction_length is not None else target.prediction_length
    )
    if prediction_length < 1:
        raise CliError(f"--prediction-length must be >= 1, got {prediction_length}")
    if args.origins is not None and args.origins < 1:
        raise CliError(f"--origins must be >= 1, got {args.origins}")
    if args.train_fraction is not None and not 0 < args.train_fraction < 1:
        raise CliError(f"--train-fraction must be between 0 and 1, got {args.train_fraction}")
    overrides: dict[str, Any] = {}
    if args.hyperparameters:
        try:
            overrides = json.loads(args.hyperparameters)
        except json.JSONDecodeError as exc:
            raise CliError(f"--hyperparameters is not JSON ({exc.msg})") from None
        if not isinstance(overrides, dict):
            raise CliError("--hyperparameters must be a JSON object")
    grid = read_series(args.series, step_minutes)
    out = run_backtest(
        grid,
        prediction_length=prediction_length,
        origins=args.origins,
        train_fraction=args.train_fraction,
        overrides=overrides,
    )
    if args.plot is not None:
        write_plot(out, args.plot)
    if args.json:
        print(json.dumps(as_json(out)))
    else:
        print(as_table(out, args.series))
        if args.plot is not None:
            print(f"plot: {args.plot}")
    sys.stdout.flush()
    return 0
