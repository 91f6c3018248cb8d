"""DeepAR inference formats: the real-time request/response and the batch transform lines.

Real-time (Content-Type application/json):
    {"instances": [{"start", "target", "cat"?, "dynamic_feat"?}, ...],
     "configuration": {"num_samples", "output_types": ["mean", "quantiles", "samples"],
                       "quantiles": ["0.1", ...]}}
 -> {"predictions": [{"mean": [...], "quantiles": {"0.1": [...]}, "samples": [[...]]}, ...]}
Batch: one JSON line per input line, same order, no "predictions" wrapper; the configuration
comes from the job's DEEPAR_INFERENCE_CONFIG environment variable.

The forecast of an instance starts right after its last target point. Mean and quantiles are
computed from the sample paths, as DeepAR does. Works with any `Forecaster` (the GluonTS model,
or a stub in unit tests); nothing here imports gluonts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from feecast_twin.deepar.data import SeriesRecord, parse_json_lines, parse_record
from feecast_twin.deepar.errors import ClientError, InferenceError

OUTPUT_TYPES = ("mean", "quantiles", "samples")
DEFAULT_QUANTILES = ("0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9")
DEFAULT_INFERENCE_CONFIG: dict[str, Any] = {
    "num_samples": 100,
    "output_types": ["mean", "quantiles"],
    "quantiles": list(DEFAULT_QUANTILES),
}
MAX_NUM_SAMPLES = 10_000


class Forecaster(Protocol):
    """What serves forecasts: the trained model (training.LocalDeepARModel) or a test stub."""

    prediction_length: int

    def predict_samples(
        self, records: Sequence[SeriesRecord], num_samples: int
    ) -> list[npt.NDArray[np.float64]]:
        """One (num_samples, prediction_length) array per record, in order."""
        ...


@dataclass(frozen=True)
class InferenceConfig:
    num_samples: int = 100
    output_types: tuple[str, ...] = ("mean", "quantiles")
    quantiles: tuple[str, ...] = DEFAULT_QUANTILES

    @classmethod
    def parse(cls, raw: object) -> InferenceConfig:
        """Validate a "configuration" object; missing keys take DeepAR's defaults."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise InferenceError("configuration must be a JSON object")
        unknown = sorted(set(raw) - {"num_samples", "output_types", "quantiles", "encoding"})
        if unknown:
            raise InferenceError(f"configuration has unknown keys {unknown}")
        num_samples = raw.get("num_samples", 100)
        if (
            isinstance(num_samples, bool)
            or not isinstance(num_samples, int)
            or not 1 <= num_samples <= MAX_NUM_SAMPLES
        ):
            raise InferenceError(
                f"configuration.num_samples={num_samples!r} must be an integer between 1 and "
                f"{MAX_NUM_SAMPLES}"
            )
        output_types = raw.get("output_types", ["mean", "quantiles"])
        if (
            not isinstance(output_types, list)
            or not output_types
            or any(t not in OUTPUT_TYPES for t in output_types)
        ):
            raise InferenceError(
                f"configuration.output_types={output_types!r} must be a non-empty list of "
                f"{list(OUTPUT_TYPES)}"
            )
        quantiles = raw.get("quantiles", list(DEFAULT_QUANTILES))
        if not isinstance(quantiles, list):
            raise InferenceError('configuration.quantiles must be a list such as ["0.1", "0.9"]')
        keys = []
        for q in quantiles:
            try:
                level = float(q)
            except (TypeError, ValueError):
                level = math.nan
            if isinstance(q, bool) or not 0.0 < level < 1.0:
                raise InferenceError(
                    f"configuration.quantiles: {q!r} must be a number strictly between 0 and 1"
                )
            # DeepAR echoes the quantile as the caller wrote it (a string key).
            keys.append(q if isinstance(q, str) else str(q))
        if "quantiles" in output_types and not keys:
            raise InferenceError('output_types includes "quantiles" but quantiles is empty')
        return cls(num_samples, tuple(dict.fromkeys(output_types)), tuple(keys))


def _finite(values: npt.NDArray[np.float64]) -> list[float]:
    return [float(v) for v in values]


def forecast_output(samples: npt.NDArray[np.float64], config: InferenceConfig) -> dict[str, Any]:
    """One prediction object from a (num_samples, prediction_length) sample array."""
    out: dict[str, Any] = {}
    for kind in config.output_types:
        if kind == "mean":
            out["mean"] = _finite(samples.mean(axis=0))
        elif kind == "quantiles":
            out["quantiles"] = {
                q: _finite(np.quantile(samples, float(q), axis=0)) for q in config.quantiles
            }
        elif kind == "samples":
            out["samples"] = [_finite(row) for row in samples]
    return out


def _instances(raw: object, where: str) -> list[SeriesRecord]:
    if not isinstance(raw, list) or not raw:
        raise InferenceError(f"{where}: 'instances' must be a non-empty list")
    records = []
    for i, obj in enumerate(raw):
        try:
            records.append(parse_record(obj, f"instances[{i}]"))
        except ClientError as exc:
            raise InferenceError(str(exc)) from None
    return records


def _predict(
    forecaster: Forecaster, records: Sequence[SeriesRecord], config: InferenceConfig
) -> list[dict[str, Any]]:
    for i, record in enumerate(records):
        if record.observed == 0:
            raise InferenceError(f"instances[{i}] has no observed target value to forecast from")
    paths = forecaster.predict_samples(records, config.num_samples)
    return [forecast_output(np.asarray(p, dtype=np.float64), config) for p in paths]


def invoke(
    forecaster: Forecaster, body: bytes | str, content_type: str = "application/json"
) -> bytes:
    """Answer one InvokeEndpoint request; InferenceError (HTTP 400 from the model) if invalid."""
    ctype = (content_type or "application/json").split(";")[0].strip().lower()
    if ctype not in ("application/json", "application/jsonlines", "application/x-jsonlines"):
        raise InferenceError(
            f"Content type {content_type!r} is not supported; use application/json"
        )
    try:
        request = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InferenceError(f"request body is not valid JSON ({exc})") from None
    if not isinstance(request, Mapping):
        raise InferenceError("request body must be a JSON object with 'instances'")
    config = InferenceConfig.parse(request.get("configuration"))
    records = _instances(request.get("instances"), "request")
    predictions = _predict(forecaster, records, config)
    return json.dumps({"predictions": predictions}).encode("utf-8")


def batch_config(environment: Mapping[str, str] | None) -> InferenceConfig:
    """The job-wide configuration from DEEPAR_INFERENCE_CONFIG (JSON string) or the defaults."""
    raw = (environment or {}).get("DEEPAR_INFERENCE_CONFIG")
    if raw is None or not str(raw).strip():
        return InferenceConfig()
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ClientError(f"DEEPAR_INFERENCE_CONFIG is not valid JSON ({exc.msg})") from None
    try:
        return InferenceConfig.parse(parsed)
    except InferenceError as exc:
        raise ClientError(f"DEEPAR_INFERENCE_CONFIG: {exc}") from None


def batch_transform(
    forecaster: Forecaster,
    data: bytes,
    environment: Mapping[str, str] | None = None,
    *,
    source: str = "input",
) -> bytes:
    """One output JSON line per non-empty input line, same order (AssembleWith=Line)."""
    config = batch_config(environment)
    # SplitType=Line drops empty records, as the training channel reader does.
    records = parse_json_lines(data.decode("utf-8"), source)
    if not records:
        return b""
    try:
        predictions = _predict(forecaster, records, config)
    except InferenceError as exc:
        raise ClientError(f"{source}: {exc}") from None
    return "".join(json.dumps(p) + "\n" for p in predictions).encode("utf-8")
