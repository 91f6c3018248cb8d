"""Real fees: `feecast backtest` on the per-block Bitcoin fee series in ../shared/data.

The series (../shared/data/btc_blockstats_2017-12_2018-02.csv, MIT, SOURCE.md beside it):
10,000 blocks from 2017-12-18 to 2018-02-19, the December 2017 congestion peak and its decline.
`avgfee_sat` is the average fee per transaction of a block, feecast's avg_fee_1min per block
instead of per minute; a block with only its coinbase (avgfee 0) is missing. Blocks come about
every 10 minutes at irregular times, so the series is placed on a 10-minute grid (values of one
step averaged) and "30 minutes ahead" is 3 steps.

Exactly what `feecast backtest --series FILE --freq 10min --prediction-length 3` does
(feecast_cli.backtest.run_backtest): the local DeepAR with the SSM default hyperparameters
trained on the first 60% of the series, then every non-overlapping 3-step window of the rest
forecast from the history before it; naive, seasonal naive (same step a day earlier) and the
robust baseline on the same windows; 95% block-bootstrap intervals. No goal: real data is here to
show how the models rank outside the synthetic generator, not to pin numbers (it is not a test
fixture). FEECAST_REAL_FEES=path overrides the file.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, load, measurement, result

DEFAULT = ROOT.parent / "shared" / "data" / "btc_blockstats_2017-12_2018-02.csv"
TRAIN_FRACTION = 0.6
PREDICTION_STEPS = 3  # 30 minutes of 10-minute steps


def to_backtest_csv(source: Path, target: Path) -> int:
    """timestamp,value from the block statistics (avgfee 0: a block without transactions)."""
    rows = 0
    with source.open(newline="") as src, target.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["timestamp", "value"])
        for row in csv.DictReader(src):
            fee = float(row["avgfee_sat"])
            writer.writerow([row["time"], "" if fee <= 0 else row["avgfee_sat"]])
            rows += 1
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from feecast.observability import logger

    from feecast_cli.backtest import as_json, read_series, run_backtest

    logger.setLevel("WARNING")
    path = Path(os.environ.get("FEECAST_REAL_FEES") or DEFAULT)
    title = "Real fees: feecast backtest on 10,000 Bitcoin blocks (Dec 2017 - Feb 2018)"
    if not path.is_file():
        return result(
            "real_fees",
            title,
            [measurement("data_available", False, note=f"{path} not found: nothing measured")],
        )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "blocks.csv"
        blocks = to_backtest_csv(path, csv_path)
        grid = read_series(csv_path, 10)
        out = run_backtest(
            grid,
            prediction_length=PREDICTION_STEPS,
            origins=None,
            train_fraction=TRAIN_FRACTION,
            overrides={},
        )
    seconds = time.perf_counter() - started
    summary = as_json(out)
    deepar = out["results"]["deepar"]
    robust = out["results"]["robust"]
    vs_naive, vs_robust = deepar.ratio("naive"), deepar.ratio("robust")
    robust_vs_naive = robust.ratio("naive")
    windows = summary["origins"]

    def ci(c: Any) -> str:
        return f"95% CI {c.ci95[0]:.3f}-{c.ci95[1]:.3f}, wins {c.windows_won:.0%}"

    measurements = [
        measurement("windows", windows, note=f"{blocks} blocks on a 10-minute grid"),
        measurement("deepar_to_naive_wql_ratio", vs_naive.ratio, note=ci(vs_naive)),
        measurement("robust_to_naive_wql_ratio", robust_vs_naive.ratio, note=ci(robust_vs_naive)),
        measurement("deepar_to_robust_wql_ratio", vs_robust.ratio, note=ci(vs_robust)),
        measurement(
            "seasonal_naive_to_naive_wql_ratio",
            summary["models"].get("seasonal_naive", {}).get("ratio_to_naive"),
        ),
        measurement("deepar_interval_coverage", out["coverage"]["deepar"], note="90% interval"),
        measurement("gate_passed", summary["gate"]["passed"], note="the SSM default rules"),
        measurement("seconds", seconds, "s", digits=1),
    ]
    details = {
        "source": str(path.relative_to(ROOT.parent))
        if path.is_relative_to(ROOT.parent)
        else str(path),
        "summary": summary,
        "train_steps": out["split"].first,
        "grid_steps": int(grid.values.size),
        "verdict": out["verdict"],
        "load_at_end": load(),
    }
    return result("real_fees", title, measurements, details)


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=2, default=str))
