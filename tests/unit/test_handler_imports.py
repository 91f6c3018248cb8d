"""Functions that only route events start light: importing their handler loads no data library.

pandas and pyarrow are not in the shared layer (a routing function importing them fails on
Lambda) and numpy costs ~100 ms of every cold start; bench/bench_functions.py measures the
import times (goal < 300 ms). The data functions below read Parquet or score forecasts and may
import them. Every other function (any new one too) must not.

One fresh interpreter imports every routing handler in turn, with the function's environment
from template.yaml (intrinsics replaced by placeholders: importing must not call AWS, and
AWS_ENDPOINT_URL points at a closed port to make sure), and reports what each import added.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from feecast_twin.intrinsics import load_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_yaml((ROOT / "template.yaml").read_text())
# Same list as bench/bench_functions.py: the functions that work on data.
DATA_FUNCTIONS = {
    "CollectTransactionsFunction",
    "PrepareDataFunction",
    "EvaluateModelFunction",
    "MonitorEndpointFunction",
    "SmokeTestFunction",
}
HEAVY = ("pandas", "pyarrow", "numpy", "torch", "gluonts")

CHILD = """
import importlib.util, json, os, sys
found = {}
for name, folder, module, env in json.loads(sys.argv[1]):
    os.environ.update(env)
    sys.path.insert(0, folder)
    before = set(sys.modules)
    spec = importlib.util.spec_from_file_location("handler_" + name, f"{folder}/{module}.py")
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)
    sys.path.remove(folder)
    found[name] = sorted({m.split(".")[0] for m in set(sys.modules) - before} & set(HEAVY))
print(json.dumps(found))
"""


def _placeholder(name: str) -> str:
    if name.endswith("_ARN"):
        return f"arn:aws:states:eu-west-1:123456789012:stateMachine:test-{name.lower()}"
    if name.endswith("_URL"):
        return "https://example.invalid/test"
    return f"test-{name.lower().replace('_', '-')}"


def _value(name: str, raw: Any) -> str:
    """A parameter's default for Ref / Sub of parameters; a placeholder for resource ids."""
    defaults = {k: str(v.get("Default", "")) for k, v in TEMPLATE["Parameters"].items()}
    if isinstance(raw, str | int | float):
        return str(raw)
    if isinstance(raw, dict) and raw.get("Ref") in defaults:
        return defaults[raw["Ref"]]
    sub = raw.get("Fn::Sub") if isinstance(raw, dict) else None
    if isinstance(sub, str) and all(
        ref in defaults or ref.startswith("AWS::") for ref in re.findall(r"\$\{([^}]+)\}", sub)
    ):
        return re.sub(r"\$\{([^}]+)\}", lambda m: defaults.get(m.group(1), "test"), sub)
    return _placeholder(name)


def _environment(props: dict[str, Any]) -> dict[str, str]:
    variables = {
        **TEMPLATE["Globals"]["Function"]["Environment"]["Variables"],
        **(props.get("Environment") or {}).get("Variables", {}),
    }
    return {k: _value(k, v) for k, v in variables.items()}


def _routing_functions() -> list[tuple[str, str, str, dict[str, str]]]:
    handler = TEMPLATE["Globals"]["Function"].get("Handler", "app.lambda_handler")
    out = []
    for name, res in TEMPLATE["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function" or name in DATA_FUNCTIONS:
            continue
        props = res["Properties"]
        module = props.get("Handler", handler).rpartition(".")[0]
        out.append((name, str(ROOT / props["CodeUri"].rstrip("/")), module, _environment(props)))
    return out


def test_routing_handlers_import_no_data_library() -> None:
    functions = _routing_functions()
    assert len(functions) >= 10, "template.yaml lost its routing functions?"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT / "layers" / "feecast"),
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    code = f"HEAVY = {HEAVY!r}\n" + CHILD
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(functions)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(found) == {name for name, *_ in functions}
    heavy = {name: mods for name, mods in found.items() if mods}
    assert not heavy, (
        "routing handlers import data libraries (make the import lazy or split the module; "
        f"see bench/bench_functions.py): {heavy}"
    )
