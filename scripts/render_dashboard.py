"""Render the lifecycle dashboard (template.yaml MonitoringDashboard) from the twin's metrics.

    .venv/bin/python scripts/render_dashboard.py [--out docs/images/dashboard.png] [--seed 7]

Runs the demo scenario on the twin (`make demo`'s: history, build, staging, production, hourly
monitoring, the fee regime change, the alarm, the rebuild, the redeployment; about as long as
`make demo`), then reads the dashboard body the twin holds (DashboardBody after CloudFormation's
substitution, from the twin's CloudWatch GetDashboard) and draws each widget where the grid puts
it, from the metric data the twin's CloudWatch holds: the product's own EMF metrics and the
AWS-namespace metrics the twin writes as the services would (feecast_twin.awsmetrics). Each line
is aggregated per the widget's period with its statistic; SEARCH expressions draw every
dimension set they match, summed. The alarm widget lists each alarm's state. This is a picture
of the twin's data laid out like the dashboard, not a screenshot of the CloudWatch console.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

Point = tuple[datetime, float]
ROW_INCHES = 0.42  # one dashboard grid row
COLUMN_INCHES = 0.72  # one of the 24 grid columns


def aggregate(points: Iterable[Point], period: int, stat: str) -> list[Point]:
    """The points bucketed per `period` seconds (bucket start), reduced with the statistic."""
    buckets: dict[datetime, list[float]] = defaultdict(list)
    for when, value in points:
        start = datetime.fromtimestamp(when.timestamp() // period * period, tz=when.tzinfo)
        buckets[start].append(value)
    reduce: dict[str, Callable[[list[float]], float]] = {
        "Sum": sum,
        "Maximum": max,
        "Minimum": min,
        "Average": lambda v: sum(v) / len(v),
        "SampleCount": lambda v: float(len(v)),
    }
    return [(t, reduce[stat](buckets[t])) for t in sorted(buckets)]


SEARCH = re.compile(r"SEARCH\('\{([^,}]+),([^}]*)\} MetricName=\"(\w+)\"")


def series_of(line: list[Any], data: Callable[..., list[Point]]) -> tuple[list[Point], dict[str, Any]]:
    """The raw points of one `metrics` line of a widget, and its options (label, stat, yAxis)."""
    if isinstance(line[0], dict):
        expression = line[0]
        match = SEARCH.search(expression["expression"])
        if not match:
            raise ValueError(f"only SEARCH expressions are drawn: {expression['expression']}")
        keys = {k.strip() for k in match.group(2).split(",")}
        return data(match.group(1), match.group(3), None, keys), expression
    options = line[-1] if isinstance(line[-1], dict) else {}
    names = [x for x in line if not isinstance(x, dict)]
    dims = dict(zip(names[2::2], names[3::2], strict=True))
    return data(names[0], names[1], dims, None), options


def twin_data(twin: Any) -> Callable[..., list[Point]]:
    """(namespace, name, exact dimensions | None, dimension keys | None) -> points, from the
    twin's CloudWatch (moto's backend)."""
    from moto.cloudwatch.models import cloudwatch_backends

    backend = cloudwatch_backends[twin.account_id][twin.region]

    def data(namespace: str, name: str, dims: dict[str, str] | None, keys: set[str] | None) -> list[Point]:
        out = []
        for datum in backend.get_all_metrics():
            if datum.namespace != namespace or datum.name != name:
                continue
            have = {d.name: d.value for d in datum.dimensions}
            if (dims is not None and have != dims) or (keys is not None and set(have) != keys):
                continue
            out.append((datum.timestamp, float(datum.value)))
        return sorted(out)

    return data


def draw(body: dict[str, Any], data: Callable[..., list[Point]], alarms: dict[str, str], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    widgets = body["widgets"]
    rows = max(w["y"] + w["height"] for w in widgets)
    fig = plt.figure(figsize=(24 * COLUMN_INCHES, rows * ROW_INCHES), dpi=90)
    grid = fig.add_gridspec(rows, 24, hspace=2.2, wspace=1.6)
    for widget in widgets:
        props = widget["properties"]
        ax = fig.add_subplot(
            grid[widget["y"] : widget["y"] + widget["height"], widget["x"] : widget["x"] + widget["width"]]
        )
        ax.set_title(props.get("title", ""), fontsize=10, loc="left")
        if widget["type"] == "alarm":
            ax.axis("off")
            names = [arn.rsplit(":alarm:", 1)[-1] for arn in props["alarms"]]
            text = "    ".join(f"{name}: {alarms.get(name, 'does not exist yet')}" for name in names)
            ax.text(0.0, 0.4, text, fontsize=9, family="monospace", transform=ax.transAxes)
            continue
        right = None
        drawn = 0
        for line in props.get("metrics", []):
            points, options = series_of(line, data)
            stat = options.get("stat", props.get("stat", "Average"))
            values = aggregate(points, int(options.get("period", props.get("period", 300))), stat)
            if not values:
                continue
            target = ax
            if options.get("yAxis") == "right":
                right = right or ax.twinx()
                target = right
            target.plot(
                [t for t, _ in values],
                [v for _, v in values],
                label=options.get("label", line[1] if not isinstance(line[0], dict) else ""),
                linestyle="--" if target is right else "-",
                linewidth=1.2,
            )
            drawn += 1
        if not drawn:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="grey")
        handles = [h for a in (ax, right) if a is not None for h in a.get_legend_handles_labels()[0]]
        labels = [lab for a in (ax, right) if a is not None for lab in a.get_legend_handles_labels()[1]]
        if handles:
            ax.legend(handles, labels, fontsize=7, loc="upper left")
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %H:%M"))
        ax.tick_params(labelsize=7)
        if right is not None:
            right.tick_params(labelsize=7)
    fig.suptitle(
        f"{body.get('title', 'Dashboard')}: rendered from the local twin's CloudWatch metrics "
        "(scripts/render_dashboard.py)",
        fontsize=12,
        y=0.995,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images/dashboard.png"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    from feecast_demo.cli import _quiet_libraries
    from feecast_demo.run import OK, SKIPPED
    from feecast_demo.scenario import DemoOptions, Scenario

    _quiet_libraries()
    work = Path(tempfile.mkdtemp(prefix="feecast-dashboard-"))
    scenario = Scenario(DemoOptions(seed=args.seed, fast=True, out=work), out=sys.stderr)
    log = work / "twin.log"
    try:
        with log.open("w") as sink, contextlib.redirect_stdout(sink):
            run = scenario.execute(close=False)
        failed = [p.title for p in run.phases if p.status not in (OK, SKIPPED)]
        if failed:
            print(f"render_dashboard: the scenario stopped at {failed[0]!r} (log: {log})", file=sys.stderr)
        twin = scenario.twin
        cw = twin.client("cloudwatch")
        name = f"{twin.outputs['ProjectName']}-lifecycle"
        body = json.loads(cw.get_dashboard(DashboardName=name)["DashboardBody"])
        body["title"] = name
        alarms = {a["AlarmName"]: a["StateValue"] for a in cw.describe_alarms()["MetricAlarms"]}
        draw(body, twin_data(twin), alarms, args.out)
    finally:
        scenario.close()
    print(f"render_dashboard: wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
