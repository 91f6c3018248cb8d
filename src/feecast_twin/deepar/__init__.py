"""A local stand-in for SageMaker's built-in DeepAR algorithm (forecasting-deepar:1).

It speaks the algorithm's contract (deepar.html, deepar-in-formats.html): JSON Lines channels
"train" and "test", hyperparameters as strings, model.tar.gz, the real-time request/response
format and the batch transform format with DEEPAR_INFERENCE_CONFIG. The network is GluonTS's
DeepAR on torch, imported lazily (about 5 s): importing this package, parsing hyperparameters
and formatting requests never imports gluonts or torch.

Public entry points:
    parse_hyperparameters(dict[str, str]) -> DeepARSettings      (hyperparameters.py)
    read_channel(name, [(key, bytes)]) -> list[SeriesRecord]      (data.py)
    run_training(channels, hyperparameters) -> TrainingResult     (training.py)
    load_model(model_tar_bytes) -> LocalDeepARModel               (training.py)
    invoke(forecaster, body) / batch_transform(forecaster, ...)   (inference.py)
"""

from feecast_twin.deepar.data import SeriesRecord, read_channel
from feecast_twin.deepar.errors import AlgorithmError, ClientError, InferenceError
from feecast_twin.deepar.hyperparameters import DeepARSettings, parse_hyperparameters
from feecast_twin.deepar.inference import (
    DEFAULT_INFERENCE_CONFIG,
    Forecaster,
    InferenceConfig,
    batch_transform,
    invoke,
)
from feecast_twin.deepar.training import TrainingResult, load_model, run_training

__all__ = [
    "DEFAULT_INFERENCE_CONFIG",
    "AlgorithmError",
    "ClientError",
    "DeepARSettings",
    "Forecaster",
    "InferenceConfig",
    "InferenceError",
    "SeriesRecord",
    "TrainingResult",
    "batch_transform",
    "invoke",
    "load_model",
    "parse_hyperparameters",
    "read_channel",
    "run_training",
]
