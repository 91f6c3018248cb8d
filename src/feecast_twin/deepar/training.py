"""Train, evaluate, package and load the local DeepAR (GluonTS DeepAR on torch).

gluonts/torch/lightning are imported inside the functions that need them (~5 s the first time),
never at module import.

model.tar.gz layout (what `run_training` writes and `load_model` reads):
    predictor/                 PyTorchPredictor.serialize() output
    hyperparameters.json       the effective DeepAR settings and the raw strings
    model-info.json            format, feature layout (cat cardinality, dynamic features), metrics
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import tarfile
import tempfile
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from feecast_twin.deepar.data import SeriesRecord, check_training_data, read_channel
from feecast_twin.deepar.errors import AlgorithmError, ClientError, InferenceError
from feecast_twin.deepar.hyperparameters import DeepARSettings, parse_hyperparameters

MODEL_FORMAT = "feecast-local-deepar/1"
DEFAULT_SEED = 42
MIN_BATCHES_PER_EPOCH = 5
MAX_BATCHES_PER_EPOCH = 50

# One training at a time: seeding is process-global (torch, numpy), and the machine is small.
_TRAIN_LOCK = threading.Lock()
# torch intra-op threads while training. The twin trains in a process whose other threads
# (moto, the functions, the clock) want the CPU too; with torch's default (one per core) its
# OpenMP workers spin against them, and against any other load: measured on 2 busy cores, 20
# epochs x 5 batches took 70-150 s with 2 threads and 14-17 s with 1 (the networks are small,
# a second thread gains little even on an idle machine). FEECAST_TWIN_TRAINING_THREADS=0 keeps
# torch's default.
TRAINING_THREADS_ENV = "FEECAST_TWIN_TRAINING_THREADS"

Log = Callable[[str], None]


@dataclass(frozen=True)
class FeatureLayout:
    """Which optional DeepAR fields the model was trained with."""

    cardinality: tuple[int, ...] = ()
    num_dynamic_feat: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"cardinality": list(self.cardinality), "num_dynamic_feat": self.num_dynamic_feat}


@dataclass
class TrainingResult:
    model_tar: bytes
    metrics: dict[str, float]
    logs: list[str]
    settings: DeepARSettings
    model: LocalDeepARModel
    checkpoint_files: dict[str, bytes] = field(default_factory=dict)


def _quiet_lightning() -> None:
    """Silence the libraries' chatter (call after importing them: lightning sets its levels)."""
    for name in (
        "lightning",
        "lightning.pytorch",
        "lightning.fabric",
        "pytorch_lightning",
        "gluonts",
    ):
        logging.getLogger(name).setLevel(logging.ERROR)
    # Known, harmless warnings from gluonts 0.17 / lightning 2.6 on torch 2.13.
    for pattern in (
        r"Using `json`-module",
        r"Using a non-tuple sequence for multidimensional indexing",
        r"You defined a `validation_step` but have no `val_dataloader`",
        r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        r".*does not have many workers",
        r"dropout option adds dropout after all but last recurrent layer",
    ):
        warnings.filterwarnings("ignore", message=pattern)


def _likelihood(name: str) -> Any:
    from gluonts.torch.distributions import (
        BetaOutput,
        LaplaceOutput,
        NegativeBinomialOutput,
        NormalOutput,
        StudentTOutput,
    )

    outputs = {
        "student-T": StudentTOutput,
        "gaussian": NormalOutput,
        "negative-binomial": NegativeBinomialOutput,
        "beta": BetaOutput,
        # DeepAR's deterministic-L1 trains a point forecast with an L1 loss; the Laplace
        # likelihood has the same loss up to its scale, and still gives samples.
        "deterministic-L1": LaplaceOutput,
    }
    try:
        return outputs[name]()
    except KeyError:
        raise ClientError(f"likelihood {name!r} is not supported") from None


def feature_layout(settings: DeepARSettings, train: Sequence[SeriesRecord]) -> FeatureLayout:
    """The cat / dynamic_feat layout from the data and the cardinality / num_dynamic_feat rules."""
    cardinality: tuple[int, ...] = ()
    if settings.cardinality != "ignore" and train[0].cat is not None:
        width = len(train[0].cat)
        observed = tuple(max((r.cat or (0,) * width)[j] for r in train) + 1 for j in range(width))
        if isinstance(settings.cardinality, tuple):
            if len(settings.cardinality) != width:
                raise ClientError(
                    f"cardinality has {len(settings.cardinality)} entries but each series has "
                    f"{width} 'cat' values"
                )
            for j, (given, seen) in enumerate(zip(settings.cardinality, observed, strict=True)):
                if seen > given:
                    raise ClientError(
                        f"cat[{j}] takes value {seen - 1}, outside cardinality {given} (values "
                        f"must be 0..{given - 1})"
                    )
            cardinality = settings.cardinality
        else:
            cardinality = observed
    elif isinstance(settings.cardinality, tuple):
        raise ClientError("cardinality is given but the training series have no 'cat' field")
    num_dyn = 0
    if settings.num_dynamic_feat != "ignore" and train[0].dynamic_feat is not None:
        num_dyn = int(train[0].dynamic_feat.shape[0])
        if isinstance(settings.num_dynamic_feat, int) and settings.num_dynamic_feat != num_dyn:
            raise ClientError(
                f"num_dynamic_feat={settings.num_dynamic_feat} but the series have {num_dyn} "
                "dynamic features"
            )
    elif isinstance(settings.num_dynamic_feat, int) and settings.num_dynamic_feat > 0:
        raise ClientError("num_dynamic_feat is given but the series have no 'dynamic_feat' field")
    return FeatureLayout(cardinality, num_dyn)


def _entries(
    records: Sequence[SeriesRecord],
    freq: str,
    layout: FeatureLayout,
    *,
    horizon: int = 0,
    where: str = "instances",
) -> list[dict[str, Any]]:
    import pandas as pd

    entries = []
    for i, r in enumerate(records):
        entry: dict[str, Any] = {
            "start": pd.Period(r.start, freq=freq),
            "target": r.target.astype(np.float32),
        }
        if layout.cardinality:
            if r.cat is None or len(r.cat) != len(layout.cardinality):
                raise InferenceError(
                    f"{where}[{i}] needs 'cat' with {len(layout.cardinality)} values (the model "
                    "was trained with categories)"
                )
            if any(c >= n for c, n in zip(r.cat, layout.cardinality, strict=True)):
                raise InferenceError(
                    f"{where}[{i}] has a 'cat' value outside the trained cardinality"
                )
            entry["feat_static_cat"] = np.array(r.cat, dtype=np.int64)
        if layout.num_dynamic_feat:
            need = len(r.target) + horizon
            dyn = r.dynamic_feat
            if dyn is None or dyn.shape[0] != layout.num_dynamic_feat or dyn.shape[1] != need:
                raise InferenceError(
                    f"{where}[{i}] needs 'dynamic_feat' with {layout.num_dynamic_feat} rows of "
                    f"{need} values (target length + prediction_length)"
                )
            entry["feat_dynamic_real"] = dyn.astype(np.float32)
        entries.append(entry)
    return entries


class LocalDeepARModel:
    """A trained model: a GluonTS predictor plus the DeepAR settings it was trained with."""

    def __init__(self, predictor: Any, settings: dict[str, Any], layout: FeatureLayout) -> None:
        self.predictor = predictor
        self.settings = settings
        self.layout = layout
        self.prediction_length = int(settings["prediction_length"])
        self.freq = DeepARSettings(
            prediction_length=1, context_length=1, time_freq=settings["time_freq"], epochs=1
        ).pandas_freq
        self._lock = threading.Lock()

    def predict_samples(
        self, records: Sequence[SeriesRecord], num_samples: int
    ) -> list[npt.NDArray[np.float64]]:
        entries = _entries(records, self.freq, self.layout, horizon=self.prediction_length)
        with self._lock:  # the network is shared by every caller of this endpoint
            forecasts = list(self.predictor.predict(entries, num_samples=num_samples))
        out = []
        for fc in forecasts:
            samples = np.asarray(fc.samples, dtype=np.float64)[:num_samples]
            out.append(samples.reshape(num_samples, self.prediction_length))
        return out

    def save(self, directory: Path, metrics: Mapping[str, float] | None = None) -> None:
        (directory / "predictor").mkdir(parents=True, exist_ok=True)
        self.predictor.serialize(directory / "predictor")
        (directory / "hyperparameters.json").write_text(json.dumps(self.settings, indent=2))
        info = {"format": MODEL_FORMAT, **self.layout.to_json(), "metrics": dict(metrics or {})}
        (directory / "model-info.json").write_text(json.dumps(info, indent=2))

    @classmethod
    def load(cls, directory: Path) -> LocalDeepARModel:
        from gluonts.model.predictor import Predictor

        info_path = directory / "model-info.json"
        if not info_path.exists() or not (directory / "predictor").is_dir():
            raise ClientError(
                "model.tar.gz does not hold a DeepAR model (no model-info.json / predictor/)"
            )
        info = json.loads(info_path.read_text())
        if info.get("format") != MODEL_FORMAT:
            raise ClientError(f"model format {info.get('format')!r} is not {MODEL_FORMAT!r}")
        settings = json.loads((directory / "hyperparameters.json").read_text())
        _quiet_lightning()
        predictor = Predictor.deserialize(directory / "predictor")
        _quiet_lightning()
        layout = FeatureLayout(
            tuple(info.get("cardinality", ())), int(info.get("num_dynamic_feat", 0))
        )
        return cls(predictor, settings, layout)


def _tar_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=str(path.relative_to(directory)))
    return buffer.getvalue()


_MODEL_CACHE: OrderedDict[str, LocalDeepARModel] = OrderedDict()
_MODEL_CACHE_SIZE = 8
_CACHE_LOCK = threading.Lock()


def load_model(model_tar: bytes) -> LocalDeepARModel:
    """A model from model.tar.gz bytes (cached by content); ClientError if it is not one."""
    digest = hashlib.sha256(model_tar).hexdigest()
    with _CACHE_LOCK:
        if digest in _MODEL_CACHE:
            _MODEL_CACHE.move_to_end(digest)
            return _MODEL_CACHE[digest]
    with tempfile.TemporaryDirectory(prefix="feecast-deepar-") as tmp:
        root = Path(tmp)
        try:
            with tarfile.open(fileobj=io.BytesIO(model_tar), mode="r:*") as tar:
                tar.extractall(root, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ClientError(f"model data is not a readable model.tar.gz ({exc})") from None
        try:
            model = LocalDeepARModel.load(root)
        except ClientError:
            raise
        except Exception as exc:
            raise ClientError(
                f"model data could not be loaded ({type(exc).__name__}: {exc})"
            ) from None
    with _CACHE_LOCK:
        _MODEL_CACHE[digest] = model
        while len(_MODEL_CACHE) > _MODEL_CACHE_SIZE:
            _MODEL_CACHE.popitem(last=False)
    return model


@contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    """torch.set_num_threads(count) for the block (count <= 0: leave torch's setting)."""
    import torch

    before = torch.get_num_threads()
    if count > 0:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if count > 0:
            torch.set_num_threads(before)


def batches_per_epoch(settings: DeepARSettings, train: Sequence[SeriesRecord]) -> int:
    """Batches per epoch: about one pass over the training windows, kept between 5 and 50."""
    window = settings.context_length + settings.prediction_length
    windows = sum(max(1, math.ceil(len(r.target) / window)) for r in train)
    batches = math.ceil(windows / settings.mini_batch_size)
    return max(MIN_BATCHES_PER_EPOCH, min(MAX_BATCHES_PER_EPOCH, batches))


def evaluate(
    model: LocalDeepARModel, test: Sequence[SeriesRecord], settings: DeepARSettings
) -> tuple[dict[str, float], list[str]]:
    """DeepAR's test metrics on the last prediction_length points of each test series."""
    pl = settings.prediction_length
    contexts = []
    truths = []
    for r in test:
        dyn = r.dynamic_feat  # keeps the full length: the horizon's features are known
        contexts.append(SeriesRecord(r.start, r.target[:-pl], r.cat, dyn))
        truths.append(r.target[-pl:])
    paths = model.predict_samples(contexts, settings.num_eval_samples)
    y = np.concatenate(truths)
    mean = np.concatenate([p.mean(axis=0) for p in paths])
    observed = ~np.isnan(y)
    logs: list[str] = []
    metrics: dict[str, float] = {}
    if not observed.any():
        logs.append("#test_score: every test point is missing; no test metric is reported")
        return metrics, logs
    metrics["test:RMSE"] = float(np.sqrt(np.mean((mean[observed] - y[observed]) ** 2)))
    denominator = float(np.abs(y[observed]).sum())
    per_quantile = {}
    for tau in settings.test_quantiles:
        q = np.concatenate([np.quantile(p, tau, axis=0) for p in paths])
        diff = q[observed] - y[observed]
        loss = np.where(diff > 0, (1 - tau) * diff, -tau * diff).sum()
        per_quantile[tau] = 2.0 * float(loss) / denominator if denominator > 0 else math.nan
    for tau, value in per_quantile.items():
        logs.append(f"#test_score (algo-1, wQuantileLoss[{tau}]): {value}")
    if denominator > 0:
        metrics["test:mean_wQuantileLoss"] = float(np.mean(list(per_quantile.values())))
    else:
        logs.append(
            "#test_score: sum of |y| over the test horizon is 0, the weighted quantile loss is "
            "undefined and not reported"
        )
    return metrics, logs


def run_training(
    channels: Mapping[str, Sequence[tuple[str, bytes]]],
    hyperparameters: Mapping[str, str] | None,
    *,
    seed: int = DEFAULT_SEED,
    log: Log | None = None,
) -> TrainingResult:
    """Run one DeepAR training job on in-memory channel files.

    `channels` maps a channel name to its (key, bytes) files. Raises ClientError for bad input
    (the job's FailureReason) and AlgorithmError if the network fails on valid input.
    """
    logs: list[str] = []

    def emit(line: str) -> None:
        logs.append(line)
        if log is not None:
            log(line)

    settings = parse_hyperparameters(hyperparameters)
    unknown = sorted(set(channels) - {"train", "test"})
    if unknown:
        raise ClientError(f"Unknown channel(s) {unknown}: DeepAR accepts 'train' and 'test'")
    if "train" not in channels:
        raise ClientError("Missing required channel 'train'")
    train = read_channel("train", channels["train"])
    test = read_channel("test", channels["test"]) if "test" in channels else None
    check_training_data(train, test, settings.prediction_length)
    layout = feature_layout(settings, train)
    emit(f"Hyperparameters: {json.dumps(settings.to_json()['hyperparameters'], sort_keys=True)}")
    emit(
        f"Training data: {len(train)} series, {sum(r.observed for r in train)} observations"
        + (f"; test data: {len(test)} series" if test else "")
    )

    started = time.monotonic()
    with _TRAIN_LOCK:
        _quiet_lightning()
        import lightning.pytorch as pl
        from gluonts.torch import DeepAREstimator

        _quiet_lightning()
        pl.seed_everything(seed, workers=True, verbose=False)
        with (
            _torch_threads(int(os.environ.get(TRAINING_THREADS_ENV, "1") or 0)),
            tempfile.TemporaryDirectory(prefix="feecast-deepar-train-") as tmp,
        ):
            callbacks: list[Any] = []
            if settings.early_stopping_patience is not None:
                callbacks.append(
                    pl.callbacks.EarlyStopping(
                        monitor="train_loss", patience=settings.early_stopping_patience, mode="min"
                    )
                )
            n_batches = batches_per_epoch(settings, train)
            estimator = DeepAREstimator(
                freq=settings.pandas_freq,
                prediction_length=settings.prediction_length,
                context_length=settings.context_length,
                num_layers=settings.num_layers,
                hidden_size=settings.num_cells,
                lr=settings.learning_rate,
                dropout_rate=settings.dropout_rate,
                num_feat_static_cat=len(layout.cardinality),
                cardinality=list(layout.cardinality) or None,
                embedding_dimension=[settings.embedding_dimension] * len(layout.cardinality)
                or None,
                num_feat_dynamic_real=layout.num_dynamic_feat,
                distr_output=_likelihood(settings.likelihood),
                batch_size=settings.mini_batch_size,
                num_batches_per_epoch=n_batches,
                num_parallel_samples=100,
                trainer_kwargs={
                    "max_epochs": settings.epochs,
                    "accelerator": "cpu",
                    "enable_progress_bar": False,
                    "enable_model_summary": False,
                    "logger": False,
                    "default_root_dir": tmp,
                    "callbacks": callbacks,
                },
            )
            dataset = _entries(train, settings.pandas_freq, layout, where="train")
            emit(
                f"Training {settings.epochs} epoch(s) x {n_batches} batch(es) of {settings.mini_batch_size}"
            )
            try:
                output = estimator.train_model(dataset, cache_data=True)
            except ClientError:
                raise
            except Exception as exc:
                raise AlgorithmError(f"training failed ({type(exc).__name__}: {exc})") from exc
            final_loss = output.trainer.callback_metrics.get("train_loss")
            epochs_run = output.trainer.current_epoch
    metrics: dict[str, float] = {}
    if final_loss is not None and math.isfinite(float(final_loss)):
        metrics["train:final_loss"] = float(final_loss)
        emit(
            f"#quality_metric: host=algo-1, epoch={epochs_run}, train final_loss <loss>={float(final_loss)}"
        )
    emit(f"Training finished in {time.monotonic() - started:.1f}s after {epochs_run} epoch(s)")

    model = LocalDeepARModel(output.predictor, settings.to_json(), layout)
    if test:
        test_metrics, test_logs = evaluate(model, test, settings)
        for line in test_logs:
            emit(line)
        for name, value in test_metrics.items():
            emit(f"#test_score (algo-1, {name.split(':', 1)[1]}): {value}")
        metrics.update(test_metrics)

    with tempfile.TemporaryDirectory(prefix="feecast-deepar-model-") as tmp:
        root = Path(tmp)
        model.save(root, metrics)
        model_tar = _tar_directory(root)
        checkpoint = {
            str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
        }
    emit(f"Model written: model.tar.gz, {len(model_tar)} bytes")
    with _CACHE_LOCK:
        _MODEL_CACHE[hashlib.sha256(model_tar).hexdigest()] = model
    return TrainingResult(model_tar, metrics, logs, settings, model, checkpoint)
