"""Replay speed: synthetic transactions through `feecast ingest replay`'s pipeline, on the twin
and in memory, side by side in one run.

The same JSON Lines file goes through `feecast.ingest.service.replay_file` three times:
1. in memory (feecast.ingest.memory's InMemoryIngestStore and InMemorySink, the fakes the unit
   tests use, with DynamoDB's conditional semantics): the pipeline's own speed;
2. on the twin (DynamoIngestStore and FeatureStoreSink on the twin's IngestTable and feature
   group, every call an HTTP request to the twin's moto server through its front door, as
   `feecast ingest replay --endpoint-url` makes them);
3. in memory again: the in-memory speed is the mean of 1 and 3, which bracket the twin run in
   time, so a neighbour's load that comes or goes during the run weighs on both sides.

Goals: the twin replays at least 1/3 as many transactions per second as the in-memory pipeline
in the same run (issue 14: it was about 1/17 before the twin's rewrite); one day at 4 tx/s
(~350,000 transactions, 5% re-polled duplicates) replays into the twin in under 120 s, i.e.
the demo's three days in ~5 minutes. Both paths must count the same (identical IngestReport).
`FEECAST_BENCH_DAYS` changes the volume.

Why not per-transaction conditional puts or TransactWriteItems: moto deep-copies the whole
table on every TransactWriteItems (measured: 6 s per call at 2,000 items, 42 s at 20,000),
and ~0.7 ms per PutItem would make 1M transactions take 12 minutes; one conditional write per
minute (feecast.ingest.store) does the same job in a few thousand calls.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import measurement, result

GOALS = {"replay_s_per_day": 120.0, "twin_to_memory": 1 / 3}


def main() -> dict[str, Any]:
    from feecast.adapters.feature_store import FeatureStoreSink
    from feecast.adapters.ingest_table import DynamoIngestStore
    from feecast.ingest.memory import InMemoryIngestStore, InMemorySink
    from feecast.ingest.service import replay_file
    from feecast.ingest.synthetic import config_for, write_jsonl
    from feecast.observability import logger

    from feecast_twin import Twin

    days = float(os.environ.get("FEECAST_BENCH_DAYS", "1"))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    logger.setLevel("WARNING")

    def in_memory(path: Path) -> tuple[float, Any]:
        started = time.perf_counter()
        report = replay_file(path, store=InMemoryIngestStore(), sink=InMemorySink(), flush=True)
        return time.perf_counter() - started, report

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stream.jsonl"
        started = time.perf_counter()
        lines = write_jsonl(path, config_for(start, days, seed=1, duplicate_fraction=0.05))
        generate_s = time.perf_counter() - started
        memory_before_s, memory_report = in_memory(path)
        started = time.perf_counter()
        with Twin(
            parameter_overrides={"IngestScheduleState": "DISABLED"},
            start=start + timedelta(days=days, hours=1),
        ) as twin:
            deploy_s = time.perf_counter() - started
            store = DynamoIngestStore(twin.outputs["IngestTableName"], twin.client("dynamodb"))
            sink = FeatureStoreSink(
                twin.outputs["FeatureGroupName"], twin.client("sagemaker-featurestore-runtime")
            )
            started = time.perf_counter()
            report = replay_file(path, store=store, sink=sink, flush=True)
            replay_s = time.perf_counter() - started
            started = time.perf_counter()
            twin.settle()
            offline_s = time.perf_counter() - started
        memory_after_s, _ = in_memory(path)
    memory_s = (memory_before_s + memory_after_s) / 2
    twin_tx_s, memory_tx_s = lines / replay_s, lines / memory_s
    same = report.to_dict() == memory_report.to_dict()
    return result(
        "ingest_replay",
        "Ingest replay: synthetic transactions through `feecast ingest replay`, twin vs memory",
        [
            measurement(
                "twin_to_memory_tx_per_s",
                twin_tx_s / memory_tx_s,
                at_least=GOALS["twin_to_memory"],
                goal_label="1/3",
                note=f"twin {twin_tx_s:,.0f} tx/s, in memory {memory_tx_s:,.0f} tx/s",
            ),
            measurement(
                "replay per day",
                replay_s / days,
                "s",
                below=GOALS["replay_s_per_day"],
                note=f"{lines:,} transactions, {report.duplicates_dropped:,} duplicates dropped",
                digits=1,
            ),
            measurement("transactions per second", twin_tx_s, "tx/s", note="twin", digits=0),
            measurement(
                "in-memory transactions per second",
                memory_tx_s,
                "tx/s",
                note=f"mean of {memory_before_s:.2f} s before and {memory_after_s:.2f} s after "
                "the twin run",
                digits=0,
            ),
            measurement("same_counts_twin_and_memory", same, equals=True),
            measurement("generate", generate_s, "s", digits=1),
            measurement("twin deploy", deploy_s, "s", digits=1),
            measurement("offline store write", offline_s, "s", digits=1),
        ],
        {
            "days": days,
            "lines": lines,
            "minutes_closed": report.minutes_closed,
            "duplicates_dropped": report.duplicates_dropped,
            "twin_replay_s": replay_s,
            "memory_replay_s": [memory_before_s, memory_after_s],
            "twin_report": report.to_dict(),
            "memory_report": memory_report.to_dict(),
        },
    )
