"""DeepAR input records: parse and check the channel files and inference instances.

A record is {"start": "YYYY-MM-DD HH:MM:SS", "target": [...], "cat": [...]?, "dynamic_feat":
[[...]]?}; a missing target point is null or "NaN". Files may be JSON Lines (optionally gzip'ed)
or Parquet, as DeepAR accepts. Everything here is numpy/pandas-free at import except where noted.
"""

from __future__ import annotations

import gzip
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from feecast_twin.deepar.errors import ClientError

FloatArray = npt.NDArray[np.float64]

MIN_OBSERVATIONS = 300  # DeepAR: "at least 300 observations" across the training data


@dataclass(frozen=True, eq=False)
class SeriesRecord:
    """One DeepAR series: `target[i]` is the value at `start + i * time_freq` (NaN = missing)."""

    start: datetime
    target: FloatArray
    cat: tuple[int, ...] | None = None
    dynamic_feat: FloatArray | None = None  # shape (num_features, length)

    @property
    def observed(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.target)))


def _parse_start(raw: object, where: str) -> datetime:
    if not isinstance(raw, str) or not raw.strip():
        raise ClientError(
            f"{where}: 'start' must be a timestamp string such as '2026-01-05 00:00:00'"
        )
    text = raw.strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ClientError(f"{where}: 'start'={raw!r} is not a 'YYYY-MM-DD HH:MM:SS' timestamp")


def _number(raw: object, where: str) -> float:
    # DeepAR accepts numbers, null and the string "NaN" for a missing point.
    if raw is None:
        return math.nan
    if isinstance(raw, bool):
        raise ClientError(f"{where}: {raw!r} is not a number")
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str) and raw.strip().lower() == "nan":
        return math.nan
    else:
        raise ClientError(f'{where}: {raw!r} is not a number, null or "NaN"')
    if math.isinf(value):
        raise ClientError(f"{where}: {raw!r} is not finite")
    return value


def parse_record(obj: object, where: str) -> SeriesRecord:
    """One record (a training line, a batch line or an inference instance)."""
    if not isinstance(obj, Mapping):
        raise ClientError(f"{where}: a record must be a JSON object, got {type(obj).__name__}")
    if "start" not in obj or "target" not in obj:
        missing = [k for k in ("start", "target") if k not in obj]
        raise ClientError(f"{where}: missing field(s) {missing}")
    start = _parse_start(obj["start"], where)
    raw_target = obj["target"]
    if not isinstance(raw_target, list | tuple) or len(raw_target) == 0:
        raise ClientError(f"{where}: 'target' must be a non-empty list of numbers")
    target = np.array(
        [_number(v, f"{where} target[{i}]") for i, v in enumerate(raw_target)], dtype=np.float64
    )
    cat = None
    if obj.get("cat") is not None:
        raw_cat = obj["cat"]
        if isinstance(raw_cat, int) and not isinstance(raw_cat, bool):
            raw_cat = [raw_cat]
        if not isinstance(raw_cat, list) or not all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in raw_cat
        ):
            raise ClientError(f"{where}: 'cat' must be a list of non-negative integers")
        cat = tuple(raw_cat)
    dynamic_feat = None
    if obj.get("dynamic_feat") is not None:
        raw_dyn = obj["dynamic_feat"]
        if not isinstance(raw_dyn, list) or not all(isinstance(r, list) for r in raw_dyn):
            raise ClientError(f"{where}: 'dynamic_feat' must be a list of lists of numbers")
        rows = []
        for j, row in enumerate(raw_dyn):
            values = [_number(v, f"{where} dynamic_feat[{j}][{i}]") for i, v in enumerate(row)]
            if any(math.isnan(v) for v in values):
                raise ClientError(f"{where}: dynamic_feat[{j}] has missing values (not allowed)")
            rows.append(values)
        if len({len(r) for r in rows}) > 1:
            raise ClientError(f"{where}: every dynamic_feat row must have the same length")
        dynamic_feat = np.array(rows, dtype=np.float64)
    return SeriesRecord(start=start, target=target, cat=cat, dynamic_feat=dynamic_feat)


def parse_json_lines(text: str, source: str) -> list[SeriesRecord]:
    records = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source} line {lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ClientError(
                f"{where}: malformed JSON ({exc.msg} at column {exc.colno})"
            ) from None
        records.append(parse_record(obj, where))
    return records


def _parquet_records(data: bytes, source: str) -> list[SeriesRecord]:
    import pandas as pd  # only for Parquet channels

    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises many types for a corrupt file
        raise ClientError(f"{source}: unreadable Parquet file ({exc})") from None
    records = []
    for i, row in enumerate(frame.to_dict(orient="records")):
        obj: dict[str, Any] = {}
        for key, value in row.items():
            obj[key] = value.tolist() if hasattr(value, "tolist") else value
        if isinstance(obj.get("start"), datetime):
            obj["start"] = obj["start"].strftime("%Y-%m-%d %H:%M:%S")
        records.append(parse_record(obj, f"{source} row {i}"))
    return records


def decode_file(key: str, data: bytes) -> list[SeriesRecord]:
    """Records of one object of a channel (JSON Lines, .gz JSON Lines, or Parquet)."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ClientError(f"{key}: corrupt gzip file ({exc})") from None
    if data[:4] == b"PAR1":
        return _parquet_records(data, key)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClientError(f"{key}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_json_lines(text, key)


def read_channel(name: str, files: Iterable[tuple[str, bytes]]) -> list[SeriesRecord]:
    """Every record of a channel, file by file in key order; ClientError if it holds none."""
    records: list[SeriesRecord] = []
    for key, data in sorted(files, key=lambda kv: kv[0]):
        records.extend(decode_file(key, data))
    if not records:
        raise ClientError(
            f"No data found in channel '{name}': the channel must hold at least one series"
        )
    return records


def check_training_data(
    train: Sequence[SeriesRecord], test: Sequence[SeriesRecord] | None, prediction_length: int
) -> None:
    """DeepAR's data rules: enough observations, no all-zero or empty series, test long enough."""
    for i, record in enumerate(train):
        observed = record.target[~np.isnan(record.target)]
        if observed.size == 0:
            raise ClientError(f"train series {i} has no observed value (every target is NaN)")
        if not np.any(observed != 0.0):
            raise ClientError(
                f"train series {i} is all zeros: DeepAR cannot learn from an all-zero series"
            )
    total = sum(r.observed for r in train)
    if total < MIN_OBSERVATIONS:
        raise ClientError(
            f"The training data has {total} observations; DeepAR needs at least "
            f"{MIN_OBSERVATIONS} observations in total"
        )
    for i, record in enumerate(test or ()):
        if len(record.target) <= prediction_length:
            raise ClientError(
                f"test series {i} has {len(record.target)} points; it must be longer than "
                f"prediction_length={prediction_length} (the last prediction_length points are scored)"
            )
    _check_features(train, "train")
    if test:
        # The test series are forecast like inference instances, with the features of training.
        _check_features(test, "test")
        widths = {
            channel: {0 if r.dynamic_feat is None else r.dynamic_feat.shape[0] for r in records}
            for channel, records in (("train", train), ("test", test))
        }
        if widths["train"] != widths["test"]:
            raise ClientError(
                f"test series have {sorted(widths['test'])} dynamic feature(s), train series "
                f"{sorted(widths['train'])}: both channels must carry the same features"
            )


def _check_features(records: Sequence[SeriesRecord], channel: str) -> None:
    has_cat = {r.cat is not None for r in records}
    if len(has_cat) > 1:
        raise ClientError(f"{channel}: either every series has 'cat' or none does")
    if True in has_cat and len({len(r.cat or ()) for r in records}) > 1:
        raise ClientError(f"{channel}: every series must have the same number of 'cat' values")
    has_dyn = {r.dynamic_feat is not None for r in records}
    if len(has_dyn) > 1:
        raise ClientError(f"{channel}: either every series has 'dynamic_feat' or none does")
    for i, r in enumerate(records):
        if r.dynamic_feat is not None and r.dynamic_feat.shape[1] != len(r.target):
            raise ClientError(
                f"{channel} series {i}: dynamic_feat has {r.dynamic_feat.shape[1]} points, "
                f"target has {len(r.target)} (they must match for training)"
            )
