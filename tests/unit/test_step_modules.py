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


MAX_HANDLER_LINES = 40


@pytest.mark.parametrize("app", APPS, ids=lambda p: p.parent.name)
def test_each_handler_is_short(app: Path) -> None:
    lines = len(app.read_text().splitlines())
    assert lines <= MAX_HANDLER_LINES, (
        f"functions/{app.parent.name}/app.py has {lines} lines: move what is not parse / call /"
        f" return into feecast/<stage>/{app.parent.name}.py"
    )


def _is_json_dump(node: ast.expr | None) -> bool:
    """`<call>.model_dump(mode="json", ...)`: one result shape, a pydantic model made JSON."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "model_dump"
        and any(
            k.arg == "mode" and isinstance(k.value, ast.Constant) and k.value.value == "json"
            for k in node.keywords
        )
    )


@pytest.mark.parametrize("app", APPS, ids=lambda p: p.parent.name)
def test_each_handler_returns_a_model_dumped_as_json(app: Path) -> None:
    """An API Gateway handler (approval_callback) too: its response is a model."""
    tree = ast.parse(app.read_text())
    (handler,) = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == "lambda_handler"
    ]
    returns = [node for node in ast.walk(handler) if isinstance(node, ast.Return)]
    assert returns, f"functions/{app.parent.name}/app.py: lambda_handler returns nothing"
    for node in returns:
        assert _is_json_dump(node.value), (
            f"functions/{app.parent.name}/app.py line {node.lineno}: return"
            ' `<library call>.model_dump(mode="json")`'
        )


def test_retry_throttling_decorates_functions_only() -> None:
    """A merge once left `@retry_throttling` on a request model (the class above the step
    function): the step then failed at the first throttle instead of being retried."""
    import ast

    misplaced = []
    for path in (ROOT / "layers" / "feecast" / "feecast").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                getattr(d, "id", getattr(d, "attr", None)) == "retry_throttling"
                for d in node.decorator_list
            ):
                misplaced.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert misplaced == []
