"""One step module per function: functions/<x>/app.py calls feecast/<stage>/<x>.py.

A newcomer finds a function's code by its name alone (docs/conventions.md, the naming table).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "feecast" / "feecast"
APPS = sorted((ROOT / "functions").glob("*/app.py"))


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }


@pytest.mark.parametrize("app", APPS, ids=lambda p: p.parent.name)
def test_each_handler_imports_the_step_module_named_after_its_function(app: Path) -> None:
    step = app.parent.name
    wanted = {f"feecast.{stage.name}.{step}" for stage in LAYER.iterdir() if stage.is_dir()}
    found = _imported_modules(app) & wanted
    assert len(found) == 1, f"functions/{step}/app.py imports none of {sorted(wanted)}"
    (module,) = found
    assert (LAYER / module.split(".")[1] / f"{step}.py").is_file()


def test_the_naming_table_lists_every_function_with_its_step_module() -> None:
    table = (ROOT / "docs" / "conventions.md").read_text()
    for app in APPS:
        step = app.parent.name
        (module,) = {
            m for m in _imported_modules(app) if m.startswith("feecast.") and m.endswith(f".{step}")
        }
        row = f"| `{step}` | `{module.removeprefix('feecast.').replace('.', '/')}.py` |"
        assert row in table, f"docs/conventions.md has no naming-table row starting {row!r}"
