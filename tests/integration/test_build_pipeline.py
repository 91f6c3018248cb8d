"""The ModelBuild state machine on the twin: data -> DeepAR -> backtest -> package or refusal.

One twin per module: two days of minutes are put through the Feature Store API once; one
trained build (module fixture) is shared by the assertions about the registered package, the
starts it refused (duplicates, joins) and its notification. Failure branches that stop before
training are fast; the rejected branch trains a second (1-epoch) model, with the first one
recorded as production, so the same backtest origins are also forecast by the production model.
The backtest is 12 hours (24 origins) and the gate's rules are loose here: the gate's logic is
unit-tested (tests/unit/test_threshold.py, test_build_evaluate.py); this module tests the wiring.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from feecast.adapters import clients
from feecast.build.start_build import BuildStart

from tests.support.builds import (
    FAST_HYPERPARAMETERS,
    PREFIX,
    TARGET,
    ensure_feature_group,
    fee_minutes,
    iso_minute,
    packages,
    put_minutes,
    put_parameter,
    start,
)

HISTORY_MINUTES = 2 * 1440
QUANTILES = ("0.05", "0.5", "0.95")
VALIDATION = {
    "threshold": 0.24,
    "backtest_days": 0.5,
    "bootstrap_resamples": 500,
    "naive_margin": -5.0,  # the gate's rules are unit-tested; a 2-epoch model must pass here
    "production_tolerance": 5.0,
}


# -- setup helpers (seeding and starting a build: tests/support/builds.py) -----------------------
def load_build_event(name: str) -> dict[str, Any]:
    return json.loads((Path(__file__).resolve().parents[2] / "events" / name).read_text())


def read_s3(twin: Any, uri: str) -> str:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return twin.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def build_events(twin: Any, execution_arn: str) -> list[dict[str, Any]]:
    """The feecast events of one build execution, oldest first, each detail validated against
    the documented schema."""
    from feecast.lifecycle import LifecycleDetail

    events = [
        e for e in twin.bus_events(source="feecast") if e["detail"]["execution"] == execution_arn
    ]
    for event in events:
        LifecycleDetail.model_validate(event["detail"])
    return events


def messages_since(twin: Any, count: int) -> list[dict[str, Any]]:
    return twin.sns_messages()[count:]


def run_refused(twin: Any, name: str, now: datetime | None = None) -> tuple[dict[str, Any], list]:
    """Start an execution directly (as start_build would), wait; (description, new messages)."""
    before = len(twin.sns_messages())
    payload: dict[str, Any] = {"trigger": "manual", "dedup_key": name}
    if now is not None:
        payload["now"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    arn = twin.start_execution("ModelBuildStateMachine", payload, name=name)
    return twin.wait_for_execution(arn, timeout=120), messages_since(twin, before)


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def build_twin() -> Iterator[Any]:
    from feecast_twin import Twin

    twin = Twin().deploy()
    # Library calls made from the test (start_build's adapters) use the twin, as the CLI would;
    # built here, before 20 threads share them.
    clients.use_session(boto3.Session(region_name=twin.region))
    clients.client("stepfunctions")
    clients.table(twin.outputs["StateTableName"])
    try:
        ensure_feature_group(twin)
        end = twin.clock.now().replace(second=0, microsecond=0)
        data_start = end - timedelta(minutes=HISTORY_MINUTES)
        put_minutes(twin, data_start, fee_minutes(HISTORY_MINUTES))
        # Older data for the refusal tests: all-zero minutes five days back (more than the
        # backtest holds out plus the 300 training points DeepAR needs).
        put_minutes(twin, data_start - timedelta(days=5), np.zeros(1100))
        put_parameter(twin, "target", TARGET)
        put_parameter(twin, "hyperparameters", FAST_HYPERPARAMETERS)
        put_parameter(twin, "validation", VALIDATION)
        twin.settle()
        twin.data_start = data_start  # type: ignore[attr-defined]
        twin.data_end = end  # type: ignore[attr-defined]
        yield twin
    finally:
        clients.use_session(None)
        twin.close()


@pytest.fixture(scope="module")
def registered_build(build_twin: Any) -> dict[str, Any]:
    """One build started by 20 concurrent deliveries of one trigger, joined by two others."""
    twin = build_twin
    results: list[BuildStart] = []
    barrier = threading.Barrier(20)

    def deliver() -> None:
        barrier.wait()
        results.append(start(twin, "manual", "it-manual-1"))

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    started = [r for r in results if r.status == "started"]
    assert len(started) == 1, [r.status for r in results]
    arn = started[0].execution_arn
    # While it runs: the schedule (through StartBuildFunction) and an alarm join it.
    scheduled = twin.invoke("StartBuildFunction", load_build_event("build-start-schedule.json"))
    alarm = start(twin, "alarm", "it-alarm-1")
    description = twin.wait_for_execution(arn, timeout=600)
    return {
        "arn": arn,
        "results": results,
        "scheduled": scheduled,
        "alarm": alarm,
        "description": description,
        "messages": list(twin.sns_messages()),
    }


# -- the trained build --------------------------------------------------------------------------
def hand_wql(actual: list[float | None], forecast: list[float], tau: float) -> float:
    num = den = 0.0
    for y, q in zip(actual, forecast, strict=True):
        if y is None:
            continue
        num += (1 - tau) * (q - y) if q > y else tau * (y - q)
        den += abs(y)
    return 2 * num / den


@pytest.mark.slow
def test_given_two_days_of_minutes_when_a_build_runs_then_a_package_matches_a_recomputed_backtest(
    build_twin: Any, registered_build: dict[str, Any]
) -> None:
    twin = build_twin
    description = registered_build["description"]
    assert description["status"] == "SUCCEEDED", description
    (package,) = [
        p
        for p in packages(twin)
        if p["MetadataProperties"]["GeneratedBy"] == registered_build["arn"]
    ]
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    # The outcome on the default bus for other systems (docs/events.md), in the documented
    # schema, and the e-mail's attributes for SNS filter policies.
    events = build_events(twin, registered_build["arn"])
    assert [e["detail_type"] for e in events] == [
        "Build Started",
        "Build Succeeded",
        "Model Package Waiting For Approval",
    ]
    for event in events[1:]:
        assert package["ModelPackageArn"] in event["resources"]
        assert event["detail"]["model_version"] == package["ModelPackageVersion"]
        assert event["detail"]["facts"]["evaluation_uri"].startswith("s3://")
    assert events[0]["detail"]["facts"]["input"]["dedup_key"] == "it-manual-1"
    [note] = [m for m in registered_build["messages"] if "waiting for approval" in m["subject"]]
    assert {k: v["Value"] for k, v in note["attributes"].items()} == {
        "event_type": "Model Package Waiting For Approval",
        "outcome": "registered",
        "project": "feecast",
        "model_version": str(package["ModelPackageVersion"]),
    }
    meta = package["CustomerMetadataProperties"]
    for key in (
        "mean_wql",
        "baseline_wql",
        "robust_wql",
        "ratio_to_naive",
        "ratio_to_naive_ci95_low",
        "ratio_to_naive_ci95_high",
        "ratio_to_robust",
        "alarm_threshold",
        "backtest_windows",
        "data_start",
        "data_end",
        "training_job",
        "execution_arn",
        "trigger",
    ):
        assert key in meta, key
    assert meta["trigger"] == "manual" and meta["execution_arn"] == registered_build["arn"]
    assert meta["data_end"] == iso_minute(twin.data_end - timedelta(minutes=1))
    assert meta["ratio_to_production"] == "undefined"  # nothing in production yet

    evaluation = json.loads(
        read_s3(twin, package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"])
    )
    prefix = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].rsplit("/", 1)[0]
    lines = read_s3(twin, f"{prefix}/transform/output/backtest.json.out").splitlines()
    series = json.loads(read_s3(twin, f"{prefix}/data/series.json"))["target"]
    backtest = evaluation["feecast"]["backtest"]
    # 12 hours held out, an origin every 30 minutes: 24 windows, one transform line each.
    assert backtest["origins"] == len(lines) == 24 == int(meta["backtest_windows"])
    # The history is the minutes fed in, independently of the pipeline.
    fed = fee_minutes(HISTORY_MINUTES)
    assert [None if v == "NaN" else v for v in series] == [
        None if math.isnan(v) else v for v in fed.tolist()
    ][-len(series) :]
    values = [None if v == "NaN" else v for v in series]
    num = den = 0.0
    for i, line in enumerate(lines):
        forecast = json.loads(line)
        origin = backtest["first_index"] + i * backtest["spacing_steps"]
        actual = values[origin : origin + 30]
        for q in QUANTILES:
            for y, f in zip(actual, forecast["quantiles"][q], strict=True):
                if y is not None:
                    num += (1 - float(q)) * (f - y) if f > y else float(q) * (y - f)
        den += sum(abs(y) for y in actual if y is not None)
    mean = 2 * num / den / len(QUANTILES)
    metrics = evaluation["regression_metrics"]
    assert metrics["mean_wQuantileLoss"]["value"] == pytest.approx(mean, abs=1e-6)
    assert float(meta["mean_wql"]) == pytest.approx(mean, rel=1e-9)
    assert float(meta["baseline_wql"]) == pytest.approx(
        metrics["naive_mean_wQuantileLoss"]["value"], abs=1e-6
    )
    low, high = float(meta["ratio_to_naive_ci95_low"]), float(meta["ratio_to_naive_ci95_high"])
    assert low <= float(meta["ratio_to_naive"]) <= high
    assert evaluation["feecast"]["gate"]["passed"] is True
    assert len(evaluation["feecast"]["windows"]) == 24
    assert float(meta["alarm_threshold"]) == pytest.approx(
        evaluation["feecast"]["alarm"]["threshold"], abs=1e-6
    )
    # No production model: the state machine went straight to the evaluation.
    assert not [r for r in twin.records_of("transform-job") if "production" in str(r.fields)]

    # The training job: DeepAR image, hyperparameters from SSM as strings, spot, test channel.
    job = twin.client("sagemaker").describe_training_job(TrainingJobName=meta["training_job"])
    assert (
        job["HyperParameters"]["epochs"] == "2"
        and job["HyperParameters"]["prediction_length"] == "30"
    )
    assert {c["ChannelName"] for c in job["InputDataConfig"]} == {"train", "test"}
    assert job["EnableManagedSpotTraining"] is True
    assert job["CheckpointConfig"]["S3Uri"].endswith("/checkpoints/")
    assert "forecasting-deepar" in job["AlgorithmSpecification"]["TrainingImage"]

    # The notification carries the backtest's numbers and says how to approve.
    (note,) = [
        m
        for m in registered_build["messages"]
        if package["ModelPackageArn"] in (m["message"] or "")
    ]
    assert f"mean wQL {mean:.4f}" in note["message"] and "vs naive" in note["message"]
    assert "backtest of 24 windows" in note["message"]
    assert "update-model-package" in note["message"]
    # EMF metrics from the functions reach CloudWatch (the build itself was started by this
    # test's process, which is no Lambda function: the schedule's StartBuildFunction joined it).
    assert twin.metric_data("feecast", "ModelsRegistered", {"service": "build"})
    assert registered_build["scheduled"]["status"] == "joined"
    assert twin.metric_data("feecast", "BuildsJoined", {"service": "build"})


@pytest.mark.slow
def test_given_duplicate_and_concurrent_triggers_then_one_execution_runs(
    build_twin: Any, registered_build: dict[str, Any]
) -> None:
    statuses = sorted(r.status for r in registered_build["results"])
    assert statuses.count("started") == 1 and set(statuses) <= {"started", "duplicate", "joined"}
    assert {r.execution_arn for r in registered_build["results"]} == {registered_build["arn"]}
    assert registered_build["scheduled"]["status"] == "joined"
    assert registered_build["scheduled"]["execution_arn"] == registered_build["arn"]
    assert registered_build["alarm"].status == "joined"
    executions = build_twin.client("stepfunctions").list_executions(
        stateMachineArn=build_twin.outputs["ModelBuildStateMachineArn"]
    )["executions"]
    assert [e["executionArn"] for e in executions].count(registered_build["arn"]) == 1
    # The same trigger delivered again after the build ended is still a duplicate.
    assert start(build_twin, "manual", "it-manual-1").status == "duplicate"


@pytest.mark.slow
def test_given_a_production_model_and_a_tiny_loss_cap_then_both_are_compared_and_it_is_rejected(
    build_twin: Any, registered_build: dict[str, Any]
) -> None:
    twin = build_twin
    first = next(
        p
        for p in packages(twin)
        if p["MetadataProperties"]["GeneratedBy"] == registered_build["arn"]
    )
    # What the deploy stage records when a model reaches production.
    twin.client("dynamodb").put_item(
        TableName=twin.outputs["StateTableName"],
        Item={
            "pk": {"S": "DEPLOY#production"},
            "sk": {"S": "CURRENT"},
            "stage": {"S": "production"},
            "package_arn": {"S": first["ModelPackageArn"]},
            "version": {"N": "1"},
            "deployed_at": {"S": "2026-01-05T00:00:00+00:00"},
            "execution": {"S": "it"},
        },
    )
    packages_before = len(packages(twin))
    before = len(twin.sns_messages())
    put_parameter(twin, "validation", {**VALIDATION, "max_loss": 0.0001})
    put_parameter(twin, "hyperparameters", {**FAST_HYPERPARAMETERS, "epochs": 1})
    try:
        outcome = start(twin, "manual", "it-manual-rejected")
        assert outcome.status == "started"
        description = twin.wait_for_execution(outcome.execution_arn, timeout=600)
    finally:
        put_parameter(twin, "validation", VALIDATION)
        put_parameter(twin, "hyperparameters", FAST_HYPERPARAMETERS)
        twin.client("dynamodb").delete_item(
            TableName=twin.outputs["StateTableName"],
            Key={"pk": {"S": "DEPLOY#production"}, "sk": {"S": "CURRENT"}},
        )
    assert description["status"] == "FAILED"
    assert description["error"] == "ModelRejected"
    assert "sanity cap: backtest mean wQL" in description["cause"]
    assert "> max_loss 0.0001" in description["cause"]
    assert len(packages(twin)) == packages_before
    (note,) = messages_since(twin, before)
    assert "did not pass the accuracy gate" in note["message"]
    assert note["attributes"]["event_type"]["Value"] == "Build Rejected"
    rejected = build_events(twin, outcome.execution_arn)
    assert [e["detail_type"] for e in rejected] == ["Build Started", "Build Rejected"]
    assert "max_loss 0.0001" in rejected[1]["detail"]["facts"]["gate"]
    assert "vs production" in note["message"] and "vs naive" in note["message"]
    assert twin.metric_data("feecast", "ModelsRejected", {"service": "build"})
    # The production model forecast the same origins, from its own artifact.
    name = outcome.execution_arn.rsplit(":", 1)[-1]
    bucket = twin.physical_id("ArtifactBucket")
    evaluation = json.loads(read_s3(twin, f"s3://{bucket}/builds/{name}/evaluation.json"))
    assert "candidate/production" in evaluation["feecast"]["backtest"]["comparisons"]
    assert evaluation["feecast"]["production"]["package_arn"] == first["ModelPackageArn"]
    lines = read_s3(
        twin, f"s3://{bucket}/builds/{name}/transform/production/backtest.json.out"
    ).splitlines()
    assert len(lines) == 24


# -- failure branches (no model is trained) ------------------------------------------------------
def test_given_too_little_data_then_the_build_fails_early_with_the_reason(build_twin: Any) -> None:
    now = build_twin.data_start + timedelta(minutes=200)
    packages_before = len(packages(build_twin))
    description, notes = run_refused(build_twin, "it-too-little", now)
    assert description["status"] == "FAILED" and description["error"] == "DataRefused"
    assert "too_short" in description["cause"]
    (note,) = notes
    assert "failed at step 'Prepare The Data'" in note["message"] and "too_short" in note["message"]
    assert {k: v["Value"] for k, v in note["attributes"].items()} == {
        "event_type": "Build Failed",
        "outcome": "failed",
        "project": "feecast",
    }
    arn = next(
        r["execution_arn"]
        for r in build_twin.records_of("execution-ended")
        if r["execution_arn"].endswith(":it-too-little")
    )
    failed = build_events(build_twin, arn)
    assert [e["detail_type"] for e in failed] == ["Build Started", "Build Failed"]
    assert failed[1]["detail"]["facts"]["step"] == "Prepare The Data"
    assert len(packages(build_twin)) == packages_before
    assert not [
        r
        for r in build_twin.records_of("training-job")
        if "it-too-little" in json.dumps(r.fields, default=str)
    ]


def test_given_an_all_zero_series_then_the_build_fails_early(build_twin: Any) -> None:
    now = build_twin.data_start - timedelta(days=5) + timedelta(minutes=1100)
    description, notes = run_refused(build_twin, "it-all-zero", now)
    assert description["error"] == "DataRefused" and "all_zero" in description["cause"]
    assert "all_zero" in notes[0]["message"]


def test_given_invalid_hyperparameters_in_ssm_then_the_build_fails_naming_them(
    build_twin: Any,
) -> None:
    put_parameter(
        build_twin, "hyperparameters", {**FAST_HYPERPARAMETERS, "epochs": 0, "dropout_rate": 2}
    )
    try:
        description, notes = run_refused(build_twin, "it-bad-hyperparameters")
    finally:
        put_parameter(build_twin, "hyperparameters", FAST_HYPERPARAMETERS)
    assert description["status"] == "FAILED" and description["error"] == "ConfigError"
    assert "/feecast/hyperparameters" in description["cause"] and "epochs=0" in description["cause"]
    assert "Fix the SSM parameter" in notes[0]["message"]
    assert build_twin.metric_data("feecast", "BuildsFailed", {"service": "build"})


def test_given_a_missing_ssm_parameter_then_the_build_fails_naming_it(build_twin: Any) -> None:
    ssm = build_twin.client("ssm")
    saved = ssm.get_parameter(Name=f"{PREFIX}/validation")["Parameter"]["Value"]
    ssm.delete_parameter(Name=f"{PREFIX}/validation")
    try:
        description, notes = run_refused(build_twin, "it-missing-parameter")
    finally:
        ssm.put_parameter(Name=f"{PREFIX}/validation", Value=saved, Type="String", Overwrite=True)
    assert description["status"] == "FAILED" and description["error"] == "ConfigError"
    assert "/feecast/validation" in description["cause"]
    assert "Prepare The Data" in notes[0]["message"]


def test_given_a_training_job_that_fails_then_the_build_fails_with_its_reason(
    build_twin: Any,
) -> None:
    build_twin.component("sagemaker").inject_training_failure(
        "training failed (simulated: the instance ran out of memory)"
    )
    packages_before = len(packages(build_twin))
    description, notes = run_refused(build_twin, "it-training-fails")
    assert description["status"] == "FAILED" and description["error"] == "TrainingFailed"
    assert "Train The Model" in description["cause"] and "ran out of memory" in description["cause"]
    assert "failed at step 'Train The Model'" in notes[0]["message"]
    assert len(packages(build_twin)) == packages_before


def test_given_the_operator_command_then_it_starts_through_the_same_guard(
    build_twin: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """`feecast build --wait` starts a build (it fails fast here: invalid hyperparameters) and
    reports the outcome; the same dedup key again is a duplicate."""
    from feecast_cli.main import main

    put_parameter(build_twin, "hyperparameters", {**FAST_HYPERPARAMETERS, "epochs": 0})
    try:
        args = ["--region", build_twin.region, "build", "--dedup-key", "it-cli-1"]
        assert main([*args, "--wait"]) == 1
        first = capsys.readouterr().out
        assert main([*args, "--json"]) == 0
        second = json.loads(capsys.readouterr().out)
    finally:
        put_parameter(build_twin, "hyperparameters", FAST_HYPERPARAMETERS)
    assert first.startswith("started: ") and "status: FAILED" in first and "ConfigError" in first
    assert second["status"] == "duplicate" and second["dedup_key"] == "it-cli-1"
