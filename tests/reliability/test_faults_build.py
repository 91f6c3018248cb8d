"""Faults in the build stage (issue 9): the ModelBuild state machine on the twin reaches a defined
end whatever fails, retries what is transient, and production keeps serving.

One twin per module: one day of minutes through the Feature Store API, a production endpoint
(`feecast-production`, a tiny local DeepAR created through the twin's SageMaker API, as the
deploy stage would leave it). Every build starts through `start_build` (the real guard), so a
start that says "started" proves the previous build released its lock. For each fault the test
asserts: the execution's end (failed with a notification saying which step failed and why, or
succeeded after retries visible in its history), no model package for a failed build, the SSM
threshold untouched, production InService and answering.

Three scenarios train a model (1 epoch, seconds); the others fail before training.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.support import builds

pytestmark = pytest.mark.slow

PRODUCTION = "feecast-production"
VALIDATION = "/feecast/validation"
IMAGE = "224300973850.dkr.ecr.eu-west-1.amazonaws.com/forecasting-deepar:1"
ROLE = "arn:aws:iam::123456789012:role/feecast-sagemaker"
HYPERPARAMETERS = {**builds.FAST_HYPERPARAMETERS, "epochs": 1, "num_cells": 10}
TARGET = {**builds.TARGET, "history_days": 1}
# A generous gate: these tests are about faults, not accuracy (a 1-epoch model must pass).
GATE = {
    "threshold": 5.0,
    "confidence": 90,
    "backtest_days": 0.25,
    "bootstrap_resamples": 200,
    "naive_margin": -5.0,  # the gate's rules are unit-tested; a 2-epoch model must pass here
    "production_tolerance": 5.0,
}


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def twin() -> Iterator[Any]:
    from feecast_twin import Twin
    from feecast_twin.deepar import run_training

    twin = Twin().deploy()
    try:
        builds.ensure_feature_group(twin)
        end = twin.clock.now().replace(second=0, microsecond=0)
        minutes = 1440 + 60
        builds.put_minutes(twin, end - timedelta(minutes=minutes), builds.fee_minutes(minutes))
        builds.put_parameter(twin, "target", TARGET)
        builds.put_parameter(twin, "hyperparameters", HYPERPARAMETERS)
        builds.put_parameter(twin, "validation", GATE)
        # Production, as the deploy stage leaves it: a model serving behind feecast-production.
        series = builds.fee_minutes(400, seed=3)
        record = {"start": "2026-01-04 00:00:00", "target": [float(v) for v in series]}
        hyper = {k: str(v) for k, v in HYPERPARAMETERS.items() if v is not None}
        tar = run_training(
            {"train": [("train.json", json.dumps(record).encode())]},
            {**hyper, "prediction_length": "30", "context_length": "30", "time_freq": "1min"},
        ).model_tar
        bucket = twin.physical_id("ArtifactBucket")
        twin.client("s3").put_object(Bucket=bucket, Key="production/model.tar.gz", Body=tar)
        sm = twin.client("sagemaker")
        sm.create_model(
            ModelName="production-v1",
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": IMAGE,
                "ModelDataUrl": f"s3://{bucket}/production/model.tar.gz",
            },
        )
        sm.create_endpoint_config(
            EndpointConfigName="production-v1",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "production-v1",
                    "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 1},
                }
            ],
        )
        sm.create_endpoint(EndpointName=PRODUCTION, EndpointConfigName="production-v1")
        twin.settle()
        yield twin
    finally:
        twin.close()


@pytest.fixture(autouse=True)
def no_leftover_faults(twin: Any) -> Iterator[None]:
    yield
    twin.faults.clear()
    twin.settle()


# -- helpers ------------------------------------------------------------------------------------
def threshold_parameter(twin: Any) -> tuple[str, int]:
    parameter = twin.client("ssm").get_parameter(Name=VALIDATION)["Parameter"]
    return parameter["Value"], parameter["Version"]


def packages_of(twin: Any, execution_arn: str) -> list[dict[str, Any]]:
    return [
        p for p in builds.packages(twin) if p["MetadataProperties"]["GeneratedBy"] == execution_arn
    ]


def run_build(twin: Any, key: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Start a build through the guard (it must start: no build holds the lock), wait; returns
    (DescribeExecution, the notifications it published)."""
    before = len(twin.sns_messages())
    outcome = builds.start(twin, "manual", key)
    assert outcome.status == "started", outcome.message  # the previous build released the lock
    description = twin.wait_for_execution(outcome.execution_arn, timeout=300)
    twin.settle()
    return description, twin.sns_messages()[before:]


def assert_production_serves(twin: Any) -> None:
    endpoint = twin.client("sagemaker").describe_endpoint(EndpointName=PRODUCTION)
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == "production-v1"
    body = json.dumps(
        {
            "instances": [
                {"start": "2026-01-05 00:00:00", "target": [20.0 + i % 7 for i in range(90)]}
            ]
        }
    )
    answer = twin.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=PRODUCTION, ContentType="application/json", Body=body
    )
    assert len(json.loads(answer["Body"].read())["predictions"][0]["mean"]) == 30


def assert_failed_cleanly(
    twin: Any,
    description: dict[str, Any],
    notes: list[dict[str, Any]],
    threshold: tuple[str, int],
    *,
    step: str,
    error: str,
    why: tuple[str, ...],
) -> str:
    """The defined failure end; returns the notification's text."""
    assert description["status"] == "FAILED", description
    assert description["error"] == error, description
    (note,) = notes
    text = note["message"]
    assert note["subject"] and f"failed at step '{step}' with" in text, text
    for word in why:
        assert word in text and word in description["cause"], (word, text)
    assert "No model was registered" in text
    assert packages_of(twin, description["executionArn"]) == []
    assert threshold_parameter(twin) == threshold
    assert twin.metric_data("feecast", "BuildsFailed", {"service": "build"})
    assert_production_serves(twin)
    return str(text)


def history(twin: Any, arn: str) -> list[dict[str, Any]]:
    return list(twin.execution_history(arn))


def failed_attempts(events: list[dict[str, Any]], error: str) -> int:
    return sum(
        1
        for e in events
        for details in (e.get("taskFailedEventDetails"), e.get("lambdaFunctionFailedEventDetails"))
        if details and details.get("error") == error
    )


def on_record(
    twin: Any, kind: str, match: Callable[[Any], bool], act: Callable[[Any], None]
) -> Callable[[], None]:
    """Run `act(record)` once, on the recording thread, for the first `kind` record matching."""
    done: list[bool] = []

    def callback(record: Any) -> None:
        if record.kind == kind and not done and match(record):
            done.append(True)
            act(record)

    return twin.subscribe(callback)  # type: ignore[no-any-return]


def delete_objects(twin: Any, prefix: str, part: str) -> list[str]:
    """Delete the objects under `prefix` whose key contains `part`; their keys."""
    s3, bucket = twin.client("s3"), twin.physical_id("ArtifactBucket")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    keys = [o["Key"] for o in listed if part in o["Key"]]
    for key in keys:
        s3.delete_object(Bucket=bucket, Key=key)
    return keys


# -- SageMaker jobs fail ------------------------------------------------------------------------
def test_given_a_training_job_that_fails_then_the_build_fails_notified_and_production_serves(
    twin: Any,
) -> None:
    threshold = threshold_parameter(twin)
    twin.component("sagemaker").inject_training_failure("the spot instance was reclaimed")
    description, notes = run_build(twin, "rel-training-fails")
    assert_failed_cleanly(
        twin,
        description,
        notes,
        threshold,
        step="Train The Model",
        error="TrainingFailed",
        why=("AlgorithmError: the spot instance was reclaimed",),
    )


def test_given_a_transform_job_that_fails_then_the_build_fails_notified_and_production_serves(
    twin: Any,
) -> None:
    threshold = threshold_parameter(twin)
    twin.component("sagemaker").inject_transform_failure("the container was killed (OOM)")
    description, notes = run_build(twin, "rel-transform-fails")
    assert_failed_cleanly(
        twin,
        description,
        notes,
        threshold,
        step="Forecast The Backtest Origins",
        error="TransformFailed",
        why=("AlgorithmError: the container was killed (OOM)",),
    )


# -- configuration in SSM -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("suffix", "value", "why"),
    [
        ("target", None, ("/feecast/target",)),
        ("target", '{"target_col": "avg_fee_1min", "prediction_length": ', ("/feecast/target",)),
        ("validation", None, ("/feecast/validation",)),
        ("validation", "not json", ("/feecast/validation",)),
        ("validation", json.dumps({**GATE, "threshold": -1}), ("/feecast/validation", "threshold")),
        ("hyperparameters", json.dumps({"epochs": "many"}), ("/feecast/hyperparameters", "epochs")),
    ],
    ids=[
        "target-missing",
        "target-bad-json",
        "threshold-missing",
        "threshold-bad-json",
        "threshold-negative",
        "hyperparameters-wrong-type",
    ],
)
def test_given_a_missing_or_corrupt_parameter_then_the_build_fails_naming_it(
    twin: Any, suffix: str, value: str | None, why: tuple[str, ...], request: pytest.FixtureRequest
) -> None:
    ssm = twin.client("ssm")
    name = f"/feecast/{suffix}"
    saved = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    if value is None:
        ssm.delete_parameter(Name=name)
    else:
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    threshold = threshold_parameter(twin) if suffix != "validation" else None
    try:
        description, notes = run_build(twin, f"rel-ssm-{request.node.callspec.id}")
    finally:
        ssm.put_parameter(Name=name, Value=saved, Type="String", Overwrite=True)
    if threshold is None:  # the corrupted one was the threshold itself: compare after restoring
        threshold = threshold_parameter(twin)
    text = assert_failed_cleanly(
        twin,
        description,
        notes,
        threshold,
        step="Prepare The Data",
        error="ConfigError",
        why=why,
    )
    assert "Fix the SSM parameter" in text
    # Nothing was trained or written for this build.
    assert not [r for r in twin.records_of("training-job") if "rel-ssm" in r["name"]]


# -- S3 objects disappear -----------------------------------------------------------------------
def test_given_the_training_data_deleted_before_training_then_the_training_job_fails_clearly(
    twin: Any,
) -> None:
    threshold = threshold_parameter(twin)
    deleted: list[str] = []
    # Right after Prepare The Data wrote the channels, before Train The Model starts.
    unsubscribe = on_record(
        twin,
        "lambda",
        lambda r: r.get("function") == "PrepareDataFunction" and not r.get("errored"),
        lambda r: deleted.extend(
            delete_objects(twin, "builds/manual-rel-train-data-gone", "/data/train/")
        ),
    )
    try:
        description, notes = run_build(twin, "rel-train-data-gone")
    finally:
        unsubscribe()
    assert any(k.endswith("data/train/train.json") for k in deleted), deleted
    assert_failed_cleanly(
        twin,
        description,
        notes,
        threshold,
        step="Train The Model",
        error="TrainingFailed",
        why=("ClientError",),
    )


def test_given_the_model_artifact_deleted_after_training_then_the_build_fails_clearly(
    twin: Any,
) -> None:
    threshold = threshold_parameter(twin)
    deleted: list[str] = []
    unsubscribe = on_record(
        twin,
        "training-job",
        lambda r: "rel-artifact-gone" in r["name"] and r["status"] == "Completed",
        lambda r: deleted.extend(
            delete_objects(twin, "builds/manual-rel-artifact-gone", "/output/model.tar.gz")
        ),
    )
    try:
        description, notes = run_build(twin, "rel-artifact-gone")
    finally:
        unsubscribe()
    assert any(k.endswith("output/model.tar.gz") for k in deleted), deleted
    # CreateModel does not read the artifact; the batch transform that loads it fails.
    text = assert_failed_cleanly(
        twin,
        description,
        notes,
        threshold,
        step="Forecast The Backtest Origins",
        error="TransformFailed",
        why=("model.tar.gz",),
    )
    assert "ClientError" in text


# -- throttling ---------------------------------------------------------------------------------
def test_given_transient_throttles_then_each_is_retried_and_the_build_registers_a_model(
    twin: Any,
) -> None:
    twin.faults.retry_scale = 0.01  # the ASL's back-off (2 s Lambda / SNS, 30 s SageMaker) x 0.01
    prepare = twin.physical_id("PrepareDataFunction")
    topic = twin.physical_id("NotificationTopic")
    lambda_throttle = twin.faults.fail(
        "lambda",
        "Invoke",
        code="TooManyRequestsException",
        when=lambda p: prepare in p["FunctionName"],
    )
    training_throttle = twin.faults.fail("sagemaker", "CreateTrainingJob")
    sns_throttle = twin.faults.fail(
        "sns", "Publish", code="Throttled", when=lambda p: p.get("TopicArn") == topic
    )
    # Then an error code SNS does not model: SNS.AmazonSNSException, also in the Retry.
    sns_unavailable = twin.faults.fail(
        "sns", "Publish", code="ServiceUnavailable", when=lambda p: p.get("TopicArn") == topic
    )
    waits_before = len(twin.records_of("sfn-retry-wait"))
    description, notes = run_build(twin, "rel-transient-throttles")
    assert description["status"] == "SUCCEEDED", description
    assert lambda_throttle.injected == training_throttle.injected == 1
    assert sns_throttle.injected == sns_unavailable.injected == 1
    events = history(twin, description["executionArn"])
    # Each throttle failed one attempt under the name the state's Retry lists, then succeeded.
    assert failed_attempts(events, "Lambda.TooManyRequestsException") == 1
    assert failed_attempts(events, "SageMaker.AmazonSageMakerException") == 1
    assert failed_attempts(events, "SNS.ThrottledException") == 1
    assert failed_attempts(events, "SNS.AmazonSNSException") == 1
    waits = [r["seconds"] for r in twin.records_of("sfn-retry-wait")[waits_before:]]
    assert sorted(waits) == [2.0, 2.0, 4.0, 30.0]  # SNS backs off 2 s then 4 s
    (package,) = packages_of(twin, description["executionArn"])
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    (note,) = notes
    assert package["ModelPackageArn"] in note["message"]
    assert_production_serves(twin)


@pytest.mark.parametrize(
    ("service", "operation", "code", "step", "error", "attempts"),
    [
        (
            "sagemaker",
            "CreateTrainingJob",
            "ThrottlingException",
            "Train The Model",
            # Step Functions reports it as SageMaker.AmazonSageMakerException (as a validation
            # error); the state tells them apart by the Cause and retries only this one.
            "SageMakerThrottled",
            4,
        ),
        (
            "lambda",
            "Invoke",
            "TooManyRequestsException",
            "Prepare The Data",
            "Lambda.TooManyRequestsException",
            4,
        ),
    ],
    ids=["create-training-job", "prepare-data-invoke"],
)
def test_given_a_persistent_throttle_then_retries_run_out_and_the_build_fails_notified(
    twin: Any, service: str, operation: str, code: str, step: str, error: str, attempts: int
) -> None:
    twin.faults.retry_scale = 0.01
    threshold = threshold_parameter(twin)
    prepare = twin.physical_id("PrepareDataFunction")
    fault = twin.faults.fail(
        service,
        operation,
        code=code,
        times=None,
        # Only the build's own step: the failure report still runs (it is a Lambda too).
        when=(lambda p: prepare in p["FunctionName"]) if service == "lambda" else None,
    )
    description, notes = run_build(twin, f"rel-persistent-{service}")
    text = assert_failed_cleanly(
        twin, description, notes, threshold, step=step, error=error, why=(code,)
    )
    assert "Rate" in text  # the service's message reaches the person
    assert fault.injected == attempts  # 1 + MaxAttempts 3
    task_error = "SageMaker.AmazonSageMakerException" if service == "sagemaker" else error
    assert failed_attempts(history(twin, description["executionArn"]), task_error) == attempts


# -- SageMaker refusals: retried only when a retry can help (issue 16, defect 8) ------------------
@pytest.mark.parametrize(
    ("operation", "code", "message", "step", "error"),
    [
        (
            "CreateTrainingJob",
            "ValidationException",
            "1 validation error detected: Value 'ml.c5.huge' at 'resourceConfig.instanceType'",
            "Train The Model",
            "SageMaker.AmazonSageMakerException",
        ),
        (
            "CreateTransformJob",
            "ResourceLimitExceeded",
            "The account-level service limit 'ml.m5.large for transform job usage' is 0 "
            "Instances, with current utilization of 0 Instances and a request delta of 1 Instances.",
            "Forecast The Backtest Origins",
            "SageMakerQuotaIsZero",
        ),
    ],
    ids=["validation-error", "quota-of-zero"],
)
def test_given_a_refusal_no_retry_can_fix_then_the_build_fails_at_once(
    twin: Any, operation: str, code: str, message: str, step: str, error: str
) -> None:
    twin.faults.retry_scale = 0.01
    threshold = threshold_parameter(twin)
    fault = twin.faults.fail("sagemaker", operation, code=code, message=message, times=None)
    waits_before = len(twin.records_of("sfn-retry-wait"))
    description, notes = run_build(twin, f"rel-refused-{code}")
    assert_failed_cleanly(
        twin, description, notes, threshold, step=step, error=error, why=(message[:40],)
    )
    assert fault.injected == 1  # no retry: ~3.5 minutes of back-off saved
    assert twin.records_of("sfn-retry-wait")[waits_before:] == []


def test_given_a_model_left_by_an_earlier_attempt_of_the_build_then_it_is_used(twin: Any) -> None:
    """CreateModel answers "Cannot create already existing model" (e.g. a redriven execution
    whose first CreateModel succeeded): the model is this build's if it holds this build's
    model data, and the build goes on; a model of the same name with other data is refused."""
    from moto.sagemaker.models import sagemaker_backends

    backend = sagemaker_backends[twin.account_id][twin.region]
    made: list[str] = []

    def create(params: dict[str, Any], container: dict[str, Any]) -> None:
        # Straight into moto's backend: this runs inside the request's own hook.
        backend.create_model(
            model_name=params["ModelName"],
            execution_role_arn=params["ExecutionRoleArn"],
            primary_container=container,
            vpc_config=None,
            containers=None,
            tags=None,
        )

    def create_first(params: dict[str, Any]) -> bool:
        # The earlier attempt: the model exists (this build's data) before the call answers.
        if not made:
            create(params, params["PrimaryContainer"])
            made.append(params["ModelName"])
        return True

    twin.faults.fail(
        "sagemaker",
        "CreateModel",
        code="ValidationException",
        message="Cannot create already existing model",
        when=create_first,
    )
    description, _ = run_build(twin, "rel-model-exists")
    assert description["status"] == "SUCCEEDED", description
    output = json.loads(description["output"])
    assert output["model"]["model_arn"].endswith(f"model/{made[0]}")
    assert packages_of(twin, description["executionArn"])

    def someone_elses(params: dict[str, Any]) -> bool:
        if params["ModelName"] not in backend._models:
            create(params, {**params["PrimaryContainer"], "ModelDataUrl": "s3://other/m.tar.gz"})
        return True

    twin.faults.clear()
    twin.faults.fail(
        "sagemaker",
        "CreateModel",
        code="ValidationException",
        message="Cannot create already existing model",
        when=someone_elses,
    )
    threshold = threshold_parameter(twin)
    description, notes = run_build(twin, "rel-model-name-taken")
    assert_failed_cleanly(
        twin,
        description,
        notes,
        threshold,
        step="Create The Model",
        error="SageMaker.AmazonSageMakerException",
        why=("already existing model",),
    )


def test_given_sns_down_when_a_build_fails_then_the_execution_still_ends_with_its_own_error(
    twin: Any,
) -> None:
    """The failure report cannot publish (SNS throttles every call, the SDK's retries run out):
    the execution must still end with the build's error and reason, not the notifier's."""
    threshold = threshold_parameter(twin)
    twin.component("sagemaker").inject_training_failure("the spot instance was reclaimed")
    publish = twin.faults.fail("sns", "Publish", code="Throttled", times=None)
    outcome = builds.start(twin, "manual", "rel-sns-down")
    assert outcome.status == "started"
    description = twin.wait_for_execution(outcome.execution_arn, timeout=300)
    assert publish.injected >= 3  # the handler's client tried (standard retries)
    assert description["status"] == "FAILED"
    assert description["error"] == "TrainingFailed", description
    assert "Train The Model" in description["cause"]
    assert "the spot instance was reclaimed" in description["cause"]
    assert "notification" in description["cause"]
    assert packages_of(twin, description["executionArn"]) == []
    assert threshold_parameter(twin) == threshold
    assert_production_serves(twin)


# -- SNS down after the gate; SSM throttled (the runbook review) --------------------------------
@pytest.mark.parametrize("gate", ["registered", "rejected"])
def test_given_sns_down_when_the_gate_has_decided_then_the_execution_ends_saying_what_happened(
    twin: Any, gate: str
) -> None:
    """The notification is lost after its retries: the execution still reaches a defined end,
    "Notification Not Sent", whose error and cause say what became of the model."""
    twin.faults.retry_scale = 0.01
    topic = twin.physical_id("NotificationTopic")
    if gate == "rejected":
        # The sanity cap rejects (the threshold no longer gates: issue 15).
        builds.put_parameter(twin, "validation", {**GATE, "max_loss": 0.0001})
    publish = twin.faults.fail(
        "sns", "Publish", code="Throttled", times=None, when=lambda p: p.get("TopicArn") == topic
    )
    try:
        description, notes = run_build(twin, f"rel-gate-sns-down-{gate}")
    finally:
        builds.put_parameter(twin, "validation", GATE)
    assert notes == []
    assert publish.injected == 4  # 1 + the state's MaxAttempts 3
    assert description["status"] == "FAILED", description
    events = history(twin, description["executionArn"])
    assert failed_attempts(events, "SNS.ThrottledException") == 4
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]
    notice = "Registration" if gate == "registered" else "Rejection"
    assert entered[-2:] == [f"Explain The Lost {notice} Notice", "Notification Not Sent"]
    packages = packages_of(twin, description["executionArn"])
    if gate == "registered":
        (package,) = packages
        assert package["ModelApprovalStatus"] == "PendingManualApproval"
        assert description["error"] == "NotificationNotSent"
        assert f"Model package {package['ModelPackageArn']} WAS registered" in description["cause"]
    else:
        assert packages == []
        assert description["error"] == "ModelRejected"
        assert "the rejection notification was not sent" in description["cause"]
    assert "SNS.ThrottledException" in description["cause"]
    assert_production_serves(twin)


def test_given_ssm_throttled_past_the_sdk_retries_then_the_step_is_retried_and_the_build_succeeds(
    twin: Any,
) -> None:
    """GetParameter throttled on every attempt of the handler's client: AwsThrottled (not a
    ConfigError), which "Prepare The Data" retries; a missing or corrupt parameter stays a
    ConfigError (test_given_a_missing_or_corrupt_parameter_then_the_build_fails_naming_it)."""
    twin.faults.retry_scale = 0.01
    throttle = twin.faults.fail(
        "ssm", "GetParameter", times=3, when=lambda p: p.get("Name") == "/feecast/target"
    )
    description, notes = run_build(twin, "rel-ssm-throttled")
    assert description["status"] == "SUCCEEDED", description
    assert throttle.injected == 3
    assert failed_attempts(history(twin, description["executionArn"]), "AwsThrottled") == 1
    (package,) = packages_of(twin, description["executionArn"])
    (note,) = notes
    assert package["ModelPackageArn"] in note["message"]
    assert_production_serves(twin)
