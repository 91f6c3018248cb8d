"""Fail when a built function plus its layers exceeds Lambda's unzipped size limit.

`sam build` succeeds with packages Lambda then refuses at deploy time (250 MiB unzipped for a
function and all its layers). pyarrow alone is ~150 MB, so this check runs after every build.

    python scripts/check_lambda_sizes.py [.aws-sam/build]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from feecast_twin.intrinsics import load_yaml

LIMIT = 250 * 1024 * 1024  # Lambda quota: deployment package + layers, unzipped
WARN_AT = 0.9


def tree_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def function_layers(global_layers: list[Any], own_layers: list[Any]) -> list[str]:
    """The layer logical ids a function gets: SAM adds a function's Layers to the Globals' ones
    (list properties of Globals are additive), each once."""
    refs = [r.get("Ref") for r in [*global_layers, *own_layers] if isinstance(r, dict)]
    return list(dict.fromkeys(r for r in refs if r))


def function_sizes(build_dir: Path) -> dict[str, int]:
    template = load_yaml((build_dir / "template.yaml").read_text())
    resources: dict[str, Any] = template["Resources"]
    layers = {
        name: tree_size(build_dir / res["Properties"]["ContentUri"])
        for name, res in resources.items()
        if res["Type"] == "AWS::Serverless::LayerVersion"
    }
    global_layers = template.get("Globals", {}).get("Function", {}).get("Layers", [])
    sizes = {}
    for name, res in resources.items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        refs = function_layers(global_layers, res["Properties"].get("Layers", []))
        layer_bytes = sum(layers.get(ref, 0) for ref in refs)
        sizes[name] = tree_size(build_dir / res["Properties"]["CodeUri"]) + layer_bytes
    return sizes


def main(argv: list[str]) -> int:
    build_dir = Path(argv[0] if argv else ".aws-sam/build")
    sizes = function_sizes(build_dir)
    failed = False
    for name, size in sorted(sizes.items(), key=lambda item: -item[1]):
        share = size / LIMIT
        flag = "TOO BIG" if share > 1 else ("near the limit" if share > WARN_AT else "")
        failed |= share > 1
        print(f"{name:40s} {size / 1048576:7.1f} MiB  {share:6.1%} of 250 MiB  {flag}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
