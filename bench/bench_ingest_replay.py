"""Replay speed: synthetic transactions through `feecast ingest replay`'s pipeline, on the twin
and in memory, side by side in one run.

Each stream (a JSON Lines file) goes through `feecast.ingest.collect_transactions.replay_file`:
1. in memory (feecast_testing.ingest_memory's InMemoryIngestStore and InMemorySink, the fakes the unit
   tests use, with DynamoDB's conditional semantics): the pipeline's own speed;
2. on the twin (DynamoIngestStore and FeatureStoreSink on the twin's IngestTable and feature
   group, every call through the twin's front door, its request contracts and moto, as
   `feecast ingest replay` makes them on the twin);
3. in memory again: the in-memory speed is the mean of 1 and 3, which bracket the twin run in
   time, so a neighbour's load that comes or goes during the run weighs on both sides.

Two streams, because the twin's cost is per minute (about four calls: add, close, put the
record, mark it written) and the pipeline's per transaction, so the ratio depends on how many
transactions a minute holds:
- "day": one day at 4 tx/s with 5% re-polled duplicates (~350,000 transactions), the
  benchmark's historical volume;
- "demo": the same span at `make demo`'s 0.5 tx/s without duplicates (seed 7, as the demo),
  the replay issue 14 measured (the demo's history phase). It follows the day in event time, on
  the same twin (one deployment).

Goals: the twin replays at least 1/3 as many transactions per second as the in-memory pipeline
in the same run, for each stream (issue 14 measured about 1/17 on the demo's replay); the day
replays into the twin in under 120 s (the demo's three days in ~5 minutes). Both paths must
count the same (identical IngestReport). `FEECAST_BENCH_DAYS` changes the span of both streams.

The ceiling beside each ratio says how far any design could go on this twin: every closed
minute must reach the feature group in its own PutRecord (the Feature Store API has no batch
put), so the twin's replay takes at least the in-memory pipeline's time plus one PutRecord per
minute, whatever else it does. The bench times PutRecord on the same twin, after the replays,
and reports memory / (memory + minutes x PutRecord) per stream: when that ceiling is under 1/3,
the goal cannot be met by fewer or cheaper DynamoDB calls; only a cheaper request path (moto's
parsing and serialising, botocore's) could.

A second ceiling says what the SDK alone allows: every call the twin answered during a stream's
replay is made again, after the twin has closed, with the same parameters, on a client whose
request is answered at once with the twin's recorded response (botocore's before-send hook):
building, signing and parsing, and no backend at all. memory / (memory + that time) is the best
ratio any twin could reach for the product's calls as they are.

Why not per-transaction conditional puts or TransactWriteItems: moto deep-copies the whole
table on every TransactWriteItems (measured: 6 s per call at 2,000 items, 42 s at 20,000),
and ~0.7 ms per PutItem would make 1M transactions take 12 minutes; one conditional write per
minute (feecast.ingest.store) does the same job in a few thousand calls.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import measurement, result

GOALS = {"replay_s_per_day": 120.0, "twin_to_memory": 1 / 3}
START = datetime(2026, 1, 1, tzinfo=UTC)
PUT_RECORD_SAMPLES = 300  # PutRecords timed for the ceiling (~0.5 s)


@dataclass
class Stream:
    key: str
    rate: float  # transactions per second
    seed: int
    duplicates: float
    path: Path | None = None
    lines: int = 0
    memory_s: tuple[float, ...] = ()
    memory_report: Any = None
    twin_s: float = 0.0
    twin_report: Any = None
    calls: list[list[Any]] = field(default_factory=list)  # SdkRecorder's, during the twin replay
    sdk_s: float = 0.0  # the same calls answered at once (SdkRecorder.replay)

    @property
    def memory_mean_s(self) -> float:
        return sum(self.memory_s) / len(self.memory_s)

    @property
    def memory_tx_s(self) -> float:
        return self.lines / self.memory_mean_s

    def ceiling(self, put_record_s: float) -> float:
        """The best twin/memory ratio with only one PutRecord per closed minute on the twin."""
        minutes = int(self.twin_report.minutes_closed)
        return self.memory_mean_s / (self.memory_mean_s + minutes * put_record_s)

    @property
    def sdk_ceiling(self) -> float:
        """The best twin/memory ratio with a backend that answers every call at once."""
        return self.memory_mean_s / (self.memory_mean_s + self.sdk_s)

    @property
    def twin_tx_s(self) -> float:
        return self.lines / self.twin_s


def main() -> dict[str, Any]:
    from feecast.adapters.feature_store import FeatureStoreSink
    from feecast.adapters.ingest_table import DynamoIngestStore
    from feecast.ingest.collect_transactions import replay_file
    from feecast.observability import logger

    from feecast_testing.ingest_memory import InMemoryIngestStore, InMemorySink
    from feecast_testing.synthetic import config_for, write_jsonl
    from feecast_twin import Twin

    days = float(os.environ.get("FEECAST_BENCH_DAYS", "1"))
    logger.setLevel("WARNING")
    streams = [Stream("day", 4.0, 1, 0.05), Stream("demo", 0.5, 7, 0.0)]

    def in_memory(stream: Stream) -> None:
        assert stream.path is not None
        started = time.perf_counter()
        report = replay_file(
            stream.path, store=InMemoryIngestStore(), sink=InMemorySink(), flush=True
        )
        stream.memory_s += (time.perf_counter() - started,)
        stream.memory_report = stream.memory_report or report

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        for i, stream in enumerate(streams):  # one after the other in event time
            stream.path = Path(tmp) / f"{stream.key}.jsonl"
            config = config_for(
                START + i * timedelta(days=days),
                days,
                seed=stream.seed,
                rate_per_second=stream.rate,
                duplicate_fraction=stream.duplicates,
            )
            stream.lines = write_jsonl(stream.path, config)
        generate_s = time.perf_counter() - started
        for stream in streams:
            in_memory(stream)
        started = time.perf_counter()
        with Twin(
            parameter_overrides={"IngestScheduleState": "DISABLED"},
            start=START + len(streams) * timedelta(days=days) + timedelta(hours=1),
        ) as twin:
            deploy_s = time.perf_counter() - started
            store = DynamoIngestStore(twin.outputs["IngestTableName"], twin.client("dynamodb"))
            sink = FeatureStoreSink(
                twin.outputs["FeatureGroupName"], twin.client("sagemaker-featurestore-runtime")
            )
            recorder = SdkRecorder(store.client, sink.client)
            for stream in streams:
                recorder.calls = stream.calls
                started = time.perf_counter()
                stream.twin_report = replay_file(stream.path, store=store, sink=sink, flush=True)
                stream.twin_s = time.perf_counter() - started
            recorder.calls = []
            started = time.perf_counter()
            twin.settle()
            offline_s = time.perf_counter() - started
            put_record_s = time_put_record(sink, START - timedelta(days=30))
        for stream in streams:
            in_memory(stream)
        for stream in streams:  # the twin has closed: moto answers nothing now
            stream.sdk_s = recorder.replay(stream.calls).seconds

    day, demo = streams
    measurements = []
    for stream in streams:
        measurements.append(
            measurement(
                f"twin_to_memory_tx_per_s ({stream.key}, {stream.rate:g} tx/s)",
                stream.twin_tx_s / stream.memory_tx_s,
                at_least=GOALS["twin_to_memory"],
                goal_label="1/3",
                note=f"twin {stream.twin_tx_s:,.0f} tx/s, in memory {stream.memory_tx_s:,.0f} "
                f"tx/s; {stream.lines:,} transactions",
            )
        )
        minutes = stream.twin_report.minutes_closed
        measurements.append(
            measurement(
                f"ceiling of twin_to_memory ({stream.key}): one PutRecord per minute",
                stream.ceiling(put_record_s),
                note=f"in memory {stream.memory_mean_s * 1000 / minutes:.2f} ms per closed "
                f"minute, the twin {(stream.twin_s - stream.memory_mean_s) * 1000 / minutes:.2f}"
                f" ms more (add, close, put, mark written); PutRecord alone "
                f"{put_record_s * 1000:.2f} ms",
            )
        )
        measurements.append(
            measurement(
                f"ceiling of twin_to_memory ({stream.key}): the SDK alone, an instant backend",
                stream.sdk_ceiling,
                note=f"{len(stream.calls):,} calls ({len(stream.calls) / minutes:.2f} per closed "
                f"minute) cost botocore {stream.sdk_s:.2f} s "
                f"({stream.sdk_s * 1000 / max(len(stream.calls), 1):.3f} ms a call) answered "
                f"at once; the twin took {stream.twin_s:.2f} s",
            )
        )
    measurements += [
        measurement(
            "replay per day",
            day.twin_s / days,
            "s",
            below=GOALS["replay_s_per_day"],
            note=f"{day.lines:,} transactions, {day.twin_report.duplicates_dropped:,} duplicates "
            "dropped",
            digits=1,
        ),
        measurement("transactions per second", day.twin_tx_s, "tx/s", note="twin, day", digits=0),
        measurement(
            "in-memory transactions per second",
            day.memory_tx_s,
            "tx/s",
            note="day; mean of the runs before and after the twin's "
            f"({day.memory_s[0]:.2f} s, {day.memory_s[1]:.2f} s)",
            digits=0,
        ),
        measurement("demo-rate twin transactions per second", demo.twin_tx_s, "tx/s", digits=0),
        measurement(
            "demo-rate in-memory transactions per second", demo.memory_tx_s, "tx/s", digits=0
        ),
        measurement(
            "same_counts_twin_and_memory",
            all(s.twin_report.to_dict() == s.memory_report.to_dict() for s in streams),
            equals=True,
        ),
        measurement("generate", generate_s, "s", digits=1),
        measurement("twin deploy", deploy_s, "s", digits=1),
        measurement("offline store write", offline_s, "s", digits=1),
        measurement(
            "twin PutRecord",
            put_record_s * 1000,
            "ms",
            note=f"mean of {PUT_RECORD_SAMPLES} on the same twin, after the replays",
            digits=2,
        ),
    ]
    return result(
        "ingest_replay",
        "Ingest replay: synthetic transactions through `feecast ingest replay`, twin vs memory",
        measurements,
        {
            "days": days,
            "put_record_ms": put_record_s * 1000,
            "lines": day.lines,
            "minutes_closed": day.twin_report.minutes_closed,
            "duplicates_dropped": day.twin_report.duplicates_dropped,
            "streams": {
                s.key: {
                    "rate_per_second": s.rate,
                    "seed": s.seed,
                    "duplicate_fraction": s.duplicates,
                    "lines": s.lines,
                    "twin_replay_s": s.twin_s,
                    "memory_replay_s": list(s.memory_s),
                    "twin_report": s.twin_report.to_dict(),
                    "ceiling_one_put_record_per_minute": s.ceiling(put_record_s),
                    "calls": len(s.calls),
                    "calls_by_operation": calls_by_operation(s.calls),
                    "sdk_replay_s": s.sdk_s,
                    "ceiling_sdk_alone": s.sdk_ceiling,
                    "memory_report": s.memory_report.to_dict(),
                }
                for s in streams
            },
        },
    )


def time_put_record(sink: Any, first: datetime) -> float:
    """Mean seconds of one PutRecord of a minute's record through the twin (minutes from
    `first` on, apart from the replayed ones)."""
    from feecast.ingest.model import MinuteRecord, epoch

    base = epoch(first)
    records = [
        MinuteRecord(
            minute=base + 60 * i, count=30, total_fee=90_000, median_fee=2_500, fee_rate=9.5
        )
        for i in range(PUT_RECORD_SAMPLES)
    ]
    started = time.perf_counter()
    for record in records:
        sink.put_minute(record)
    return (time.perf_counter() - started) / len(records)


class SdkRecorder:
    """Records each call the given clients make (operation, parameters, the last HTTP answer)
    in `calls`, and makes them again on fresh clients answered at once: what the SDK alone
    costs for those calls.

    The parameters are kept by reference: the adapters build new ones for every call, and
    botocore reads them without changing them. A call and its answer are paired through the
    context dict botocore hands to both events, so concurrent calls cannot swap answers."""

    def __init__(self, *clients: Any) -> None:
        self.calls: list[list[Any]] = []
        self.configs: dict[str, Any] = {}
        self.region = clients[0].meta.region_name
        for client in clients:
            service = client.meta.service_model.service_name
            event_id = client.meta.service_model.service_id.hyphenize()
            self.configs[service] = client.meta.config
            client.meta.events.register(f"before-parameter-build.{event_id}", self._called(service))
            client.meta.events.register(f"response-received.{event_id}", self._answered)

    def _called(self, service: str) -> Any:
        def record(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
            entry = [service, model.name, params, None]
            context["sdk_recorder_call"] = entry
            self.calls.append(entry)

        return record

    def _answered(
        self, response_dict: dict[str, Any] | None, context: dict[str, Any], **_: Any
    ) -> None:
        entry = context.get("sdk_recorder_call")
        if entry is not None and response_dict is not None:
            entry[3] = response_dict  # a retried call keeps its last answer

    def replay(self, calls: list[list[Any]]) -> Replayed:
        """Make `calls` again, each answered at once with its recorded answer; botocore's time."""
        import boto3
        from botocore import xform_name
        from botocore.awsrequest import AWSResponse
        from botocore.config import Config
        from botocore.exceptions import ClientError
        from moto.core.botocore_stubber import MockRawResponse
        from moto.core.models import botocore_stubber

        unanswered = [f"{c[0]}.{c[1]}" for c in calls if c[3] is None]
        if unanswered:
            raise RuntimeError(f"calls without a recorded answer: {unanswered[:5]}")
        # moto's stubber runs before any client's own before-send hook: while a mock is active
        # it would answer these calls itself, and this would time moto, not botocore alone.
        if botocore_stubber.enabled:
            raise RuntimeError("a moto mock is still active: the replay would reach moto")
        session = boto3.session.Session(
            aws_access_key_id="bench", aws_secret_access_key="bench", region_name=self.region
        )
        answers = iter(calls)
        done = Replayed()

        def answer(request: Any, event_name: str, **_: Any) -> Any:
            service, operation, _, recorded = next(answers)
            if not event_name.endswith(f".{operation}"):
                raise RuntimeError(f"{event_name} answered with {service}.{operation}'s answer")
            done.answers.append((operation, int(recorded["status_code"])))
            return AWSResponse(
                request.url,
                recorded["status_code"],
                dict(recorded["headers"]),
                MockRawResponse(recorded["body"]),  # type: ignore[arg-type]
            )

        clients = {}
        for service, config in self.configs.items():
            # The same configuration, with no retry: each call gets exactly its one answer.
            retries = {k: v for k, v in (config.retries or {}).items() if k != "max_attempts"}
            once = config.merge(Config(retries={**retries, "total_max_attempts": 1}))
            clients[service] = session.client(service, config=once)
            clients[service].meta.events.register("before-send", answer)
        methods = [
            (getattr(clients[service], xform_name(operation)), params)
            for service, operation, params, _ in calls
        ]
        started = time.perf_counter()
        for method, params in methods:
            try:
                method(**params)
            except ClientError:  # a refused condition costs its parsing too, as in the replay
                done.refused += 1
        done.seconds = time.perf_counter() - started
        if len(done.answers) != len(calls):
            raise RuntimeError(f"{len(calls)} calls, {len(done.answers)} answered")
        return done


@dataclass
class Replayed:
    """What SdkRecorder.replay did: botocore's seconds, each answer given, the refusals."""

    seconds: float = 0.0
    answers: list[tuple[str, int]] = field(default_factory=list)  # (operation, HTTP status)
    refused: int = 0


def calls_by_operation(calls: list[list[Any]]) -> dict[str, int]:
    return dict(
        sorted(Counter(f"{service}.{operation}" for service, operation, *_ in calls).items())
    )
