"""CloudWatch Embedded Metric Format (what Powertools Metrics prints) -> PutMetricData.

On AWS, CloudWatch Logs extracts metrics from EMF log lines. The twin does the same with the
stdout of each invocation: every JSON line with an `_aws.CloudWatchMetrics` block becomes metric
data in moto's CloudWatch (one metric per dimension set, as CloudWatch does), timestamped with
the EMF `_aws.Timestamp` (the twin clock when the handler flushed).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def parse_emf_line(line: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """[(namespace, [MetricDatum, ...]), ...] for one log line; [] when it is not EMF."""
    line = line.strip()
    if not line.startswith("{") or '"_aws"' not in line:
        return []
    try:
        doc = json.loads(line)
    except json.JSONDecodeError:
        return []
    aws = doc.get("_aws") if isinstance(doc, dict) else None
    if not isinstance(aws, dict) or not isinstance(aws.get("CloudWatchMetrics"), list):
        return []
    ts_ms = aws.get("Timestamp")
    timestamp = (
        datetime.fromtimestamp(float(ts_ms) / 1000, UTC)
        if isinstance(ts_ms, (int, float))
        else datetime.now(UTC)
    )
    out: list[tuple[str, list[dict[str, Any]]]] = []
    for directive in aws["CloudWatchMetrics"]:
        namespace = directive.get("Namespace")
        if not namespace:
            continue
        dimension_sets = directive.get("Dimensions") or [[]]
        data: list[dict[str, Any]] = []
        for metric in directive.get("Metrics") or []:
            name = metric.get("Name")
            if name not in doc:
                continue
            raw = doc[name]
            values = raw if isinstance(raw, list) else [raw]
            for dims in dimension_sets:
                dimensions = [{"Name": d, "Value": str(doc[d])} for d in dims if d in doc]
                for value in values:
                    datum: dict[str, Any] = {
                        "MetricName": name,
                        "Timestamp": timestamp,
                        "Value": float(value),
                        "Dimensions": dimensions,
                    }
                    if metric.get("Unit"):
                        datum["Unit"] = metric["Unit"]
                    if metric.get("StorageResolution"):
                        datum["StorageResolution"] = int(metric["StorageResolution"])
                    data.append(datum)
        if data:
            out.append((namespace, data))
    return out


def publish_emf(cloudwatch: Any, logs: str) -> list[dict[str, Any]]:
    """Put every EMF metric found in `logs` (an invocation's stdout) into CloudWatch.

    Returns one summary dict per datum (namespace, name, value, dimensions, timestamp) for the
    twin's timeline.
    """
    published: list[dict[str, Any]] = []
    for line in logs.splitlines():
        for namespace, data in parse_emf_line(line):
            # PutMetricData accepts at most 1000 datums per call.
            for i in range(0, len(data), 1000):
                cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[i : i + 1000])
            for datum in data:
                published.append(
                    {
                        "namespace": namespace,
                        "name": datum["MetricName"],
                        "value": datum["Value"],
                        "dimensions": {d["Name"]: d["Value"] for d in datum["Dimensions"]},
                        "timestamp": datum["Timestamp"].isoformat(),
                    }
                )
    return published
