"""Lambda functions: cold import time of each handler module, heavy imports, built sizes.

Import time: each handler module (`app`) is imported in a fresh interpreter, the way Lambda's
init phase does it, with the function's environment variables as the twin gives them (the
template's Environment with Globals, resolved on a deployed twin, plus what Lambda itself sets)
and any AWS call pointed at a closed local port (an import must not call AWS). Median of RUNS.

Faithful mode (used when `sam build` output and a python3.12 exist): the Lambda runtime's
Python version, `-I -S` (no site-packages), and exactly what is deployed on sys.path: the built
function folder, then the built layer, then boto3/s3transfer (which the runtime provides).
Otherwise (or with FEECAST_BENCH_IMPORT_MODE=source): the venv's Python on functions/<dir> +
layers/feecast (what the twin runs), reported as mode "source".

Goals (issue 10): the functions that only route events import in under 300 ms and never
import pandas (nor pyarrow); no function plus its layers exceeds Lambda's 250 MiB unzipped
quota. The 50 MiB zipped limit applies only to direct uploads: `sam deploy` uploads the
packages to S3, where only the unzipped quota applies.

Routing functions: they read an event or a state-machine task, validate it, make a few AWS
calls (SSM, DynamoDB, Step Functions, SageMaker control plane, SNS) and return a small result.
The data functions (excluded) read the feature store's Parquet or score forecasts:
collect_transactions (minute aggregation), prepare_data, evaluate_model, monitor_endpoint,
smoke_test.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ROOT, measurement, result

RUNS = int(os.environ.get("FEECAST_BENCH_IMPORT_RUNS", "5"))
IMPORT_GOAL_S = 0.3
MIB = 1024 * 1024
SIZE_LIMIT_MIB = 250
DATA_FUNCTIONS = {
    "CollectTransactionsFunction",
    "PrepareDataFunction",
    "EvaluateModelFunction",
    "MonitorEndpointFunction",
    "SmokeTestFunction",
}
HEAVY = ("pandas", "pyarrow", "numpy", "torch", "gluonts", "sagemaker")
CLOSED_PORT_URL = "http://127.0.0.1:9"  # discard port: nothing listens, calls fail at once

CHILD = """
import importlib, json, sys, time
sys.path[:0] = {paths!r}
started = time.perf_counter()
importlib.import_module({module!r})
seconds = time.perf_counter() - started
loaded = sys.modules
print(json.dumps({{"seconds": seconds, "modules": len(loaded),
                  "heavy": [m for m in {heavy!r} if m in loaded]}}))
"""


def main() -> dict[str, Any]:
    build = ROOT / ".aws-sam" / "build"
    if not (build / "template.yaml").exists():
        raise RuntimeError("no sam build output in .aws-sam/build: run `make build` first")
    functions = _functions(build)
    env = _environments(list(functions))
    python = None if os.environ.get("FEECAST_BENCH_IMPORT_MODE") == "source" else _lambda_python()
    mode = "built" if python else "source"
    with tempfile.TemporaryDirectory(prefix="feecast-bench-runtime-") as runtime:
        runtime_dir = _runtime_packages(Path(runtime))
        rows = []
        for logical_id, fn in sorted(functions.items()):
            if mode == "built":
                paths = [str(build / fn["code"]), *fn["layers"], str(runtime_dir)]
                argv = [str(python), "-I", "-S", "-c"]
            else:
                paths = [str(ROOT / fn["source"]), str(ROOT / "layers" / "feecast")]
                argv = [sys.executable, "-I", "-c"]
            module = fn["handler"].rpartition(".")[0]
            code = CHILD.format(paths=paths, module=module, heavy=HEAVY)
            # LAMBDA_TASK_ROOT matters: without it the X-Ray SDK (Tracer) takes ~90 ms more to
            # import, probing for a non-Lambda environment.
            fn_env = {**env[logical_id], "LAMBDA_TASK_ROOT": paths[0], "_HANDLER": fn["handler"]}
            samples = [_import_once([*argv, code], fn_env, cwd=paths[0]) for _ in range(RUNS)]
            failed = next((s for s in samples if "error" in s), None)
            rows.append(
                {
                    "function": logical_id,
                    "routing": logical_id not in DATA_FUNCTIONS,
                    "import_s": None
                    if failed
                    else statistics.median(s["seconds"] for s in samples),
                    "heavy": [] if failed else samples[0]["heavy"],
                    "modules": None if failed else samples[0]["modules"],
                    "error": failed["error"] if failed else None,
                }
            )
    sizes = _sizes(build)
    measurements = []
    for row in rows:
        name = row["function"].removesuffix("Function")
        heavy = ", ".join(row["heavy"]) or "none"
        if row["error"]:
            measurements.append(
                measurement(f"import {name}", "error", note=row["error"][-300:], equals="imported")
            )
            continue
        if row["routing"]:
            measurements.append(
                measurement(
                    f"import {name}",
                    row["import_s"] * 1000,
                    "ms",
                    below=IMPORT_GOAL_S * 1000,
                    note=f"routing; heavy imports: {heavy}",
                    digits=0,
                )
            )
            measurements.append(
                measurement(
                    f"no pandas/pyarrow {name}",
                    not ({"pandas", "pyarrow"} & set(row["heavy"])),
                    equals=True,
                )
            )
        else:
            measurements.append(
                measurement(
                    f"import {name}",
                    row["import_s"] * 1000,
                    "ms",
                    note=f"data function; heavy imports: {heavy}",
                    digits=0,
                )
            )
    for logical_id, size in sorted(sizes.items(), key=lambda item: -item[1]):
        measurements.append(
            measurement(
                f"size {logical_id.removesuffix('Function')}",
                size / MIB,
                "MiB",
                below=SIZE_LIMIT_MIB,
                note="unzipped, function + layers",
                digits=1,
            )
        )
    return result(
        "functions",
        "Lambda functions: cold import of each handler, heavy imports, built size",
        measurements,
        {
            "mode": mode,
            "python": str(python) if python else sys.executable,
            "runs": RUNS,
            "functions": rows,
            "sizes_mib": {k: round(v / MIB, 1) for k, v in sizes.items()},
            "size_note": (
                "250 MiB unzipped (function + layers) is the quota that applies: sam deploy "
                "uploads to S3, so the 50 MiB zipped direct-upload limit does not"
            ),
        },
    )


# ---------------------------------------------------------------------------- helpers
def _functions(build: Path) -> dict[str, dict[str, Any]]:
    """logical id -> built code folder, source folder, handler, built layer paths."""
    from feecast_twin.intrinsics import load_yaml

    built = load_yaml((build / "template.yaml").read_text())
    source = load_yaml((ROOT / "template.yaml").read_text())
    defaults = built.get("Globals", {}).get("Function", {})
    layers = {
        name: str(build / res["Properties"]["ContentUri"] / "python")
        for name, res in built["Resources"].items()
        if res["Type"] == "AWS::Serverless::LayerVersion"
    }
    out = {}
    for name, res in built["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        props = res["Properties"]
        # SAM adds a function's Layers to the Globals' ones.
        refs = [*defaults.get("Layers", []), *props.get("Layers", [])]
        out[name] = {
            "code": props["CodeUri"],
            "source": source["Resources"][name]["Properties"]["CodeUri"].rstrip("/"),
            "handler": props.get("Handler", defaults.get("Handler", "app.lambda_handler")),
            "layers": list(
                dict.fromkeys(
                    layers[r["Ref"]] for r in refs if isinstance(r, dict) and r.get("Ref") in layers
                )
            ),
        }
    return out


def _environments(logical_ids: list[str]) -> dict[str, dict[str, str]]:
    """Each function's variables as the twin deploys them, plus what Lambda sets."""
    from feecast_twin import Twin

    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    out = {}
    with Twin() as twin:
        lam = twin.client("lambda")
        for logical_id in logical_ids:
            name = twin.physical_id(logical_id)
            config = lam.get_function_configuration(FunctionName=name)
            variables = (config.get("Environment") or {}).get("Variables", {})
            out[logical_id] = {
                **keep,
                "AWS_REGION": twin.region,
                "AWS_DEFAULT_REGION": twin.region,
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize", 512)),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
                "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9",
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_SESSION_TOKEN": "bench",
                "AWS_ENDPOINT_URL": CLOSED_PORT_URL,
                "AWS_EC2_METADATA_DISABLED": "true",
                "TZ": ":UTC",
                **{k: str(v) for k, v in variables.items()},
            }
    return out


def _lambda_python() -> Path | None:
    """A python3.12 (the runtime's version): $LAMBDA_PYTHON, PATH, or pyenv."""
    candidates = [os.environ.get("LAMBDA_PYTHON", ""), shutil.which("python3.12") or ""]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            probe = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                capture_output=True,
                text=True,
            )
            if probe.stdout.strip() == "True":
                return Path(candidate)
    return None


def _runtime_packages(folder: Path) -> Path:
    """What the Lambda Python runtime adds on its own: boto3 with botocore and their
    dependencies (pure Python; the layers do not ship them, layers/feecast/Makefile)."""
    import boto3
    import botocore
    import dateutil
    import jmespath
    import s3transfer
    import six
    import urllib3

    for module in (boto3, botocore, s3transfer, jmespath, dateutil, urllib3):
        source = Path(module.__file__).parent  # type: ignore[arg-type]
        (folder / source.name).symlink_to(source)
    (folder / "six.py").symlink_to(Path(six.__file__))  # type: ignore[arg-type]
    return folder


def _import_once(argv: list[str], env: dict[str, str], cwd: str) -> dict[str, Any]:
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "?"}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _sizes(build: Path) -> dict[str, int]:
    """scripts/check_lambda_sizes.py's function_sizes (function folder + its layers)."""
    spec = importlib.util.spec_from_file_location(
        "check_lambda_sizes", ROOT / "scripts" / "check_lambda_sizes.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.function_sizes(build))


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
