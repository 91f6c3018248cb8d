"""`feecast ingest ...`: backfill the feature store and make synthetic transaction streams.

    feecast ingest replay FILE [--flush]      JSON Lines of blockchain.info transactions ->
                                              the same pipeline as the scheduled collector
    feecast ingest synthetic OUT --days 3     a SYNTHETIC stream in that format (docs/ingest.md)

Replay finds the IngestTable and the feature group from the stack's outputs (IngestTableName,
FeatureGroupName), on AWS or on the twin (--endpoint-url); --table / --feature-group override.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feecast_cli.context import CliError, Context
from feecast_cli.local import usage
from feecast_cli.progress import Progress, human


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("ingest", help="backfill transactions; synthetic streams")
    commands = parser.add_subparsers(dest="ingest_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=usage(parser))

    replay = commands.add_parser(
        "replay",
        help="feed a JSON Lines file of transactions through the ingestion pipeline",
        description="Deduplicate, aggregate per event-time minute and close minutes into the "
        "feature store, exactly as the scheduled collector does. Minutes already closed are "
        "not rewritten: their transactions count as late.",
    )
    replay.add_argument("file", type=Path, help="JSON Lines, one blockchain.info transaction each")
    replay.add_argument(
        "--flush",
        action="store_true",
        help="the file is complete: also close its last minutes (else the collector closes them)",
    )
    replay.add_argument("--watermark-seconds", type=int, default=60, help="default: %(default)s")
    replay.add_argument("--chunk-size", type=int, default=20_000, help="lines per batch")
    replay.add_argument("--table", help="IngestTable name (default: stack output IngestTableName)")
    replay.add_argument("--feature-group", help="default: stack output FeatureGroupName")
    replay.add_argument("--verbose", action="store_true", help="print the pipeline's JSON logs")
    replay.add_argument("--json", action="store_true", help="print the report as one JSON object")
    replay.set_defaults(func=_replay)

    synthetic = commands.add_parser(
        "synthetic",
        help="write a SYNTHETIC transaction stream (blockchain.info format, JSON Lines)",
    )
    synthetic.add_argument("out", type=Path)
    synthetic.add_argument("--start", help="ISO-8601 UTC start (default: now minus --days)")
    synthetic.add_argument("--days", type=float, default=1.0)
    synthetic.add_argument("--rate", type=float, default=4.0, help="mean transactions per second")
    synthetic.add_argument("--seed", type=int, default=0)
    synthetic.add_argument(
        "--regime-change-at", help="ISO-8601 time from which fees are multiplied"
    )
    synthetic.add_argument("--fee-multiplier", type=float, default=3.0)
    synthetic.add_argument("--duplicate-fraction", type=float, default=0.0)
    synthetic.add_argument("--json", action="store_true", help="print the result as JSON")
    synthetic.set_defaults(func=_synthetic)


def _utc(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CliError(f"not an ISO-8601 time: {raw!r}") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _replay(args: argparse.Namespace, context: Context) -> int:
    # Imported here: `feecast --help` stays fast.
    from feecast.adapters.feature_store import FeatureStoreSink
    from feecast.adapters.ingest_table import DynamoIngestStore
    from feecast.ingest.collect_transactions import replay_file
    from feecast.observability import logger

    if not args.file.is_file():
        raise CliError(f"no such file: {args.file}")
    if not args.verbose:
        logger.setLevel("WARNING")
    store = DynamoIngestStore(
        args.table or context.output("IngestTableName"), context.client("dynamodb")
    )
    sink = FeatureStoreSink(
        args.feature_group or context.output("FeatureGroupName"),
        context.client("sagemaker-featurestore-runtime"),
    )
    progress = Progress(f"ingest replay {args.file.name}")
    started = time.perf_counter()
    report = replay_file(
        args.file,
        store=store,
        sink=sink,
        watermark_seconds=args.watermark_seconds,
        flush=args.flush,
        chunk_size=args.chunk_size,
        on_chunk=lambda lines: progress.update(f"{lines:,} lines read"),
    )
    elapsed = time.perf_counter() - started
    progress.done("done")
    summary = {**report.to_dict(), "seconds": round(elapsed, 1)}
    summary["transactions_per_second"] = (
        round(report.transactions_polled / elapsed) if elapsed else None
    )
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"{summary['transactions_polled']:,} transactions in {human(summary['seconds'], 3)} s "
            f"({human(summary['transactions_per_second'])}/s): {summary['accepted']:,} accepted, "
            f"{summary['duplicates_dropped']:,} duplicates, {summary['late_transactions']:,} late, "
            f"{summary['malformed_transactions']:,} malformed"
        )
        print(
            f"{summary['minutes_closed']:,} minutes closed, {summary['minutes_written']:,} "
            f"written to the feature store (last {summary['last_closed'] or '-'})"
        )
    return 0


def _synthetic(args: argparse.Namespace, context: Context) -> int:
    from datetime import timedelta

    from feecast_testing.synthetic import config_for, write_jsonl

    start = _utc(args.start) if args.start else datetime.now(UTC) - timedelta(days=args.days)
    try:
        config = config_for(
            start.replace(second=0, microsecond=0),
            args.days,
            seed=args.seed,
            rate_per_second=args.rate,
            regime_change_at=_utc(args.regime_change_at) if args.regime_change_at else None,
            fee_multiplier=args.fee_multiplier,
            duplicate_fraction=args.duplicate_fraction,
        )
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    lines = write_jsonl(args.out, config)
    if args.json:
        out = {"file": str(args.out), "transactions": lines, "start": config.start.isoformat()}
        print(json.dumps(out, indent=2))
    else:
        print(f"{args.out}: {lines} SYNTHETIC transactions from {config.start:%Y-%m-%dT%H:%M:%SZ}")
    return 0
