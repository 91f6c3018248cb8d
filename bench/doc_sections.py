"""docs/benchmarks.md's prose sections, with the numbers of the latest full run.

Each section between `<!-- section: NAME (...) -->` and `<!-- end section: NAME -->` is
bench/doc_templates/<name>.md with `{placeholders}` filled from results.json, so a new
`make bench` (or `python -m bench --write-docs`) rewrites the words and the numbers together.
Edit the template, never the section. A number the run did not measure reads "not measured".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).parent / "doc_templates"
MISSING = "not measured"


class Results:
    """One benchmark's measurements and details, read leniently (older runs lack newer rows)."""

    def __init__(self, report: dict[str, Any], name: str) -> None:
        found = [b for b in report.get("benchmarks", []) if b["name"] == name]
        self.bench: dict[str, Any] = found[0] if found else {}
        self.rows = {m["name"]: m for m in self.bench.get("measurements", [])}
        self.details: dict[str, Any] = self.bench.get("details") or {}

    def value(self, name: str) -> Any:
        return (self.rows.get(name) or {}).get("value")

    def note(self, name: str) -> str:
        return str((self.rows.get(name) or {}).get("note") or MISSING)

    def ok(self, name: str) -> bool | None:
        return (self.rows.get(name) or {}).get("ok")


def _num(value: Any, digits: int = 3) -> str:
    return MISSING if value is None else f"{float(value):.{digits}f}"


def _pct(value: Any) -> str:
    return MISSING if value is None else f"{100 * float(value):.1f}%"


def _ci(pair: Any) -> str:
    return MISSING if not pair else f"{float(pair[0]):.3f}-{float(pair[1]):.3f}"


def _count(value: Any) -> str:
    return MISSING if value is None else f"{int(value):,}"


def forecast_quality(report: dict[str, Any]) -> dict[str, str]:
    r = Results(report, "forecast_quality")
    comparisons = r.details.get("comparisons") or {}
    models = r.details.get("models") or {}
    vs_naive = comparisons.get("deepar/naive") or {}
    vs_robust = comparisons.get("deepar/robust") or {}
    met = {
        "the interval against naive": r.ok("deepar_to_naive_ci95_upper"),
        "the robust baseline's level": r.ok("deepar_to_robust_ratio"),
    }
    if any(v is None for v in met.values()):
        goals = "They are not both judged in the latest run"
    elif all(met.values()):
        goals = "Both are met"
    elif not any(met.values()):
        goals = "Neither is met"
    else:
        goals = "Only " + " and ".join(k for k, v in met.items() if v) + " is met"

    def wql(model: str) -> str:
        return _num((models.get(model) or {}).get("wql"), 4)

    def cov(model: str) -> str:
        return _pct((models.get(model) or {}).get("coverage"))

    return {
        "fq_goals": goals,
        "fq_ratio": _num(vs_naive.get("ratio")),
        "fq_ci": _ci(vs_naive.get("ci95")),
        "fq_windows": _count(vs_naive.get("windows")),
        "fq_seeds": str(len(r.details["seeds"])) if r.details.get("seeds") else MISSING,
        "fq_robust": _num(vs_robust.get("ratio")),
        "fq_robust_ci": _ci(vs_robust.get("ci95")),
        "fq_rb_ratio": _num(r.value("robust_to_naive_wql_ratio")),
        "fq_rb_note": r.note("robust_to_naive_wql_ratio"),
        "fq_rb_ci": _ci((comparisons.get("robust/naive") or {}).get("ci95"))
        if "robust/naive" in comparisons
        else r.note("robust_to_naive_wql_ratio").removeprefix("95% CI "),
        "fq_won": _pct(vs_naive.get("windows_won")),
        "fq_trim": _num(vs_naive.get("ratio_without_worst_1pct")),
        "fq_cov": cov("deepar"),
        "fq_rb_cov": cov("robust"),
        "fq_nv_cov": cov("naive"),
        "fq_w_deepar": wql("deepar"),
        "fq_w_robust": wql("robust"),
        "fq_w_naive": wql("naive"),
        "fq_w_seasonal": wql("seasonal_naive"),
        "fq_w_oracle": wql("oracle"),
        "fq_seasonal": _num(r.value("seasonal_naive_to_naive_wql_ratio")),
        "fq_oracle": _num(r.value("oracle_to_naive_wql_ratio")),
        "fq_noise": _pct(r.details.get("noise_share")),
    }


def real_fees(report: dict[str, Any]) -> dict[str, str]:
    r = Results(report, "real_fees")
    models = ((r.details.get("summary") or {}).get("models")) or {}
    values = {
        "rf_windows": _count(r.value("windows")),
        "rf_vs_robust": f"{_num(r.value('deepar_to_robust_wql_ratio'))} "
        f"({r.note('deepar_to_robust_wql_ratio')})",
        "rf_gate": "passed"
        if r.value("gate_passed")
        else ("not passed" if r.value("gate_passed") is False else MISSING),
    }
    for key, model in (("deepar", "deepar"), ("robust", "robust"), ("seasonal", "seasonal_naive")):
        m = models.get(model) or {}
        values[f"rf_{key}"] = _num(m.get("ratio_to_naive"))
        values[f"rf_{key}_ci"] = _ci(m.get("ci95"))
        values[f"rf_{key}_won"] = _pct(m.get("windows_won"))
    return values


def gate_simulation(report: dict[str, Any]) -> dict[str, str]:
    r = Results(report, "gate_simulation")
    upper = next((m for n, m in r.rows.items() if n.startswith("rejection_rate_upper95")), None)
    goals = {
        # A run before the block rule judged the highest single build against the goal.
        "rejections": upper["ok"] if upper else r.ok("max_rejection_rate_at_any_build"),
        "alarms per week": r.ok("alarms_per_week_without_regime_change"),
        "no alarm right after a rebuild": r.ok("alarms_within_6h_of_a_rebuild"),
    }
    summary = _gate_summary(
        [k for k, v in goals.items() if v is False], [k for k, v in goals.items() if v is None]
    )
    blocks = r.details.get("rejection_rate_per_block")
    bounds = r.details.get("rejection_upper95_per_block")
    recomputed, above_goal = _gate_recomputed(r.details.get("rejected_by_replica"))
    if goals["rejections"] and above_goal:
        summary += (
            " The rejection goal is met by the bound that run computed; today's stricter bound "
            "on the same rejections is above it (below the table): more replicas are needed to "
            "show it."
        )
    return {
        "gs_summary": summary,
        "gs_settings": _gate_settings(r.details.get("validation")),
        "gs_upper_note": (upper or {}).get("note") or MISSING,
        "gs_recomputed": recomputed,
        "gs_replicas": _count(r.details.get("replicas")),
        "gs_model_ratio": _num(r.value("simulated_model_to_naive_ratio")),
        "gs_upper": _pct((upper or {}).get("value")),
        "gs_blocks": ", ".join(
            f"{_pct(rate)} (<= {_pct(bound)})" for rate, bound in zip(blocks, bounds, strict=True)
        )
        if blocks and bounds
        else MISSING,
        "gs_max_rej": _pct(r.value("max_rejection_rate_at_any_build")),
        "gs_max_note": r.note("max_rejection_rate_at_any_build"),
        "gs_mean_rej": _pct(r.value("mean_rejection_rate")),
        "gs_first": _pct(r.value("rejection_rate_builds_1_to_10")),
        "gs_second": _pct(r.value("rejection_rate_builds_11_to_20")),
        "gs_trend": MISSING
        if r.value("rejection_trend_second_half_minus_first") is None
        else f"{_num(r.value('rejection_trend_second_half_minus_first'))} "
        f"({r.note('rejection_trend_second_half_minus_first')})",
        "gs_alarms": _num(r.value("alarms_per_week_without_regime_change"), 2),
        "gs_rebuilds": r.note("alarms_within_6h_of_a_rebuild"),
        "gs_soon": str(r.value("alarms_within_6h_of_a_rebuild")),
        "gs_detected": str(r.value("regime_change_detected") or MISSING),
        "gs_hours": f"{_num(r.value('hours_to_detect_regime_change'), 1)} h",
    }


def _gate_summary(missed: list[str], unmeasured: list[str]) -> str:
    if not missed and not unmeasured:
        return "All three goals are met in the latest run."
    parts = []
    if missed:
        parts.append("missed in the latest run: " + ", ".join(missed))
    if unmeasured:
        parts.append("not judged in the latest run: " + ", ".join(unmeasured))
    return "Goals " + "; ".join(parts) + "."


def _gate_settings(used: dict[str, Any] | None) -> str:
    """The gate settings the run used, and whether they are today's defaults."""
    from feecast.config import ValidationConfig

    if not used:
        return "the shipped defaults"
    shipped = ValidationConfig().model_dump()
    keys = ("naive_margin", "production_tolerance", "threshold_quantile", "alarm_window_hours")
    said = ", ".join(f"{k} {used.get(k)}" for k in keys)
    changed = [k for k in keys if used.get(k) != shipped.get(k)]
    if not changed:
        return f"the shipped defaults ({said})"
    return f"the settings of that run ({said}; today's defaults differ in {', '.join(changed)})"


def _gate_recomputed(raw: list[str] | None) -> tuple[str, bool]:
    """The run's own rejections scored by today's RejectionStats (the same data, the bound the
    code computes now), so a change of method shows without a new run."""
    if not raw:
        return "The run kept no per-replica rejections: they cannot be recomputed.", False
    import numpy as np

    from bench.bench_gate_simulation import MAX_REJECTION_RATE, RejectionStats

    stats = RejectionStats.of(np.array([[c == "1" for c in row] for row in raw]))
    worst = float(stats.block_upper.max())
    verdict = (
        "not judged (too few replicas)"
        if not stats.judged
        else ("within" if worst <= MAX_REJECTION_RATE else "above")
        + f" the {MAX_REJECTION_RATE:.0%} goal"
    )
    text = (
        "Recomputed from this run's {n} replicas' rejections with today's bound (Clopper-Pearson "
        "on the builds' effective number, the replicas' design effect): blocks "
        + ", ".join(
            f"{_pct(rate)} (<= {_pct(bound)})"
            for rate, bound in zip(stats.block_rates, stats.block_upper, strict=True)
        )
        + f"; highest bound {_pct(worst)}, {verdict}."
    ).replace("{n}", str(len(raw)))
    return text, stats.judged and worst > MAX_REJECTION_RATE


SECTIONS: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, str]]]] = {
    # section name in docs/benchmarks.md -> (template file, values); real fees first: the
    # forecast-quality section quotes it.
    "forecast quality": (
        "forecast_quality.md",
        lambda rep: {**real_fees(rep), **forecast_quality(rep)},
    ),
    "real fees": ("real_fees.md", real_fees),
    "gate simulation": ("gate_simulation.md", gate_simulation),
}


def render(name: str, report: dict[str, Any]) -> str:
    template, values = SECTIONS[name]
    return (TEMPLATES / template).read_text().format_map(values(report))


def fill(text: str, report: dict[str, Any]) -> str:
    """`text` (docs/benchmarks.md) with every known section rendered from `report`."""
    for name in SECTIONS:
        pattern = re.compile(
            rf"(<!-- section: {re.escape(name)}\b[^\n]*-->\n)(.*?)(<!-- end section: "
            rf"{re.escape(name)} -->)",
            re.S,
        )
        if not pattern.search(text):
            raise ValueError(f"docs/benchmarks.md has no section {name!r}")
        body = render(name, report)
        text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(3), text)
    return text
