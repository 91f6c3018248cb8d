"""Only feecast/adapters reaches AWS: no other library module imports boto3 or botocore
(docs/conventions.md, "How a use case reaches AWS")."""

from __future__ import annotations

import ast
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[2] / "layers" / "feecast" / "feecast"
AWS_SDK = ("boto3", "botocore")


def sdk_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found += [
            f"{path.relative_to(LIBRARY)}:{node.lineno} {n}"
            for n in names
            if n.split(".")[0] in AWS_SDK
        ]
    return found


def test_only_the_adapters_import_boto3_or_botocore() -> None:
    modules = [p for p in LIBRARY.rglob("*.py") if "adapters" not in p.relative_to(LIBRARY).parts]
    assert len(modules) > 20  # the walk found the library
    assert [hit for p in sorted(modules) for hit in sdk_imports(p)] == []


def test_the_adapters_are_where_the_sdk_is_imported() -> None:
    # The check above would pass on an empty tree or a broken parser: it must see these.
    hits = sdk_imports(LIBRARY / "adapters" / "clients.py")
    assert any(hit.endswith(" boto3") for hit in hits), hits


def adapter_imports(path: Path) -> list[str]:
    """Imports of feecast.adapters modules other than its domain errors."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        found += [
            f"{path.relative_to(LIBRARY)}:{node.lineno} {n}"
            for n in names
            if n.startswith("feecast.adapters") and not n.startswith("feecast.adapters.errors")
        ]
    return found


def test_use_cases_receive_their_adapters_and_never_build_them() -> None:
    # The handler wires the real adapters (docs/conventions.md); a use case may only catch the
    # domain errors the adapters raise (feecast.adapters.errors).
    modules = [p for p in LIBRARY.rglob("*.py") if "adapters" not in p.relative_to(LIBRARY).parts]
    assert [hit for p in sorted(modules) for hit in adapter_imports(p)] == []
    handler = LIBRARY.parents[2] / "functions" / "collect_transactions" / "app.py"
    assert adapter_imports_in(handler), "the check must see a handler's adapter imports"


def adapter_imports_in(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    return [
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("feecast.adapters")
    ]
