"""The demo's report folder: summary.json, summary.md, forecast.png, monitoring.png.

    paths = write_report(run, Path("demo-report"))

Pure output: everything comes from the `DemoRun`; matplotlib runs on the Agg backend, so no
display is needed.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from feecast_demo.run import DemoRun, ModelInfo

#: One colour per model version (cycled), shared by both pictures.
MODEL_COLOURS = ["#1f77b4", "#e377c2", "#8c564b", "#17becf", "#9467bd", "#bcbd22"]
MARKER_STYLES = {
    "drift": ("#ff7f0e", "--", "fee regime change"),
    "alarm": ("#d62728", "-", "accuracy alarm"),
    "build-start": ("#7f7f7f", ":", "build started"),
    "build-end": ("#7f7f7f", "-.", "build ended"),
    "staging": ("#bcbd22", ":", "deployed to staging"),
    "production": ("#2ca02c", "-", "deployed to production"),  # green: never a model colour
}


def model_colour(version: int) -> str:
    return MODEL_COLOURS[(version - 1) % len(MODEL_COLOURS)]


def write_report(run: DemoRun, out_dir: Path) -> dict[str, Path]:
    """Write the report; returns {"summary.json": path, ...} for the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    run.report_dir = str(out_dir)
    paths: dict[str, Path] = {}
    pictures: dict[str, str | None] = {}
    for name, draw in (("forecast.png", draw_forecast), ("monitoring.png", draw_monitoring)):
        target = out_dir / name
        try:
            drawn = draw(run, target)
        except Exception as exc:  # a picture must not cost the summary
            pictures[name] = f"not drawn: {type(exc).__name__}: {exc}"
            continue
        if drawn:
            paths[name] = target
            pictures[name] = None
        else:
            pictures[name] = "not drawn: no data for it"
    data = run.to_dict()
    data["pictures"] = {k: (v or "ok") for k, v in pictures.items()}
    (out_dir / "summary.json").write_text(json.dumps(data, indent=2) + "\n")
    paths["summary.json"] = out_dir / "summary.json"
    (out_dir / "summary.md").write_text(summary_markdown(run, pictures))
    paths["summary.md"] = out_dir / "summary.md"
    return paths


# ---------------------------------------------------------------------------------- text
def _t(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def _dur(delta: timedelta | float | None) -> str:
    if delta is None:
        return "-"
    seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _num(value: float | None) -> str:
    return (
        "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"
    )


def _ratio(value: float | None, ci: tuple[float, float] | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" + (f" ({ci[0]:.2f}-{ci[1]:.2f})" if ci else "")


def plainly(m: ModelInfo) -> str:
    """One sentence a person can act on: does the model earn its place against naive?"""
    if m.ratio_to_naive is None or m.naive_ci is None:
        return f"v{m.version}: not compared with the naive forecast."
    low, high = m.naive_ci
    gain = 1 - m.ratio_to_naive
    if high >= 1.0 and low <= 1.0:
        verdict = (
            f"is no better than the naive forecast: its loss is {m.ratio_to_naive:.2f} x naive's "
            f"and the 95% interval {low:.2f}-{high:.2f} includes 1"
        )
    elif low > 1.0:
        verdict = f"is worse than the naive forecast ({m.ratio_to_naive:.2f} x its loss)"
    elif m.ratio_to_naive > 0.95 or high > 0.97:
        verdict = (
            f"barely beats the naive forecast: {gain:.0%} lower loss, interval up to {high:.2f}"
        )
    else:
        verdict = f"beats the naive forecast by {gain:.0%} (interval {low:.2f}-{high:.2f})"
    robust = ""
    if m.ratio_to_robust is not None:
        robust = f"; against the robust baseline {m.ratio_to_robust:.2f}" + (
            " (the cheap baseline does better)" if m.ratio_to_robust > 1 else ""
        )
    return f"v{m.version} {verdict}{robust}."


def summary_markdown(run: DemoRun, pictures: dict[str, str | None] | None = None) -> str:
    failed = run.failed_phase
    verdict = (
        "**Every phase happened as expected.**"
        if run.ok
        else f"**Stopped at phase `{failed.key if failed else '?'}`: {failed.detail if failed else ''}**"
    )
    lines = [
        "# feecast demo report",
        "",
        verdict,
        "",
        f"Simulated time: {_t(run.sim_started)} -> {_t(run.sim_ended)} UTC "
        f"({_dur(run.sim_ended - run.sim_started) if run.sim_started and run.sim_ended else '-'}); "
        f"wall time {_dur(run.wall_seconds)}.",
        "",
        "Options: " + ", ".join(f"`{k}={v}`" for k, v in run.options.items()),
        "",
        "## Phases",
        "",
        "| # | phase | status | simulated (UTC) | simulated | wall | what happened |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for i, p in enumerate(run.phases, 1):
        detail = p.detail.replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {i} | {p.title} | {p.status} | {_t(p.sim_start)} -> {_t(p.sim_end)} | "
            f"{_dur(p.sim_duration)} | {_dur(p.wall_duration)} | {detail} |"
        )
    lines += [
        "",
        "## Models",
        "",
        "Each build's backtest: the model forecast every window of the held-out days from the "
        "history before it; the naive forecast and the robust baseline were scored on the same "
        "windows. Loss: pooled mean weighted quantile loss. / naive, / robust: the model's loss "
        "over theirs, with the 95% block-bootstrap interval (below 1: better). Alarm threshold: "
        "what the model's own backtest gave. Monitoring: mean of its hourly production losses.",
        "",
        "| version | started by | windows | loss | / naive (95% CI) | windows won | "
        "/ robust (95% CI) | alarm threshold | monitoring loss | status | production since |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for m in run.models:
        lines.append(
            f"| v{m.version} | {m.trigger or '-'} | {m.windows or '-'} | {_num(m.loss)} | "
            f"{_ratio(m.ratio_to_naive, m.naive_ci)} | "
            f"{'-' if m.windows_won is None else f'{m.windows_won:.0%}'} | "
            f"{_ratio(m.ratio_to_robust, m.robust_ci)} | {_num(m.alarm_threshold)} | "
            f"{_num(m.monitoring_loss)} | {m.status or '-'} | {_t(m.production_at)} |"
        )
    lines += [""] + [f"- {plainly(m)}" for m in run.models]
    lines += ["", "## Threshold", ""]
    if run.thresholds:
        lines += ["| when (simulated) | threshold | why |", "| --- | --- | --- |"]
        lines += [f"| {_t(t)} | {v:.4f} | {why} |" for t, v, why in run.thresholds]
    else:
        lines.append("(not read)")
    rebuilds = [b for b in run.builds if b.get("trigger") == "alarm"]
    lines += [
        "",
        "## Builds",
        "",
        f"{len(run.builds)} build(s), {len(rebuilds)} started by the accuracy alarm.",
        "",
    ]
    for b in run.builds:
        lines.append(
            f"- `{b.get('name')}`: {b.get('status')}, {_t(b.get('start'))} -> {_t(b.get('stop'))}"
        )
    lines += ["", "## Pictures", ""]
    for name, caption in (
        ("forecast.png", "The fee series with each model's forecasts against what happened"),
        ("monitoring.png", "Hourly loss against the threshold, with alarms, builds, deployments"),
    ):
        problem = (pictures or {}).get(name)
        lines.append(f"![{caption}]({name})" if not problem else f"- {name}: {problem}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------------------------- pictures
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _format_time_axis(ax: Any) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _markers(
    ax: Any, run: DemoRun, kinds: tuple[str, ...], seen: set[str], lo: Any, hi: Any
) -> None:
    for marker in sorted(run.markers, key=lambda m: m.time):
        if marker.kind not in kinds or not (lo <= marker.time <= hi):
            continue
        colour, style, label = MARKER_STYLES.get(marker.kind, ("black", ":", marker.kind))
        ax.axvline(
            marker.time,
            color=colour,
            linestyle=style,
            linewidth=1.4,
            alpha=0.9,
            label=label if label not in seen else None,
        )
        seen.add(label)
        if marker.label:
            ax.annotate(
                marker.label,
                xy=(marker.time, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(2, -4),
                textcoords="offset points",
                rotation=90,
                va="top",
                fontsize=7,
                color=colour,
            )


def _use_log(values: list[float]) -> bool:
    positive = [v for v in values if v > 0]
    return bool(positive) and max(positive) / max(min(positive), 1e-9) > 30


def draw_forecast(run: DemoRun, path: Path) -> bool:
    """Top: the whole run's fee series; bottom: the monitored hours with every forecast band."""
    points = run.series_points()
    if not points:
        return False
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(13, 8.5), gridspec_kw={"height_ratios": [1, 1.6]}, constrained_layout=True
    )
    times = [t for t, _ in points]
    values = [v for _, v in points]
    top.plot(times, values, color="#555555", linewidth=0.5, label="actual avg fee per minute")
    if _use_log(values):
        top.set_yscale("log")
    for band in run.forecasts:
        if band.source == "evaluation":
            end = band.start + timedelta(minutes=len(band.median))
            top.axvspan(band.start, end, color=model_colour(band.version), alpha=0.25)
    seen: set[str] = set()
    _markers(top, run, ("drift", "alarm", "production"), seen, times[0], times[-1])
    top.set_title("The whole run: synthetic fees (history, then the monitored hours)")
    top.set_ylabel("satoshi per tx (avg per minute)")
    _format_time_axis(top)
    top.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8)

    # Bottom: from the first forecast (minus context) to the end.
    bands = sorted(run.forecasts, key=lambda b: b.start)
    if bands:
        lo = (
            min(b.start for b in bands if b.source != "evaluation")
            if any(b.source != "evaluation" for b in bands)
            else bands[0].start
        )
        lo -= timedelta(minutes=60)
        hi = max(b.start + timedelta(minutes=len(b.median)) for b in bands)
        hi = max(hi, times[-1]) if times[-1] - lo < timedelta(days=3) else hi
    else:
        lo, hi = times[0], times[-1]
    window = [(t, v) for t, v in points if lo <= t <= hi]
    if window:
        bottom.plot(
            [t for t, _ in window],
            [v for _, v in window],
            color="black",
            linewidth=0.8,
            label="what really happened",
        )
    labelled: set[int] = set()
    for band in bands:
        if band.source == "evaluation" or band.start < lo:
            continue
        xs = [band.start + timedelta(minutes=i) for i in range(len(band.median))]
        colour = model_colour(band.version)
        first = band.version not in labelled
        labelled.add(band.version)
        bottom.fill_between(
            xs,
            band.lower,
            band.upper,
            color=colour,
            alpha=0.25,
            linewidth=0,
            label=f"model v{band.version}: {band.interval} band" if first else None,
        )
        bottom.plot(
            xs,
            band.median,
            color=colour,
            linewidth=1.3,
            label=f"model v{band.version}: median forecast" if first else None,
        )
    seen2: set[str] = set()
    _markers(bottom, run, tuple(MARKER_STYLES), seen2, lo, hi)
    window_values = [v for _, v in window] + [x for b in bands for x in b.upper if b.start >= lo]
    if _use_log(window_values):
        bottom.set_yscale("log")
    actual = [v for _, v in window if v > 0]
    if actual:  # a band's lower tail must not squash the picture
        bottom.set_ylim(bottom=min(actual) * 0.5)
    bottom.set_xlim(lo, hi)
    bottom.set_title("Monitored hours: each model's 30-minute forecasts against what happened")
    bottom.set_ylabel("satoshi per tx (avg per minute)")
    _format_time_axis(bottom)
    bottom.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8)
    fig.suptitle(
        "feecast demo: forecasts of the average Bitcoin fee per minute (simulated time, UTC)"
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def draw_monitoring(run: DemoRun, path: Path) -> bool:
    """The hourly loss per stage against the threshold, with alarm / build / deploy markers."""
    points = [p for p in run.losses if p.loss is not None]
    if not points:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(13, 5.5), constrained_layout=True)
    stages = sorted({p.stage for p in points}, key=lambda s: (s != "production", s))
    styles = {"production": ("#1f77b4", "o", "-"), "staging": ("#9467bd", "s", ":")}
    for stage in stages:
        own = sorted((p for p in points if p.stage == stage), key=lambda p: p.time)
        colour, marker, line = styles.get(stage, ("#17becf", "^", "--"))
        ax.plot(
            [p.time for p in own],
            [p.loss for p in own],
            color=colour,
            marker=marker,
            linestyle=line,
            linewidth=1.5,
            markersize=5,
            label=f"{stage}: model loss (mean wQL)",
        )
        base = [p for p in own if p.baseline is not None]
        if base and stage == stages[0]:
            ax.plot(
                [p.time for p in base],
                [p.baseline for p in base],
                color="#7f7f7f",
                marker=".",
                linestyle="--",
                linewidth=1,
                label=f"{stage}: naive baseline loss",
            )
    thresholds = sorted(
        ((p.time, p.threshold) for p in points if p.threshold is not None), key=lambda x: x[0]
    )
    if thresholds:
        ax.step(
            [t for t, _ in thresholds],
            [v for _, v in thresholds],
            where="post",
            color="#d62728",
            linewidth=2,
            alpha=0.8,
            label="threshold (alarm when above)",
        )
    lo = min(p.time for p in points) - timedelta(minutes=30)
    hi = max(p.time for p in points) + timedelta(minutes=30)
    # Builds as shaded spans: what the alarm caused, and how long it took.
    span_labelled = False
    for build in run.builds:
        start, stop = build.get("start"), build.get("stop")
        if isinstance(start, datetime) and lo <= start <= hi:
            ax.axvspan(
                start,
                stop if isinstance(stop, datetime) else hi,
                color="#7f7f7f",
                alpha=0.15,
                label=None if span_labelled else "model build running",
            )
            span_labelled = True
    seen: set[str] = set()
    _markers(ax, run, ("drift", "alarm", "staging", "production"), seen, lo, hi)
    ax.set_xlim(lo, hi)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("mean weighted quantile loss (lower is better)")
    ax.set_title(
        "feecast demo: hourly accuracy of the deployed models (simulated time, UTC)", fontsize=12
    )
    _format_time_axis(ax)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def monitoring_means(run: DemoRun) -> dict[int, float]:
    """Mean hourly production loss while each model version served production."""
    prod = sorted(
        (m for m in run.models if m.production_at is not None),
        key=lambda m: m.production_at,  # type: ignore[arg-type,return-value]
    )
    out: dict[int, float] = {}
    for i, model in enumerate(prod):
        until = prod[i + 1].production_at if i + 1 < len(prod) else None
        assert model.production_at is not None
        own = [
            p.loss
            for p in run.losses
            if p.stage == "production"
            and p.loss is not None
            and p.time > model.production_at
            and (until is None or p.time <= until)
        ]
        if own:
            out[model.version] = sum(own) / len(own)
    return out


def fill_monitoring_losses(run: DemoRun) -> None:
    for version, mean in monitoring_means(run).items():
        model: ModelInfo | None = run.model(version)
        if model is not None:
            model.monitoring_loss = mean
