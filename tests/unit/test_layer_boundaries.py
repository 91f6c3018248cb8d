"""The Lambda layer holds only what runs in Lambda.

Fakes, the synthetic generator and operator-only code live outside it (feecast_testing,
feecast_cli), so every module of layers/feecast is reached from some function's handler, and the
layer imports nothing from the packages that are not deployed.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "feecast"
NOT_DEPLOYED = ("feecast_testing", "feecast_twin", "feecast_cli", "feecast_demo", "tests", "bench")


def _layer_modules() -> dict[str, Path]:
    modules = {}
    for path in LAYER.rglob("*.py"):
        parts = path.relative_to(LAYER).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _imports(path: Path, module: str) -> set[str]:
    """Absolute names `path` imports, with `from a import b` also giving `a.b` (b may be a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = (
                    module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                )
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, node.module] if node.module else package)
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_every_layer_module_is_reached_from_a_handler() -> None:
    modules = _layer_modules()
    pending = [name for app in (ROOT / "functions").glob("*/*.py") for name in _imports(app, "app")]
    reached: set[str] = set()
    while pending:
        parts = pending.pop().split(".")
        for end in range(1, len(parts) + 1):
            name = ".".join(parts[:end])
            if name in modules and name not in reached:
                reached.add(name)
                pending.extend(_imports(modules[name], name))
    unreached = sorted(set(modules) - reached)
    assert not unreached, (
        f"in the layer but no function imports them: {unreached}; code that only tests, the demo, "
        "the benchmarks or the CLI use belongs in feecast_testing or feecast_cli"
    )


def test_the_layer_imports_nothing_that_is_not_deployed() -> None:
    offending = {
        f"{path.relative_to(ROOT)}: {name}"
        for module, path in _layer_modules().items()
        for name in _imports(path, module)
        if name.split(".")[0] in NOT_DEPLOYED
    }
    assert not offending, sorted(offending)
