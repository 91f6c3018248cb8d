"""docs/benchmarks.md quotes the latest `make bench` run: its generated block is bench/results.json's.

A full `make bench` rewrites both; editing one by hand (or committing a new results.json without
`python -m bench --write-docs`) fails here.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _bench_main() -> Any:
    # bench/ is not an installed package: load its __main__ by path (importing `bench` from the
    # repository root, as `python -m bench` does).
    sys.path.insert(0, str(ROOT))
    try:
        spec = importlib.util.spec_from_file_location("bench_main", ROOT / "bench" / "__main__.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT))


def test_docs_quote_the_latest_results() -> None:
    bench = _bench_main()
    report = json.loads((ROOT / "bench" / "results.json").read_text())
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    block = text.split(bench.BEGIN, 1)[1].split(bench.END, 1)[0]
    assert block == bench.docs_block(report), "run `python -m bench --write-docs`"


def test_every_benchmark_module_is_in_the_results() -> None:
    report = json.loads((ROOT / "bench" / "results.json").read_text())
    modules = sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))
    assert sorted(b["module"] for b in report["benchmarks"]) == modules
    assert report["selection"] is None, "results.json must come from a full run"


def test_the_prose_sections_quote_the_latest_results_without_placeholders() -> None:
    import re

    bench = _bench_main()
    report = json.loads((ROOT / "bench" / "results.json").read_text())
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    sys.path.insert(0, str(ROOT))
    try:
        from bench.doc_sections import SECTIONS, fill
    finally:
        sys.path.remove(str(ROOT))
    assert fill(text, report) == text, (
        "edit bench/doc_templates/, then `python -m bench --write-docs`"
    )
    assert len(SECTIONS) == 3 and bench.BEGIN in text
    # No template token left for a reader: neither {name} nor the old FQ_/RF_/GS_ markers.
    assert not re.search(r"\{[a-z_]+\}|\b(?:FQ|RF|GS)_[A-Z_]+\b", text)


def test_a_section_missing_from_the_docs_is_an_error() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from bench.doc_sections import fill
    finally:
        sys.path.remove(str(ROOT))
    report = json.loads((ROOT / "bench" / "results.json").read_text())
    try:
        fill("no sections here", report)
    except ValueError as exc:
        assert "forecast quality" in str(exc)
    else:
        raise AssertionError("fill accepted a text without its sections")
