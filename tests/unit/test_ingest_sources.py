"""Source adapters: formats, HTTP failure mapping, files; the collector's event and settings."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from feecast.ingest.collect_transactions import ScheduledRun
from feecast.ingest.model import MinuteRecord, minute_id, parse_minute_id
from feecast.ingest.settings import CollectorSettings
from feecast.ingest.sources import (
    FileSource,
    SourceFormatError,
    SourceUnavailable,
    UrllibTransport,
    make_source,
    parse_blockchain_info,
    parse_mempool_space,
)
from feecast.settings import SettingsError, load_settings
from pydantic import ValidationError

H = "AB" * 32
T = 1767614400  # 2026-01-05T12:00:00Z


def test_blockchain_info_transaction_keeps_hash_fee_time_and_derives_vsize_from_weight():
    body = json.dumps(
        {
            "txs": [
                {
                    "hash": H,
                    "fee": 1500,
                    "size": 300,
                    "weight": 661,
                    "time": T + 7,
                    "inputs": [],
                    "out": [],
                }
            ]
        }
    ).encode()
    (tx,) = parse_blockchain_info(body, T + 10).transactions
    assert (tx.tx_id, tx.fee, tx.time, tx.vsize, tx.minute) == (H.lower(), 1500, T + 7, 166, T)
    assert not tx.time_is_poll_time


def test_the_sample_answer_in_events_parses_with_extra_fields_ignored(repo_root: Path):
    body = (repo_root / "events" / "ingest-blockchain-info-unconfirmed.json").read_bytes()
    result = parse_blockchain_info(body, T + 60)
    assert (result.received, result.malformed) == (2, 0)
    assert [(tx.fee, tx.vsize, tx.minute) for tx in result.transactions] == [
        (2805, 141, T),
        (7440, 372, T),
    ]


def test_mempool_space_items_are_stamped_with_the_poll_time():
    body = json.dumps([{"txid": H, "fee": 500, "vsize": 110.5, "value": 1}]).encode()
    (tx,) = parse_mempool_space(body, T + 42).transactions
    assert (tx.time, tx.vsize, tx.time_is_poll_time) == (T + 42, 110.5, True)
    with pytest.raises(SourceFormatError, match="list"):
        parse_mempool_space(b'{"txs": []}', T)


def test_unknown_source_is_refused_by_name():
    with pytest.raises(ValueError, match=r"mempool\.space"):
        make_source("coinbase")
    assert make_source("mempool.space", "http://mirror/recent").url == "http://mirror/recent"


class _Status(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = int(self.path.strip("/"))
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b'{"txs": []}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def http_base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Status)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_urllib_transport_maps_http_failures_to_retryable_or_not(http_base: str):
    transport = UrllibTransport()
    assert transport.get(f"{http_base}/200", 2) == b'{"txs": []}'
    with pytest.raises(SourceUnavailable, match="503"):
        transport.get(f"{http_base}/503", 2)
    with pytest.raises(SourceUnavailable, match="429"):
        transport.get(f"{http_base}/429", 2)
    with pytest.raises(SourceFormatError, match="404"):
        transport.get(f"{http_base}/404", 2)
    with pytest.raises(SourceUnavailable, match="cannot reach"):
        transport.get("http://127.0.0.1:9/nothing-listens-here", 2)


def test_file_source_reads_chunks_counts_bad_lines_and_ends(tmp_path: Path):
    good = {"hash": H, "fee": 10, "size": 200, "time": T}
    path = tmp_path / "txs.jsonl"
    path.write_text(
        "\n".join(
            [json.dumps(good), "{not json", "", json.dumps({**good, "fee": -5}), json.dumps(good)]
        )
        + "\n"
    )
    source = FileSource(path, chunk_size=3)
    first, second = source.poll(0), source.poll(0)
    assert (first.received, len(first.transactions), first.malformed) == (3, 1, 2)
    assert first.problems[0].startswith("txs.jsonl:2:")
    assert (second.received, len(second.transactions)) == (1, 1)
    assert source.poll(0) is None
    with pytest.raises(FileNotFoundError):
        FileSource(tmp_path / "missing.jsonl")


def test_minute_ids_round_trip_and_records_leave_the_average_out_when_empty():
    assert minute_id(T) == "2026-01-05T12:00:00Z" and parse_minute_id("2026-01-05T12:00:00Z") == T
    with pytest.raises(ValueError):
        parse_minute_id("2026-01-05T12:00:30Z")
    record = MinuteRecord(T, 4, 1001)
    assert MinuteRecord.from_features(record.to_features()) == record
    assert {f["FeatureName"]: f["ValueAsString"] for f in record.to_features()}[
        "avg_fee_1min"
    ] == "250.25"


def test_scheduler_input_and_eventbridge_envelope_both_give_the_scheduled_time():
    assert (
        ScheduledRun.model_validate(
            {"scheduled_time": "2026-01-05T12:00:00Z"}
        ).scheduled_time.minute
        == 0
    )
    envelope = {"detail-type": "Scheduled Event", "time": "2026-01-05T12:01:00Z", "detail": {}}
    assert ScheduledRun.model_validate(envelope).scheduled_time.minute == 1
    with pytest.raises(ValidationError):
        ScheduledRun.model_validate({"scheduled_time": "2026-01-05T12:00:00"})  # no zone


def test_collector_settings_name_the_missing_or_wrong_variable():
    base = {"PROJECT_NAME": "feecast", "SSM_PREFIX": "/feecast", "FEATURE_GROUP_NAME": "g"}
    with pytest.raises(SettingsError, match="INGEST_TABLE"):
        load_settings(CollectorSettings, base)
    with pytest.raises(SettingsError, match=r"INGEST_SOURCE: .*unknown source"):
        load_settings(CollectorSettings, {**base, "INGEST_TABLE": "t", "INGEST_SOURCE": "x"})
    settings = load_settings(CollectorSettings, {**base, "INGEST_TABLE": "t", "POLLS_PER_RUN": "2"})
    assert (settings.polls_per_run, settings.watermark_seconds) == (2, 60)
