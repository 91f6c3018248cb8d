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
from datetime import UTC, datetime
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


def series_of(
    line: list[Any], data: Callable[..., list[Point]]
) -> tuple[list[Point], dict[str, Any]]:
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


def twin_datums(twin: Any) -> list[dict[str, Any]]:
    """Every datum of the twin's CloudWatch (moto's backend), as JSON-able dicts."""
    from moto.cloudwatch.models import cloudwatch_backends

    backend = cloudwatch_backends[twin.account_id][twin.region]
    return [
        {
            "namespace": d.namespace,
            "name": d.name,
            "dimensions": {x.name: x.value for x in d.dimensions},
            "timestamp": d.timestamp.isoformat(),
            "value": float(d.value),
        }
        for d in backend.get_all_metrics()
    ]


def source(datums: list[dict[str, Any]]) -> Callable[..., list[Point]]:
    """(namespace, name, exact dimensions | None, dimension keys | None) -> points."""

    def data(
        namespace: str, name: str, dims: dict[str, str] | None, keys: set[str] | None
    ) -> list[Point]:
        out = []
        for d in datums:
            if d["namespace"] != namespace or d["name"] != name:
                continue
            have = d["dimensions"]
            if (dims is not None and have != dims) or (keys is not None and set(have) != keys):
                continue
            when = datetime.fromisoformat(d["timestamp"])
            # moto keeps PutMetricData timestamps as given: naive ones are UTC
            out.append((when if when.tzinfo else when.replace(tzinfo=UTC), d["value"]))
        return sorted(out)

    return data


def draw(
    body: dict[str, Any], data: Callable[..., list[Point]], alarms: dict[str, str], out: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    widgets = body["widgets"]
    rows = max(w["y"] + w["height"] for w in widgets)
    header = 0.9  # inches above the grid for the title
    width, height = 24 * COLUMN_INCHES, rows * ROW_INCHES + header
    fig = plt.figure(figsize=(width, height), dpi=80)
    # Room inside each grid cell for the title, the tick labels and a right axis.
    pad_left, pad_right = 0.6 / width, 0.6 / width
    pad_top, pad_bottom = 0.38 / height, 0.42 / height
    grid_top = 1 - header / height
    lines = [
        (w, [series_of(line, data) for line in w["properties"].get("metrics", [])]) for w in widgets
    ]
    times = [t for _, drawn in lines for points, _ in drawn for t, _ in points]
    span = (min(times), max(times)) if times else None
    for widget, drawn in lines:
        props = widget["properties"]
        x, y, w, h = (widget[k] for k in ("x", "y", "width", "height"))
        ax = fig.add_axes(
            (
                x / 24 + pad_left,
                grid_top * (1 - (y + h) / rows) + pad_bottom,
                w / 24 - pad_left - pad_right,
                grid_top * h / rows - pad_top - pad_bottom,
            )
        )
        ax.set_title(props.get("title", ""), fontsize=10, loc="left")
        if widget["type"] == "alarm":
            ax.axis("off")
            names = [arn.rsplit(":alarm:", 1)[-1] for arn in props["alarms"]]
            text = "    ".join(f"{name}: {alarms.get(name, 'not created yet')}" for name in names)
            ax.text(0.0, 0.5, text, fontsize=10, family="monospace", transform=ax.transAxes)
            continue
        right = None
        count = 0
        for line, (points, options) in zip(props.get("metrics", []), drawn, strict=True):
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
                marker="o" if len(values) < 40 else None,
                markersize=3,
                linewidth=1.2,
                color=f"C{count}",
            )
            count += 1
        if not count:
            ax.text(0.5, 0.5, "no data in this run", ha="center", va="center",
                    transform=ax.transAxes, color="grey")  # fmt: skip
            ax.set_yticks([])
        handles, labels = [], []
        for a in (ax, right):
            if a is not None:
                more_handles, more_labels = a.get_legend_handles_labels()
                handles += more_handles
                labels += more_labels
        if handles:
            ax.legend(handles, labels, fontsize=7, loc="upper left", framealpha=0.7)
        if span is not None:
            ax.set_xlim(*span)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %H:%M"))
        ax.tick_params(labelsize=7)
        if right is not None:
            right.tick_params(labelsize=7)
    fig.text(
        0.01,
        1 - 0.35 / height,
        f"{body.get('title', 'Dashboard')}: drawn from the local twin's CloudWatch metrics after "
        "the demo scenario (scripts/render_dashboard.py); times are the twin's (UTC)",
        fontsize=13,
        va="center",
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images/dashboard.png"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--data",
        type=Path,
        help="JSON of the dashboard body, alarm states and metric data: written after the "
        "scenario, or, when it exists, drawn again without running the scenario",
    )
    args = parser.parse_args(argv)
    if args.data is not None and args.data.exists():
        saved = json.loads(args.data.read_text())
    else:
        saved = collect(args.seed)
        if args.data is not None:
            args.data.write_text(json.dumps(saved))
    draw(saved["body"], source(saved["datums"]), saved["alarms"], args.out)
    print(f"render_dashboard: wrote {args.out}")
    return 0


def collect(seed: int) -> dict[str, Any]:
    """Run the demo scenario on a twin; its dashboard body, alarm states and metric data."""
    from feecast_demo.cli import _quiet_libraries
    from feecast_demo.run import OK, SKIPPED
    from feecast_demo.scenario import DemoOptions, Scenario

    _quiet_libraries()
    work = Path(tempfile.mkdtemp(prefix="feecast-dashboard-"))
    scenario = Scenario(DemoOptions(seed=seed, out=work), out=sys.stderr)
    log = work / "twin.log"
    try:
        with log.open("w") as sink, contextlib.redirect_stdout(sink):
            run = scenario.execute(close=False)
        failed = [p.title for p in run.phases if p.status not in (OK, SKIPPED)]
        if failed:
            print(
                f"render_dashboard: the scenario stopped at {failed[0]!r} (log: {log})",
                file=sys.stderr,
            )
        twin = scenario.twin
        cw = twin.client("cloudwatch")
        name = f"{twin.outputs['ProjectName']}-lifecycle"
        body = json.loads(cw.get_dashboard(DashboardName=name)["DashboardBody"])
        body["title"] = name
        alarms = {a["AlarmName"]: a["StateValue"] for a in cw.describe_alarms()["MetricAlarms"]}
        return {"body": body, "alarms": alarms, "datums": twin_datums(twin)}
    finally:
        scenario.close()


if __name__ == "__main__":
    raise SystemExit(main())
