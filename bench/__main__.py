"""Run the benchmarks, write bench/results.json and bench/results.md, print the table.

    python -m bench                 # every bench/bench_*.py; writes the results files
    python -m bench lifecycle data  # only those whose name contains a word; prints only
    python -m bench --strict        # exit 1 when a goal is missed
    python -m bench --out DIR       # write the results files to DIR (also for a selection)
    python -m bench --write-docs    # only rewrite docs/benchmarks.md's numbers from results.json

A full run also rewrites the generated block of docs/benchmarks.md from its results, so the
docs quote the latest run (tests/unit/test_bench_docs.py checks that they agree).

Each module's `main()` returns bench.common.result(...) (see bench/common.py); a module that
still returns a flat dict (value keys + "goals" + "ok") is converted. A goal that is missed is
reported (FAIL in the table, ok false in the JSON), not hidden; the exit status is 0 unless
--strict is given. A benchmark that crashes is always an error (exit 1): it measured nothing.
Either way the output says why, under the benchmark's table and again at the end: which
benchmark, which measurement, its value against the goal, the benchmark's own "why" (e.g. the
lifecycle's failed phase) and, for a crash, the error and the end of its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bench.common import load, machine, measurement

HERE = Path(__file__).parent
DOCS = HERE.parent / "docs" / "benchmarks.md"
BEGIN, END = "<!-- BEGIN generated: results -->\n", "<!-- END generated: results -->"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="run only benchmarks whose name contains one")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument("--out", type=Path, default=None, help="folder for the results files")
    parser.add_argument(
        "--write-docs", action="store_true", help="rewrite docs/benchmarks.md from results.json"
    )
    args = parser.parse_args(argv)
    if args.write_docs:
        write_docs(json.loads((HERE / "results.json").read_text()))
        return 0

    names = sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_"))
    selected = [n for n in names if not args.names or any(a in n for a in args.names)]
    if not selected:
        print(f"no benchmark matches {args.names}; there are {names}", file=sys.stderr)
        return 2
    facts = machine()
    print(
        f"feecast benchmarks on {facts['cpu_count']} CPUs ({facts['cpu_model']}), Python "
        f"{facts['python']}, load {facts['load_at_start']['1m']} (1 min avg)",
        flush=True,
    )
    results = []
    for name in selected:
        print(f"-- {name} ...", flush=True)
        results.append(run_one(name))
        print(_table([results[-1]], reasons=False), flush=True)
        why = why_failed(results[-1], traceback_lines=15)
        if why:
            print("\nwhy it failed:\n" + "\n".join(why), flush=True)
    facts["load_at_end"] = load()
    report = {
        "machine": facts,
        "selection": args.names or None,
        "ok": all(r["ok"] is not False for r in results),
        "benchmarks": results,
    }
    out = args.out if args.out is not None else (None if args.names else HERE)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
        (out / "results.md").write_text(markdown(report))
        print(f"\nwritten: {out / 'results.json'}, {out / 'results.md'}")
        if out == HERE:
            write_docs(report)
            print(f"written: {DOCS} (generated block)")
    failed = [r["name"] for r in results if r["ok"] is False]
    errors = [r["name"] for r in results if r.get("error")]
    print(
        f"\n{len(results)} benchmark(s); goals missed in: {', '.join(failed) or 'none'}"
        + (f"; crashed: {', '.join(errors)}" if errors else "")
    )
    summary = [line for r in results for line in why_failed(r, detail=False)]
    if summary:
        print("\n".join(summary))
    if errors or (args.strict and failed):
        return 1
    return 0


def run_one(module_name: str) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        module = importlib.import_module(f"bench.{module_name}")
        raw = module.main() or {}
        out = normalise(module_name, raw)
    except Exception as exc:
        out = {
            "name": module_name.removeprefix("bench_"),
            "title": module_name,
            "measurements": [],
            "ok": False,
            "details": {},
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc()[-4000:],
        }
    out["module"] = module_name
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def normalise(module_name: str, raw: dict[str, Any]) -> dict[str, Any]:
    """The common shape; a flat legacy dict ({key: value, "goals": {key: max}, "ok"}) is
    turned into measurements, each goal read as "at most"."""
    if "measurements" in raw:
        raw.setdefault("name", module_name.removeprefix("bench_"))
        raw.setdefault("title", raw["name"])
        raw.setdefault("details", {})
        return raw
    goals = dict(raw.get("goals") or {})
    goals.update({k.removeprefix("goal_"): v for k, v in raw.items() if k.startswith("goal_")})
    measurements = []
    details = {}
    for key, value in raw.items():
        if key in ("goals", "ok", "benchmark") or key.startswith("goal_"):
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            unit = "s" if key.endswith("_s") else ""
            measurements.append(measurement(key, value, unit, at_most=goals.get(key)))
        else:
            details[key] = value
    judged = [m["ok"] for m in measurements if m["ok"] is not None]
    ok = raw.get("ok", all(judged) if judged else None)
    return {
        "name": module_name.removeprefix("bench_"),
        "title": module_name,
        "measurements": measurements,
        "ok": ok,
        "details": details,
    }


# ---------------------------------------------------------------------------- output
def why_failed(
    result: dict[str, Any], *, detail: bool = True, traceback_lines: int = 0
) -> list[str]:
    """Why a benchmark failed, one finding per line starting with its name: the error of a
    crash, each missed goal (measurement, value, goal, note) and the benchmark's own "why".
    With detail=False only the first line of each (the end-of-run summary); [] if it passed."""
    name = result.get("name", "?")
    lines: list[str] = []
    if result.get("error"):
        error = str(result["error"])
        first, _, rest = error.partition("\n")
        lines.append(f"{name}: crashed: {first}")
        if detail and rest.strip():
            lines.extend(f"    {line}" for line in rest.rstrip().splitlines())
        trace_text = str(result.get("traceback") or "").rstrip()
        if trace_text.endswith(error.rstrip()):  # the error is above already
            trace_text = trace_text[: -len(error.rstrip())].rstrip()
        trace = trace_text.splitlines()
        if detail and traceback_lines and trace:
            lines.append("    traceback (end):")
            lines.extend(f"      {line}" for line in trace[-traceback_lines:])
    for m in result.get("measurements") or []:
        if m.get("ok") is False:
            note = f" ({m['note']})" if m.get("note") else ""
            lines.append(
                f"{name}: {m['name']} = {_value(m)}, goal {m.get('goal') or '?'}: missed{note}"
            )
    why = str(result.get("why") or "").rstrip()
    if why:
        first, _, rest = why.partition("\n")
        lines.append(f"{name}: why: {first}")
        if detail and rest.strip():
            lines.extend(f"    {line}" for line in rest.splitlines())
    if result.get("ok") is False and not lines:
        lines.append(f"{name}: failed, and said nothing about why (ok false, no missed goal)")
    return lines


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("ok" if ok else "**FAIL**")


def _value(m: dict[str, Any]) -> str:
    value = m["value"]
    if isinstance(value, float):
        value = f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value} {m['unit']}".strip()


def _table(results: list[dict[str, Any]], *, reasons: bool = True) -> str:
    """Each benchmark's heading and measurements; with `reasons`, why it failed (a fenced block
    under the heading: results.md). The terminal prints the reasons after the table instead."""
    lines = []
    for r in results:
        status = "ERROR" if r.get("error") else _verdict(r["ok"]).strip("*")
        lines.append(f"\n### {r['title']}  [{status}, {r.get('seconds', '?')} s]\n")
        why = why_failed(r, traceback_lines=15) if reasons else []
        if why:
            lines.extend(["Why it failed:", "", "```", *why, "```", ""])
        if r["measurements"]:
            lines.append("| measurement | value | goal | result | note |")
            lines.append("| --- | --- | --- | --- | --- |")
            for m in r["measurements"]:
                note = str(m.get("note", "")).replace("|", "/")
                lines.append(
                    f"| {m['name']} | {_value(m)} | {m['goal'] or ''} | {_verdict(m['ok'])} "
                    f"| {note} |"
                )
    return "\n".join(lines)


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    head = [
        "# feecast benchmark results",
        "",
        "Written by `make bench` (bench/__main__.py); the numbers behind the docs.",
        "",
        "| machine | |",
        "| --- | --- |",
        f"| date | {m['date']} |",
        f"| commit | {m['git_commit']} |",
        f"| CPUs | {m['cpu_count']} ({m['cpu_model']}), {m['memory_gib']} GiB |",
        f"| Python | {m['python']} on {m['platform']} |",
        f"| load average (1/5/15 min) at start | {m['load_at_start']} |",
        f"| load average at end | {m.get('load_at_end')} |",
        "",
        "A load average above the CPU count means other work shared the machine: wall times "
        "are then pessimistic.",
        "",
        f"Every goal met: **{report['ok']}**",
    ]
    return "\n".join(head) + "\n" + _table(report["benchmarks"]) + "\n"


# ------------------------------------------------------------------ docs/benchmarks.md
def docs_block(report: dict[str, Any]) -> str:
    """The numbers docs/benchmarks.md quotes: every goal, and the figures behind them."""
    m = report["machine"]
    lines = [
        f"Latest full run: {m['date'][:16].replace('T', ' ')} UTC, commit {m['git_commit'][:7]}, "
        f"{m['cpu_count']} CPUs ({m['cpu_model']}), Python {m['python']}, load average "
        f"{m['load_at_start']['1m']} at start and {(m.get('load_at_end') or {}).get('1m')} at end. "
        f"Every goal met: **{report['ok']}**.",
        "",
        "| benchmark | measurement | value | goal | result |",
        "| --- | --- | --- | --- | --- |",
    ]
    for bench in report["benchmarks"]:
        for row in _docs_rows(bench):
            lines.append(
                f"| {bench['name']} | {row['name']} | {_value(row)} | {row['goal'] or ''} "
                f"| {_verdict(row['ok'])} |"
            )
    return "\n".join(lines) + "\n"


def _docs_rows(bench: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = bench["measurements"]
    if bench["name"] != "functions":
        return rows
    # 58 rows per function: the docs keep the verdicts and the extremes.
    imports = [r for r in rows if r["name"].startswith("import ") and r["goal"]]
    heavy = [r for r in rows if r["name"].startswith("no pandas")]
    sizes = [r for r in rows if r["name"].startswith("size ")]
    out = []
    if imports:
        slowest = max(imports, key=lambda r: r["value"])
        out.append({**slowest, "name": f"slowest routing import ({slowest['name'].split()[-1]})"})
    if heavy:
        ok = all(r["ok"] for r in heavy)
        out.append(
            {
                "name": f"routing handlers free of pandas/pyarrow ({len(heavy)})",
                "value": ok,
                "unit": "",
                "goal": "= True",
                "ok": ok,
            }
        )
    if sizes:
        largest = max(sizes, key=lambda r: r["value"])
        out.append(
            {**largest, "name": f"largest function + layers ({largest['name'].split()[-1]})"}
        )
    return out


def write_docs(report: dict[str, Any], path: Path = DOCS) -> None:
    text = path.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    from bench.doc_sections import fill

    path.write_text(fill(head + BEGIN + docs_block(report) + END + tail, report))


if __name__ == "__main__":
    sys.exit(main())
