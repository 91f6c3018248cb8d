"""Tiny local DeepAR models for the tests that deploy or monitor one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
from feecast.deepar import to_jsonl
from feecast.series import MinuteSeries

# Small enough to train in seconds of CPU; the tests need a servable model, not a good one.
TINY = {
    "prediction_length": "30",
    "context_length": "30",
    "time_freq": "1min",
    "epochs": "1",
    "mini_batch_size": "16",
    "num_cells": "8",
    "num_layers": "1",
}


def tiny_model_tar(start: datetime, values: Sequence[float], **hyperparameters: str) -> bytes:
    """model.tar.gz of a local DeepAR trained on one per-minute series from `start`
    (TINY's hyperparameters, with `hyperparameters` over them)."""
    from feecast_twin.deepar import run_training  # PyTorch: only when a test trains

    series = MinuteSeries(start, np.asarray(values, dtype=float))
    channel = [("train.json", to_jsonl([series]).encode())]
    return bytes(run_training({"train": channel}, TINY | hyperparameters).model_tar)
