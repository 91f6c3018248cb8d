"""The one result shape every benchmark returns, and the facts about the machine it ran on.

A benchmark module `bench/bench_<name>.py` has `main() -> dict` returning `result(...)`:

    {"name": "lifecycle", "title": "...",
     "measurements": [{"name": "total_wall", "value": 81.2, "unit": "s",
                       "goal": "< 90 s", "limit": 90.0, "ok": true, "note": "..."}, ...],
     "ok": true,            # every measurement with a goal met it (None: no goal at all)
     "details": {...}}      # anything else worth keeping (free form, JSON)

A measurement without a goal has goal/limit/ok = None: it is reported, never judged.
`python -m bench` adds "seconds" (how long the benchmark ran) and, when main() raised,
"error" with ok False: a broken benchmark is a failure, not a skip.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def measurement(
    name: str,
    value: float | int | str | bool | None,
    unit: str = "",
    *,
    below: float | None = None,
    at_most: float | None = None,
    equals: Any = None,
    note: str = "",
    digits: int = 3,
) -> dict[str, Any]:
    """One number, with an optional goal: `below` (strict <), `at_most` (<=) or `equals`."""
    if isinstance(value, float):
        value = round(value, digits)
    goal: str | None = None
    limit: Any = None
    ok: bool | None = None
    if below is not None:
        goal, limit = f"< {below:g} {unit}".strip(), below
        ok = isinstance(value, int | float) and value < below
    elif at_most is not None:
        goal, limit = f"<= {at_most:g} {unit}".strip(), at_most
        ok = isinstance(value, int | float) and value <= at_most
    elif equals is not None:
        goal, limit = f"= {equals}", equals
        ok = value == equals
    out: dict[str, Any] = {
        "name": name,
        "value": value,
        "unit": unit,
        "goal": goal,
        "limit": limit,
        "ok": ok,
    }
    if note:
        out["note"] = note
    return out


def result(
    name: str,
    title: str,
    measurements: list[dict[str, Any]],
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    judged = [m["ok"] for m in measurements if m.get("ok") is not None]
    return {
        "name": name,
        "title": title,
        "measurements": measurements,
        "ok": all(judged) if judged else None,
        "details": details or {},
    }


def load() -> dict[str, float]:
    """1/5/15-minute load averages: above the core count, other work shared the CPUs."""
    one, five, fifteen = os.getloadavg()
    return {"1m": round(one, 2), "5m": round(five, 2), "15m": round(fifteen, 2)}


def machine() -> dict[str, Any]:
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "git_commit": git_commit(),
        "load_at_start": load(),
    }


def git_commit(root: Path = ROOT) -> str | None:
    """HEAD's commit, read from .git (no git process: the benchmark only reads)."""
    git = root / ".git"
    try:
        if git.is_file():  # a worktree: "gitdir: <path>"
            git = (root / git.read_text().split(":", 1)[1].strip()).resolve()
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head
        ref = head.split(":", 1)[1].strip()
        # A worktree keeps its HEAD; branches live in the common directory.
        common = git
        if (git / "commondir").is_file():
            common = (git / (git / "commondir").read_text().strip()).resolve()
        for base in (git, common):
            if (base / ref).is_file():
                return (base / ref).read_text().strip()
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split()[0]
    except OSError:
        pass
    return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError):
        pass
    return None
