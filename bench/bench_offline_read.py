"""The build's offline-store read on the twin, with as many small Parquet files as Feature Store
writes for 14 days (issue 16, defect 6).

Feature Store decides the file count: from ~1,300 (4 files an hour) to ~20,000 (one per
minute) for a 14-day build. Files are written into the twin's S3 in SageMaker's layout
(feecast_twin.featurestore: `offline_table`, `offline_object_key` under the feature group's
ResolvedOutputS3Uri), then read with the build's reader (feecast.adapters.feature_history)
one GetObject at a time (concurrency 1, the old reader) and with DEFAULT_CONCURRENCY in flight.
In the twin, moto serves S3 in the same process: its own CPU time per request (several ms) is
counted too and shares the GIL with the reader, so the twin-only ratio understates the gain.

moto answers a GetObject in-process in about a millisecond; S3 takes tens of milliseconds to
the first byte. Each GetObject therefore also waits LATENCY_S (a botocore after-call hook that
sleeps, releasing the GIL as a network wait would) in the "S3-like" rows. A sequential read
of more than 1,008 files is timed on the first 1,008 files and scaled (marked "scaled"). Ratios
are measured side by side in one run; absolute numbers depend on this machine (a Lambda with
1024 MB gets about 0.6 vCPU: the parsing part is slower there, the waiting part is not).

Goal: the largest case fits the PrepareDataFunction budget (900 s timeout minus the reader's
60 s reserve) with room to spare: < 420 s, half the budget.
"""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from feecast.feature_schema import AVG_FEE, COUNT, EVENT_TIME, RECORD_ID, TOTAL_FEE

from bench.common import measurement, result

DAYS = 14
LATENCY_S = 0.03  # an S3 GetObject's time to first byte for a small object (order of magnitude)
CASES = {"1,344 files (4/hour)": 4, "20,160 files (1/minute)": 60}
SAMPLE = 1008  # files timed for the scaled sequential read of the largest case
BUDGET_S = 900 - 60  # PrepareDataFunction's Timeout minus the reader's reserve


def _write_files(twin: Any, per_hour: int, end: datetime) -> int:
    """14 days of minutes as `per_hour` files per hour, in the group's offline store."""
    import pyarrow.parquet as pq
    from moto.s3.models import s3_backends
    from moto.sagemaker.models import sagemaker_backends

    from feecast_twin.featurestore import (
        OfflineRow,
        _group_view,
        offline_object_key,
        offline_table,
        split_s3_uri,
    )

    backend = sagemaker_backends[twin.account_id][twin.region]
    (group,) = [
        g for g in backend.feature_groups.values() if g.feature_group_name.endswith("fee-minutes")
    ]
    view = _group_view(group, twin.account_id, twin.region)
    assert view.offline_uri is not None
    bucket, prefix = split_s3_uri(view.offline_uri)
    s3 = s3_backends[twin.account_id]["global"]
    start = end - timedelta(days=DAYS)
    files = 0
    hour = start
    while hour < end:
        per_file = 60 // per_hour
        for f in range(per_hour):
            rows = []
            for m in range(f * per_file, (f + 1) * per_file):
                minute = hour + timedelta(minutes=m)
                stamp = minute.strftime("%Y-%m-%dT%H:%M:00Z")
                fee = 20.0 + (m % 17)
                values = {
                    RECORD_ID: stamp,
                    COUNT: "5",
                    TOTAL_FEE: str(fee * 5),
                    AVG_FEE: str(fee),
                    EVENT_TIME: stamp,
                }
                rows.append(OfflineRow(view, values, minute, minute + timedelta(seconds=61)))
            buffer = io.BytesIO()
            pq.write_table(offline_table(view, rows, rows[-1].event_time), buffer)
            key = offline_object_key(prefix, hour, rows[-1].event_time)
            s3.put_object(bucket, key, buffer.getvalue())
            files += 1
        hour += timedelta(hours=1)
    return files


def _read(
    twin: Any, end: datetime, concurrency: int, latency: float, days: float
) -> tuple[float, Any]:
    from feecast.adapters import feature_history
    from feecast.adapters.feature_history import FeatureHistoryReader

    feature_history._FILE_ROWS.clear()  # a cold container: nothing cached
    s3 = twin._session.client("s3", region_name=twin.region)
    if latency:
        s3.meta.events.register("after-call.s3.GetObject", lambda **_: time.sleep(latency))
    reader = FeatureHistoryReader(
        sagemaker=twin.client("sagemaker"),
        s3=s3,
        featurestore=twin.client("sagemaker-featurestore-runtime"),
        concurrency=concurrency,
    )
    started = time.perf_counter()
    history = reader.read("feecast-fee-minutes", end - timedelta(days=days), end, AVG_FEE)
    return time.perf_counter() - started, history


def main() -> dict[str, Any]:
    from feecast.adapters.feature_history import DEFAULT_CONCURRENCY

    from feecast_twin import Twin

    end = datetime(2026, 1, 19, tzinfo=UTC)
    measurements = []
    details: dict[str, Any] = {"latency_s": LATENCY_S, "concurrency": DEFAULT_CONCURRENCY}
    for label, per_hour in CASES.items():
        overrides = {"IngestScheduleState": "DISABLED"}
        with Twin(parameter_overrides=overrides, start=end, components=["featurestore"]) as twin:
            written = _write_files(twin, per_hour, end)
            rows: dict[str, Any] = {"files": written}
            # The twin as is only for the small case: in-process moto's own CPU dominates it.
            kinds = (
                [(LATENCY_S, "S3-like")]
                if per_hour == 60
                else [(0.0, "twin"), (LATENCY_S, "S3-like")]
            )
            for latency, kind in kinds:
                conc_s, history = _read(twin, end, DEFAULT_CONCURRENCY, latency, DAYS)
                assert history.offline_files == written, (history.offline_files, written)
                assert history.series.observed_count == DAYS * 1440
                if written > SAMPLE:
                    # Time the first SAMPLE files' hours sequentially, scale to all files.
                    sample_days = DAYS * SAMPLE / written
                    part_s, part = _read(twin, end, 1, latency, sample_days)
                    seq_s, scaled = part_s * written / part.offline_files, True
                else:
                    seq_s, _ = _read(twin, end, 1, latency, DAYS)
                    scaled = False
                rows[kind] = {"sequential_s": seq_s, "concurrent_s": conc_s, "scaled": scaled}
                note = f"{written:,} files, {DEFAULT_CONCURRENCY} in flight" + (
                    f", +{LATENCY_S * 1000:.0f} ms per GetObject" if latency else ", moto as is"
                )
                measurements.append(
                    measurement(
                        f"{label} {kind}: sequential",
                        seq_s,
                        "s",
                        note=note + (" (scaled from a sample)" if scaled else ""),
                    )
                )
                goal = {"below": BUDGET_S / 2} if latency and per_hour == 60 else {}
                measurements.append(
                    measurement(f"{label} {kind}: concurrent", conc_s, "s", note=note, **goal)
                )
                measurements.append(
                    measurement(f"{label} {kind}: speed-up", seq_s / conc_s, "x", digits=1)
                )
            details[label] = rows
    return result(
        "offline_read",
        "Offline-store read of 14 days (build): sequential vs concurrent GetObject",
        measurements,
        details,
    )


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
