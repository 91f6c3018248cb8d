"""SageMaker DeepAR formats: training JSON Lines, trainability checks, inference and batch I/O.

The contract (docs: deepar-in-formats.html, summarised in the reference deepar.md):
- a record is {"start": "YYYY-MM-DD HH:MM:SS", "target": [...]}, start without time zone (UTC
  here), missing points written as "NaN" rather than dropped;
- the test channel holds the full series, the train channel the same minus the last
  prediction_length points; the job scores the held-out tail;
- DeepAR rejects all-zero series and needs at least 300 observations.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from feecast.deepar_spec import DEEPAR_MIN_OBSERVATIONS, quantile_key
from feecast.features import dynamic_features
from feecast.series import MINUTE, MinuteSeries

__all__ = [
    "DEEPAR_MIN_OBSERVATIONS",
    "OUTPUT_TYPES",
    "Channels",
    "Forecast",
    "FormatError",
    "GapReport",
    "SeriesRejected",
    "build_channels",
    "check_trainable",
    "from_jsonl",
    "from_record",
    "gap_report",
    "inference_config",
    "inference_request",
    "parse_batch_output",
    "parse_endpoint_response",
    "parse_forecast",
    "quantile_key",
    "to_jsonl",
    "to_record",
    "train_test_split",
]

OUTPUT_TYPES = ("mean", "quantiles", "samples")
START_FORMAT = "%Y-%m-%d %H:%M:%S"

FloatArray = npt.NDArray[np.float64]


class FormatError(ValueError):
    """A DeepAR record, JSON line or response that does not follow the format."""


# -- quantile keys --------------------------------------------------------------------------
# quantile_key lives in feecast.deepar_spec (numpy-free, for feecast.config); re-exported here.


def _quantile_keys(quantiles: Iterable[float | str]) -> list[str]:
    keys = [quantile_key(q) for q in quantiles]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate quantiles in {keys}")
    return keys


# -- training records -----------------------------------------------------------------------
def to_record(
    series: MinuteSeries, *, dynamic_feat: Sequence[Sequence[float]] | None = None
) -> dict[str, Any]:
    """The DeepAR JSON object for one series; missing minutes are the string "NaN".

    `dynamic_feat` (feecast.features) is written as given: for training each row has as many
    values as the target, for inference len(target) + prediction_length (the caller's rule).
    """
    target: list[float | str] = ["NaN" if math.isnan(v) else v for v in series.values.tolist()]
    record: dict[str, Any] = {"start": series.start.strftime(START_FORMAT), "target": target}
    if dynamic_feat:
        rows = [list(row) for row in dynamic_feat]
        if any(not math.isfinite(v) for row in rows for v in row):
            raise ValueError("dynamic_feat must be finite: DeepAR does not accept missing features")
        record["dynamic_feat"] = rows
    return record


def _parse_start(raw: object) -> datetime:
    if not isinstance(raw, str):
        raise FormatError(f'"start" must be a string "YYYY-MM-DD HH:MM:SS", got {raw!r}')
    try:
        ts = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise FormatError(f'"start" {raw!r} is not "YYYY-MM-DD HH:MM:SS"') from None
    # DeepAR starts carry no zone; this project writes them in UTC.
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    if ts.second or ts.microsecond:
        raise FormatError(f'"start" {raw!r} is not on a minute boundary')
    return ts


def _parse_number(raw: object, where: str) -> float:
    if raw is None:
        return math.nan
    if isinstance(raw, str):
        if raw.strip().lower() == "nan":
            return math.nan
        raise FormatError(f'{where} is the string {raw!r}; only "NaN" is allowed as a string')
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise FormatError(f"{where} is not a number: {raw!r}")
    value = float(raw)
    if math.isinf(value):
        raise FormatError(f"{where} is infinite")
    return value


def from_record(record: Mapping[str, Any]) -> MinuteSeries:
    """Parse a DeepAR object; "NaN", null and NaN are missing; start without zone is UTC.

    Other DeepAR fields ("cat", "dynamic_feat") are ignored: this project does not use them.
    """
    if not isinstance(record, Mapping):
        raise FormatError(f"a record must be a JSON object, got {type(record).__name__}")
    for key in ("start", "target"):
        if key not in record:
            raise FormatError(f'record has no "{key}"')
    start = _parse_start(record["start"])
    target = record["target"]
    if not isinstance(target, list):
        raise FormatError(f'"target" must be a list, got {type(target).__name__}')
    values = np.array(
        [_parse_number(v, f"target[{i}]") for i, v in enumerate(target)], dtype=np.float64
    )
    return MinuteSeries(start, values)


def to_jsonl(
    series_list: Sequence[MinuteSeries], *, features: Sequence[str] = (), horizon: int = 0
) -> str:
    """One JSON object per line, each line ending with a newline ("" for no series).

    `features`: feecast.features names written as `dynamic_feat`, covering each series plus
    `horizon` minutes after it (0 for training channels, prediction_length for inference).
    """
    if isinstance(series_list, MinuteSeries):
        # A MinuteSeries is itself indexable; iterating it would write floats, not records.
        raise TypeError("to_jsonl takes a list of MinuteSeries; wrap a single series in [ ]")
    lines = []
    for s in series_list:
        dyn = dynamic_features(s.start, len(s) + horizon, features) if features else None
        lines.append(json.dumps(to_record(s, dynamic_feat=dyn), allow_nan=False) + "\n")
    return "".join(lines)


_T = TypeVar("_T")


def _parse_lines(text: str | bytes, parse: Callable[[Any], _T]) -> list[_T]:
    """`parse` each non-blank JSON line; any error is a FormatError naming the 1-based line."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    out: list[_T] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FormatError(f"line {number}: not valid JSON ({exc.msg})") from None
        try:
            out.append(parse(obj))
        except ValueError as exc:
            raise FormatError(f"line {number}: {exc}") from None
    return out


def from_jsonl(text: str | bytes) -> list[MinuteSeries]:
    """Parse DeepAR JSON Lines (blank lines skipped); errors name the 1-based line."""
    return _parse_lines(text, from_record)


# -- channels -------------------------------------------------------------------------------
def train_test_split(
    series: MinuteSeries, prediction_length: int
) -> tuple[MinuteSeries, MinuteSeries]:
    """(train, test): test is the full series, train the same minus its last prediction_length."""
    if prediction_length < 1:
        raise ValueError(f"prediction_length must be >= 1, got {prediction_length}")
    if len(series) <= prediction_length:
        raise ValueError(
            f"series of {len(series)} minutes is not longer than prediction_length "
            f"{prediction_length}: nothing would be left to train on"
        )
    return series.drop_last(prediction_length), series


class SeriesRejected(ValueError):
    """The series cannot be used to train DeepAR. `.reason` says why, `.code` is stable."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def check_trainable(
    series: MinuteSeries,
    *,
    prediction_length: int,
    min_points: int = DEEPAR_MIN_OBSERVATIONS,
    holdout_required: bool = True,
) -> None:
    """Raise SeriesRejected unless DeepAR can train on the series and score the held-out tail.

    Codes: "too_short", "all_missing", "all_zero", "holdout_missing" (only when
    holdout_required: a build scores its backtest windows instead). Observed points are
    counted in the train part, because that is what DeepAR fits on.
    """
    if prediction_length < 1:
        raise ValueError(f"prediction_length must be >= 1, got {prediction_length}")
    if min_points < 1:
        raise ValueError(f"min_points must be >= 1, got {min_points}")
    if series.observed_count == 0:
        raise SeriesRejected("all_missing", f"all {len(series)} minutes are missing")
    if len(series) <= prediction_length:
        raise SeriesRejected(
            "too_short",
            f"series has {len(series)} minutes; it must be longer than prediction_length "
            f"{prediction_length} to keep a held-out window",
        )
    train = series.drop_last(prediction_length)
    train_values = train.values[~np.isnan(train.values)]
    if train_values.size and not np.any(train_values):
        raise SeriesRejected(
            "all_zero",
            f"every observed value of the train part ({train_values.size} points) is 0; "
            "DeepAR rejects all-zero series",
        )
    if train_values.size < min_points:
        raise SeriesRejected(
            "too_short",
            f"train part has {train_values.size} observed points "
            f"({train.missing_count} of {len(train)} minutes missing); "
            f"at least {min_points} are needed",
        )
    holdout = series.tail(prediction_length)
    if holdout_required and holdout.observed_count == 0:
        raise SeriesRejected(
            "holdout_missing",
            f"the held-out last {prediction_length} minutes are all missing "
            f"(from {holdout.start:%Y-%m-%d %H:%M}Z): nothing to evaluate against",
        )


@dataclass(frozen=True)
class GapReport:
    """Missing minutes of a series, for logs and notifications."""

    total: int
    missing: int
    gap_count: int
    longest_gap: int  # minutes
    longest_gap_start: datetime | None

    @property
    def observed(self) -> int:
        return self.total - self.missing

    @property
    def fraction_missing(self) -> float:
        return self.missing / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "missing": self.missing,
            "observed": self.observed,
            "fraction_missing": self.fraction_missing,
            "gap_count": self.gap_count,
            "longest_gap": self.longest_gap,
            "longest_gap_start": (
                None
                if self.longest_gap_start is None
                else self.longest_gap_start.strftime("%Y-%m-%dT%H:%M:%SZ")
            ),
        }


def gap_report(series: MinuteSeries) -> GapReport:
    """Count missing minutes and find the runs of consecutive missing minutes."""
    missing = np.isnan(series.values).astype(np.int8)
    # Run boundaries: +1 where a gap starts, -1 just after it ends.
    edges = np.diff(np.concatenate(([0], missing, [0])))
    starts = np.flatnonzero(edges == 1)
    lengths = np.flatnonzero(edges == -1) - starts
    if lengths.size == 0:
        return GapReport(len(series), 0, 0, 0, None)
    longest = int(np.argmax(lengths))
    return GapReport(
        total=len(series),
        missing=int(missing.sum()),
        gap_count=int(lengths.size),
        longest_gap=int(lengths[longest]),
        longest_gap_start=series.start + int(starts[longest]) * MINUTE,
    )


@dataclass(frozen=True)
class Channels:
    """What the data preparation step writes: the train and test channels and the gap report."""

    train: MinuteSeries
    test: MinuteSeries
    gaps: GapReport
    train_jsonl: str = field(repr=False)
    test_jsonl: str = field(repr=False)


def build_channels(
    series: MinuteSeries,
    prediction_length: int,
    min_points: int = DEEPAR_MIN_OBSERVATIONS,
    *,
    features: Sequence[str] = (),
    holdout_required: bool = True,
) -> Channels:
    """Check the series (SeriesRejected if unusable), split it and render both channels.

    `features` (feecast.features names) adds `dynamic_feat` to both channels.
    """
    check_trainable(
        series,
        prediction_length=prediction_length,
        min_points=min_points,
        holdout_required=holdout_required,
    )
    train, test = train_test_split(series, prediction_length)
    return Channels(
        train=train,
        test=test,
        gaps=gap_report(series),
        train_jsonl=to_jsonl([train], features=features),
        test_jsonl=to_jsonl([test], features=features),
    )


# -- inference ------------------------------------------------------------------------------
def inference_config(
    *,
    num_samples: int,
    quantiles: Sequence[float | str],
    output_types: Sequence[str] = ("mean", "quantiles"),
) -> dict[str, Any]:
    """The "configuration" object (also the DEEPAR_INFERENCE_CONFIG of a batch transform)."""
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be an integer >= 1, got {num_samples!r}")
    if isinstance(output_types, str):
        raise TypeError('output_types must be a sequence such as ("mean", "quantiles")')
    unknown = [t for t in output_types if t not in OUTPUT_TYPES]
    if unknown or not output_types:
        raise ValueError(
            f"output_types {list(output_types)} must be a non-empty subset of {OUTPUT_TYPES}"
        )
    keys = _quantile_keys(quantiles)
    if "quantiles" in output_types and not keys:
        raise ValueError('output_types includes "quantiles" but no quantiles were given')
    return {"num_samples": num_samples, "output_types": list(output_types), "quantiles": keys}


def inference_request(
    series_list: Sequence[MinuteSeries],
    *,
    num_samples: int,
    quantiles: Sequence[float | str],
    output_types: Sequence[str] = ("mean", "quantiles"),
    features: Sequence[str] = (),
    prediction_length: int = 0,
) -> dict[str, Any]:
    """The JSON body for a DeepAR endpoint (application/json): instances + configuration.

    A model trained with `dynamic_feat` needs them in every instance, covering the target and
    the `prediction_length` minutes to forecast: pass the model's `features` and horizon.
    """
    if features and prediction_length < 1:
        raise ValueError("features need the prediction_length they must cover")
    if isinstance(series_list, MinuteSeries):
        raise TypeError("inference_request takes a list of MinuteSeries; wrap one in [ ]")
    if not series_list:
        raise ValueError("inference_request needs at least one series")
    for i, s in enumerate(series_list):
        if s.observed_count == 0:
            raise ValueError(f"series {i} has no observed value to forecast from")
    return {
        "instances": [
            to_record(
                s,
                dynamic_feat=(
                    dynamic_features(s.start, len(s) + prediction_length, features)
                    if features
                    else None
                ),
            )
            for s in series_list
        ],
        "configuration": inference_config(
            num_samples=num_samples, quantiles=quantiles, output_types=output_types
        ),
    }


def _vector(raw: object, what: str) -> FloatArray:
    if not isinstance(raw, list | tuple | np.ndarray):
        raise FormatError(f"{what} must be a list of numbers, got {type(raw).__name__}")
    try:
        arr = np.array(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise FormatError(f"{what} must be a list of numbers") from None
    if arr.ndim != 1:
        raise FormatError(f"{what} must be one list of numbers, got shape {arr.shape}")
    return arr


@dataclass(frozen=True, eq=False)
class Forecast:
    """One series' forecast: mean, quantiles keyed by canonical level ("0.5"), optional samples.

    Every array has the same length (the prediction length); samples are (num_samples, length).
    """

    mean: FloatArray
    quantiles: dict[str, FloatArray] = field(default_factory=dict)
    samples: FloatArray | None = None

    def __post_init__(self) -> None:
        mean = _vector(self.mean, "mean")
        length = mean.shape[0]
        quantiles: dict[str, FloatArray] = {}
        for raw_key, raw in self.quantiles.items():
            key = quantile_key(raw_key)
            if key in quantiles:
                raise FormatError(f"quantile {raw_key!r} given twice (as {key!r})")
            arr = _vector(raw, f"quantile {key}")
            if arr.shape[0] != length:
                raise FormatError(f"quantile {key} has {arr.shape[0]} values but mean has {length}")
            quantiles[key] = arr
        samples = None
        if self.samples is not None:
            samples = np.array(self.samples, dtype=np.float64)
            if samples.ndim != 2 or samples.shape[1] != length:
                raise FormatError(
                    f"samples must be (num_samples, {length}), got shape {samples.shape}"
                )
        # Ordered by level so iteration (and JSON output) is lower -> upper.
        ordered = dict(sorted(quantiles.items(), key=lambda kv: float(kv[0])))
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "quantiles", ordered)
        object.__setattr__(self, "samples", samples)

    def __len__(self) -> int:
        return int(self.mean.shape[0])

    @property
    def prediction_length(self) -> int:
        return len(self)

    def quantile(self, q: float | str) -> FloatArray:
        """The forecast for quantile q (KeyError naming the available ones if absent)."""
        key = quantile_key(q)
        if key not in self.quantiles:
            raise KeyError(f"quantile {key} not in forecast (has {list(self.quantiles)})")
        return self.quantiles[key]

    def to_dict(self) -> dict[str, Any]:
        """The DeepAR output shape (without samples unless present)."""
        out: dict[str, Any] = {
            "mean": self.mean.tolist(),
            "quantiles": {k: v.tolist() for k, v in self.quantiles.items()},
        }
        if self.samples is not None:
            out["samples"] = self.samples.tolist()
        return out


def parse_forecast(obj: Mapping[str, Any]) -> Forecast:
    """Parse one DeepAR prediction: an endpoint "predictions" item or a batch output line.

    When "mean" was not requested but "samples" were, the mean is the samples' mean.
    """
    if not isinstance(obj, Mapping):
        raise FormatError(f"a forecast must be a JSON object, got {type(obj).__name__}")
    samples = obj.get("samples")
    sample_arr = None
    if samples is not None:
        try:
            sample_arr = np.array(samples, dtype=np.float64)
        except (TypeError, ValueError):
            raise FormatError('"samples" must be a list of lists of numbers') from None
    if "mean" in obj:
        mean = _vector(obj["mean"], '"mean"')
    elif sample_arr is not None and sample_arr.ndim == 2 and sample_arr.shape[0] > 0:
        mean = sample_arr.mean(axis=0)
    else:
        raise FormatError('forecast has no "mean" (request output_types with "mean")')
    raw_quantiles = obj.get("quantiles", {})
    if not isinstance(raw_quantiles, Mapping):
        raise FormatError('"quantiles" must be an object {"0.5": [...]}')
    return Forecast(mean=mean, quantiles=dict(raw_quantiles), samples=sample_arr)


def parse_batch_output(text: str | bytes) -> list[Forecast]:
    """Parse a batch transform <input>.out: one forecast per non-blank line, in input order."""
    return _parse_lines(text, parse_forecast)


def parse_endpoint_response(body: Mapping[str, Any] | str | bytes) -> list[Forecast]:
    """Parse an endpoint response {"predictions": [...]} (dict or raw JSON text)."""
    if isinstance(body, str | bytes):
        try:
            body = json.loads(body)
        except json.JSONDecodeError as exc:
            raise FormatError(f"endpoint response is not valid JSON ({exc.msg})") from None
    if not isinstance(body, Mapping) or not isinstance(body.get("predictions"), list):
        raise FormatError('endpoint response must be an object with a "predictions" list')
    out: list[Forecast] = []
    for i, obj in enumerate(body["predictions"]):
        try:
            out.append(parse_forecast(obj))
        except ValueError as exc:
            raise FormatError(f"predictions[{i}]: {exc}") from None
    return out
