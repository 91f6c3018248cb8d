"""The local DeepAR's speed: package import, gluonts import, one training job, one forecast.

Goals (2-core laptop): importing feecast_twin.deepar stays under 1 s (gluonts is lazy); a
training job on one week of per-minute points (10,080) with SageMaker-like settings and
5 epochs finishes under 60 s; one 30-step forecast with 100 samples answers under 0.5 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import numpy as np

from bench.common import measurement, result

GOALS = {"package_import_s": 1.0, "train_s": 60.0, "forecast_s": 0.5}


def _import_seconds(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> dict[str, Any]:
    package_import = _import_seconds("import feecast_twin.deepar")
    gluonts_import = _import_seconds("from gluonts.torch import DeepAREstimator")

    from feecast_twin.deepar import invoke, run_training

    n = 7 * 1440
    rng = np.random.default_rng(7)
    y = np.exp(3 + 0.3 * np.sin(np.arange(n) / 180) + rng.normal(0, 0.2, n))
    train = json.dumps({"start": "2026-01-05 00:00:00", "target": y[:-30].round(3).tolist()})
    test = json.dumps({"start": "2026-01-05 00:00:00", "target": y.round(3).tolist()})
    hp = {
        "epochs": "5",
        "prediction_length": "30",
        "context_length": "30",
        "time_freq": "1min",
        "mini_batch_size": "64",
    }
    t = time.perf_counter()
    trained = run_training(
        {"train": [("t.json", train.encode())], "test": [("t.json", test.encode())]}, hp
    )
    train_s = time.perf_counter() - t

    request = json.dumps(
        {
            "instances": [{"start": "2026-01-05 00:00:00", "target": y[-500:].round(3).tolist()}],
            "configuration": {"num_samples": 100, "output_types": ["mean", "quantiles"]},
        }
    )
    invoke(trained.model, request)  # warm-up
    t = time.perf_counter()
    invoke(trained.model, request)
    forecast_s = time.perf_counter() - t

    return result(
        "local_deepar",
        "Local DeepAR: imports, one training (1 week of minutes, 5 epochs), one forecast",
        [
            measurement("package_import", package_import, "s", below=GOALS["package_import_s"]),
            measurement("gluonts_import", gluonts_import, "s", note="lazy: paid by training"),
            measurement(
                "train", train_s, "s", below=GOALS["train_s"], note=f"{n:,} points, 5 epochs"
            ),
            measurement(
                "forecast", forecast_s, "s", below=GOALS["forecast_s"], note="30 steps, 100 samples"
            ),
        ],
        {
            "points": n,
            "metrics": {k: round(v, 4) for k, v in trained.metrics.items()},
            "model_tar_bytes": len(trained.model_tar),
        },
    )


if __name__ == "__main__":
    print(json.dumps(main()))
