"""Builds for tests of several suites: a build's requests as the state machine passes them between
steps, and the twin helpers that seed a build's data and parameters and start it (shared by
tests/integration/test_build_pipeline.py and tests/reliability/test_faults_build.py)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from feecast.adapters.state_table import StateTable
from feecast.adapters.stepfunctions import StepFunctionsExecutions
from feecast.build.register_model import RegisterRequest
from feecast.build.settings import StartBuildSettings
from feecast.build.start_build import BuildStart, TableBuildBackend, start_build
from feecast.feature_schema import AVG_FEE, COUNT, EVENT_TIME, FEATURES, RECORD_ID, TOTAL_FEE

EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:feecast-model-build:manual-x"
WINDOW = {
    "requested_start": "2026-01-03T12:00:00Z",
    "requested_end": "2026-01-05T12:00:00Z",
    "first_minute": "2026-01-03T12:00:00Z",
    "last_minute": "2026-01-05T11:59:00Z",
    "holdout_start": "2026-01-05T11:30:00Z",
    "points": 2880,
    "observed": 2875,
    "missing": 5,
    "gap_count": 2,
    "longest_gap_minutes": 3,
    "offline_points": 2860,
    "online_points": 15,
    "offline_last_minute": "2026-01-05T11:44:00Z",
}


def register_request(**evaluation: Any) -> RegisterRequest:
    """What "Register The Model" receives for a passing build; `evaluation` overrides its fields."""
    ratio = {"ratio": 0.8, "ci_low": 0.72, "ci_high": 0.9, "windows_won": 0.7, "windows": 144}
    ev = {
        "mean_wql": 0.2,
        "baseline_wql": 0.25,
        "robust_wql": 0.19,
        "production_wql": None,
        "vs_naive": ratio,
        "vs_robust": {**ratio, "ratio": 1.05, "ci_low": 0.98, "ci_high": 1.12},
        "vs_production": None,
        "coverage": 0.87,
        "naive_verdict": "beats naive (20% lower loss)",
        "alarm_threshold": 0.31,
        "windows": 144,
        "backtest_start": "2026-01-02T12:00:00Z",
        "backtest_end": "2026-01-05T12:00:00Z",
        "deepar_test_wql": None,
        "evaluation_uri": "s3://artifacts/builds/manual-x/evaluation.json",
        "reason": "passed: naive: upper 95% bound 0.900 < 1.000 (1 - naive_margin 0)",
    }
    ev.update(evaluation)
    return RegisterRequest.model_validate(
        {
            "execution_arn": EXECUTION,
            "trigger": "manual",
            "image": "224300973850.dkr.ecr.eu-west-1.amazonaws.com/forecasting-deepar:1",
            "model_data_url": "s3://artifacts/builds/manual-x/model/job/output/model.tar.gz",
            "training_job_name": "feecast-manual-x-1234abcd",
            "data": {
                "execution_name": "manual-x",
                "target_col": "avg_fee_1min",
                "prediction_length": 30,
                "quantiles": ["0.05", "0.5", "0.95"],
                "window": WINDOW,
            },
            "evaluation": ev,
        }
    )


# -- a build on the twin: data, parameters, start -------------------------------------------------
FEATURE_GROUP = "feecast-fee-minutes"
PREFIX = "/feecast"
FAST_HYPERPARAMETERS = {
    "epochs": 2,
    "mini_batch_size": 32,
    "learning_rate": 0.005,
    "num_cells": 20,
    "num_layers": 1,
    "early_stopping_patience": None,
    "num_eval_samples": 50,
}
TARGET = {"target_col": AVG_FEE, "prediction_length": 30, "freq": "1min", "history_days": 2}


def iso_minute(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:00Z")


def ensure_feature_group(twin: Any) -> None:
    """The ingestion stage's feature group; created here when the template does not have it yet."""
    sm = twin.client("sagemaker")
    try:
        sm.describe_feature_group(FeatureGroupName=FEATURE_GROUP)
        return
    except sm.exceptions.ResourceNotFound:
        pass
    sm.create_feature_group(
        FeatureGroupName=FEATURE_GROUP,
        RecordIdentifierFeatureName=RECORD_ID,
        EventTimeFeatureName=EVENT_TIME,
        FeatureDefinitions=[{"FeatureName": f.name, "FeatureType": f.type} for f in FEATURES],
        OnlineStoreConfig={"EnableOnlineStore": True},
        OfflineStoreConfig={
            "S3StorageConfig": {
                "S3Uri": f"s3://{twin.physical_id('ArtifactBucket')}/offline-store"
            },
            "DisableGlueTableCreation": True,
        },
        RoleArn=f"arn:aws:iam::{twin.account_id}:role/feature-store",
    )


def put_minutes(twin: Any, start: datetime, values: np.ndarray) -> None:
    """One record per minute through PutRecord (NaN = the minute had no transaction)."""
    fs = twin.client("sagemaker-featurestore-runtime")
    for i, value in enumerate(values.tolist()):
        minute = iso_minute(start + timedelta(minutes=i))
        count = 0 if math.isnan(value) else 3
        record = [
            {"FeatureName": RECORD_ID, "ValueAsString": minute},
            {"FeatureName": EVENT_TIME, "ValueAsString": minute},
            {"FeatureName": COUNT, "ValueAsString": str(count)},
            {"FeatureName": TOTAL_FEE, "ValueAsString": str(0.0 if count == 0 else value * 3)},
        ]
        if count:
            record.append({"FeatureName": AVG_FEE, "ValueAsString": repr(value)})
        fs.put_record(FeatureGroupName=FEATURE_GROUP, Record=record)


def fee_minutes(n: int, seed: int = 7) -> np.ndarray:
    """A positive random walk with a daily cycle, minute noise and a few empty minutes, like
    fee averages (a minute's average of a few hundred fees is mostly noise around a level)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    walk = np.cumsum(rng.normal(0, 0.01, n))
    noise = rng.lognormal(0, 0.25, n)
    values = 20 * np.exp(walk) * (1 + 0.2 * np.sin(2 * np.pi * t / 1440)) * noise
    values[rng.choice(n - 60, 12, replace=False)] = np.nan
    return np.round(values, 3)


def put_parameter(twin: Any, suffix: str, value: dict[str, Any]) -> None:
    twin.client("ssm").put_parameter(
        Name=f"{PREFIX}/{suffix}", Value=json.dumps(value), Type="String", Overwrite=True
    )


def start(twin: Any, trigger: str, key: str) -> BuildStart:
    """A build started through `start_build` (the real guard), as the CLI would start it."""
    settings = StartBuildSettings(
        model_build_state_machine_arn=twin.outputs["ModelBuildStateMachineArn"],
        state_table=twin.outputs["StateTableName"],
    )
    backend = TableBuildBackend(
        settings, state=StateTable(settings.state_table), executions=StepFunctionsExecutions()
    )
    return start_build(trigger, key, settings, backend=backend)


def packages(twin: Any) -> list[dict[str, Any]]:
    sm = twin.client("sagemaker")
    summaries = sm.list_model_packages(ModelPackageGroupName="feecast-models")[
        "ModelPackageSummaryList"
    ]
    return [sm.describe_model_package(ModelPackageName=s["ModelPackageArn"]) for s in summaries]
