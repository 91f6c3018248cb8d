"""What the scheduled function and the replay command build around `run_ingest`.

- `collect(scheduled_time, settings, store=, sink=)`: CollectTransactionsFunction, every minute:
  poll the configured live source a few times, then close minutes with the scheduled time as
  "now". The handler wires the store and the sink (the IngestTable, the feature group).
- `replay_file(path, store=, sink=)`: `feecast ingest replay FILE`: the same pipeline fed by a
  FileSource, the stream's own event time driving the watermark.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, model_validator

from feecast.ingest.model import epoch
from feecast.ingest.pipeline import (
    DEFAULT_WATERMARK_SECONDS,
    IngestReport,
    RetryPolicy,
    RunPlan,
    publish_metrics,
    run_ingest,
)
from feecast.ingest.settings import CollectorSettings
from feecast.ingest.sources import FileSource, Source, Transport, make_source
from feecast.ingest.store import IngestStore, MinuteSink


class ScheduledRun(BaseModel):
    """The Scheduler's input: {"scheduled_time": "<aws.scheduler.scheduled-time>"}.

    An EventBridge rule's "Scheduled Event" envelope is accepted too (its `time`), so the
    function also works behind a classic schedule rule.
    """

    model_config = ConfigDict(extra="ignore")

    scheduled_time: AwareDatetime

    @model_validator(mode="before")
    @classmethod
    def _from_envelope(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("source" in data or "detail-type" in data):
            # Another rule's event delivered here by mistake is refused, not run at its time.
            source, kind = data.get("source"), data.get("detail-type")
            if source not in (None, "aws.events") or kind not in (None, "Scheduled Event"):
                raise ValueError(
                    f"source {source!r} / detail-type {kind!r}: only a schedule's input or an"
                    " aws.events 'Scheduled Event' starts a collection"
                )
        if isinstance(data, dict) and "scheduled_time" not in data and "time" in data:
            return {**data, "scheduled_time": data["time"]}
        return data


@cache
def _live_source(name: str, url: str, timeout: float) -> Source:
    return make_source(name, url, timeout=timeout)


def collect(
    scheduled_time: datetime,
    settings: CollectorSettings,
    *,
    store: IngestStore,
    sink: MinuteSink,
    remaining: Callable[[], float] | None = None,
    source: Source | None = None,
    transport: Transport | None = None,
) -> IngestReport:
    """One scheduled run: poll the live source, count, close minutes up to the scheduled time."""
    if source is None:
        source = (
            make_source(
                settings.ingest_source,
                settings.ingest_source_url,
                transport=transport,
                timeout=settings.request_timeout_seconds,
            )
            if transport is not None
            else _live_source(
                settings.ingest_source,
                settings.ingest_source_url,
                settings.request_timeout_seconds,
            )
        )
    plan = RunPlan(
        polls=settings.polls_per_run,
        interval_seconds=settings.poll_interval_seconds,
        retry=RetryPolicy(),
        watermark_seconds=settings.watermark_seconds,
        close_at=epoch(scheduled_time),
        max_minutes_per_close=settings.max_minutes_per_run,
    )
    return run_ingest(
        source,
        store,
        sink,
        plan,
        remaining=remaining,
    )


def replay_file(
    path: str | Path,
    *,
    store: IngestStore,
    sink: MinuteSink,
    watermark_seconds: int = DEFAULT_WATERMARK_SECONDS,
    flush: bool = False,
    chunk_size: int = 20_000,
    on_chunk: Callable[[int], None] | None = None,
) -> IngestReport:
    """Feed a JSON Lines file of blockchain.info transactions through the ingestion pipeline.

    `on_chunk(lines_read)` is called before each chunk is read (the previous one is done):
    `feecast ingest replay` reports its progress with it."""
    plan = RunPlan(
        polls=None,
        interval_seconds=0,
        watermark_seconds=watermark_seconds,
        close_at=None,
        flush=flush,
        max_minutes_per_close=None,
    )
    source = FileSource(path, chunk_size=chunk_size)
    if on_chunk is not None:
        read = 0
        poll = source.poll

        def poll_and_report(poll_time: int) -> Any:
            nonlocal read
            on_chunk(read)
            result = poll(poll_time)
            read += result.received if result is not None else 0
            return result

        source.poll = poll_and_report  # type: ignore[method-assign]
    return run_ingest(source, store, sink, plan)


def collect_transactions(
    run: ScheduledRun,
    settings: CollectorSettings,
    *,
    store: IngestStore,
    sink: MinuteSink,
    remaining: Callable[[], float],
    metrics: Any,
) -> IngestReport:
    """The scheduled run: collect, then publish the run's metrics (the CLI's runs do not)."""
    report = collect(run.scheduled_time, settings, store=store, sink=sink, remaining=remaining)
    publish_metrics(report, metrics)
    return report
