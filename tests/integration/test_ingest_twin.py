"""Ingestion on the twin: the scheduled collector and `feecast ingest replay`, template.yaml as is.

The collector reaches its source over real HTTP: a local server on 127.0.0.1 answering in
blockchain.info's format, selected with the IngestSourceUrl parameter (as a user would point it
at a mirror). No branch for the twin anywhere: same handler, same urllib adapter.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from feecast.adapters.feature_history import read_minutes
from feecast.adapters.feature_store import FeatureStoreSink

from feecast_cli.main import main as feecast
from feecast_testing.synthetic import config_for, write_jsonl
from tests.support.drivers import INGEST_E0 as E0
from tests.support.drivers import INGEST_T0 as T0
from tests.support.drivers import SourceServer, tx

GROUP = "feecast-fee-minutes"
INGEST = {"service": "ingest"}


@pytest.fixture
def source() -> Iterator[SourceServer]:
    server = SourceServer()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def total(twin, metric: str) -> float:
    return sum(value for _, value in twin.metric_data("feecast", metric, INGEST))


def test_scheduled_collector_counts_once_per_event_minute_and_closes_into_both_stores(
    make_twin, source, load_event
):
    """Given the collector's schedule on and a source listing 12:00 transactions (one malformed),
    when the twin clock runs to 12:03 (a run per minute, 2 polls each),
    then 12:00 holds each transaction once, 12:01 is written empty, both stores agree, a late
    12:00 transaction is counted late and never rewrites the minute, and the metrics say so."""
    source.serve(tx(1, 5, 1000), tx(2, 20, 3000), tx(3, 59, 2000), {"hash": "bad", "fee": 1})
    twin = make_twin(
        parameter_overrides={
            "IngestScheduleState": "ENABLED",
            "IngestSourceUrl": source.url,
            "IngestPollsPerRun": "2",
            "IngestPollIntervalSeconds": "0",
        },
        start=T0 + timedelta(seconds=30),
    )
    twin.advance(timedelta(minutes=3))

    sink = FeatureStoreSink(GROUP, twin.client("sagemaker-featurestore-runtime"))
    first, empty = sink.get_minute("2026-01-05T12:00:00Z"), sink.get_minute("2026-01-05T12:01:00Z")
    assert (first.count, first.total_fee, first.avg_fee) == (3, 6000, 2000.0)
    # The median fee and the vsize-weighted fee rate: weight 661 -> vsize 166 vB each.
    assert (first.median_fee, first.fee_rate) == (2000.0, 6000 / (3 * 166))
    assert (empty.count, empty.total_fee, empty.avg_fee) == (0, 0, None)
    assert (empty.median_fee, empty.fee_rate) == (None, None)
    assert source.requests == 6  # 3 runs x 2 polls
    assert total(twin, "TransactionsPolled") == 18
    assert total(twin, "DuplicatesDropped") == 15
    assert total(twin, "MalformedTransactions") == 6
    assert total(twin, "MinutesClosed") >= 2

    # A replayed run (same input shape the Scheduler sends) sees a late 12:00 transaction.
    source.serve(tx(1, 5, 1000), tx(4, 40, 99_999))
    report = twin.invoke("CollectTransactionsFunction", load_event("ingest-scheduled-run.json"))
    # 2 polls: tx 1 a duplicate twice, tx 4 late once then a duplicate (late keys are kept).
    assert (report["late_transactions"], report["duplicates_dropped"]) == (1, 3)
    assert sink.get_minute("2026-01-05T12:00:00Z").count == 3

    # The model build's reader sees the same minutes through the offline store (Parquet).
    twin.settle()
    series = read_minutes(GROUP, T0, T0 + timedelta(minutes=2), "total_nb_trx_1min")
    assert list(series.values) == [3.0, 0.0]


def test_replay_of_a_synthetic_stream_writes_the_expected_minutes(
    make_twin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """Given 40 minutes of synthetic transactions with re-polled duplicates and out-of-order
    arrivals, when `feecast ingest replay FILE --flush` runs against the twin's stack,
    then every minute equals an independent count of the file (each hash once, own minute)."""
    twin = make_twin(start=T0 + timedelta(hours=2))
    path = tmp_path / "stream.jsonl"
    config = config_for(
        T0, 40 / 1440, seed=7, rate_per_second=0.5, duplicate_fraction=0.2, max_disorder_seconds=30
    )
    write_jsonl(path, config)
    expected: dict[int, list[int]] = {}
    fees: dict[int, list[int]] = {}
    seen: set[str] = set()
    for line in path.read_text().splitlines():
        item = json.loads(line)
        if item["hash"] not in seen:
            seen.add(item["hash"])
            slot = expected.setdefault(item["time"] // 60 * 60, [0, 0])
            slot[0] += 1
            slot[1] += item["fee"]
            fees.setdefault(item["time"] // 60 * 60, []).append(item["fee"])

    code = feecast(
        ["--region", twin.region, "ingest", "replay", str(path), "--flush", "--chunk-size", "200"]
    )
    assert code == 0
    # Progress on stderr, a line per chunk with the elapsed time; a summary for people on stdout.
    out, err = capsys.readouterr()
    progress = [line for line in err.splitlines() if "ingest replay stream.jsonl" in line]
    assert len(progress) >= 3 and progress[-1].endswith(": done"), err[-2000:]
    assert all(line.startswith("[") and " s] " in line for line in progress)
    assert "200 lines read" in err and "minutes closed" in out and "transactions in" in out

    sink = FeatureStoreSink(GROUP, twin.client("sagemaker-featurestore-runtime"))
    for minute in range(E0, E0 + 40 * 60, 60):
        record = sink.get_minute(datetime.fromtimestamp(minute, UTC).strftime("%Y-%m-%dT%H:%M:00Z"))
        count, fee = expected.get(minute, [0, 0])
        assert (record.count, record.total_fee) == (count, fee), minute
        if count:  # the median of the minute's fees, each hash once, through DynamoDB
            assert record.median_fee == statistics.median(fees[minute]), minute
    twin.settle()
    series = read_minutes(GROUP, T0, T0 + timedelta(minutes=40), "total_nb_trx_1min")
    assert list(series.values) == [float(expected.get(m, [0])[0]) for m in range(E0, E0 + 2400, 60)]
