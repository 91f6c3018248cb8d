"""The twin's SageMaker: jobs run the local DeepAR, endpoints serve it, events are emitted.

These tests deploy a minimal template (just a bucket) so they exercise the SageMaker component
alone; the application's own stacks are covered by the integration and lifecycle suites.
Tests that train are marked slow; the others reuse one tiny model trained once per session.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError as BotoClientError

from feecast_twin import Twin

IMAGE = "224300973850.dkr.ecr.eu-west-1.amazonaws.com/forecasting-deepar:1"
ROLE = "arn:aws:iam::123456789012:role/feecast-sagemaker"
BUCKET = "feecast-twin-sm"
PL = 30
HP = {
    "epochs": "2",
    "prediction_length": str(PL),
    "context_length": str(PL),
    "time_freq": "1min",
    "mini_batch_size": "32",
    "num_cells": "16",
    "num_layers": "1",
    "test_quantiles": "[0.1, 0.5, 0.9]",
}
START = "2026-01-05 00:00:00"
MINI_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  ArtifactBucket:
    Type: AWS::S3::Bucket
"""


def fee_series(n: int = 600, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    y = 40 + 8 * np.sin(np.arange(n) / 25) + rng.normal(0, 1.5, n)
    return [round(float(v), 3) for v in y]


@pytest.fixture(scope="session")
def tiny_model_tar() -> bytes:
    """One small DeepAR model, trained once for every test that only needs a model."""
    from feecast_twin.deepar import run_training

    y = fee_series()
    record = json.dumps({"start": START, "target": y}).encode()
    return run_training({"train": [("train.json", record)]}, HP).model_tar


@pytest.fixture
def twin(tmp_path: Path, make_twin: Callable[..., Twin]) -> Iterator[Twin]:
    """A twin of a one-bucket template with only the SageMaker component (conftest's factory)."""
    template = tmp_path / "template.yaml"
    template.write_text(MINI_TEMPLATE)
    tw = make_twin(template=template, components=["sagemaker"])
    tw.client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": tw.region}
    )
    yield tw
    component = next(c for c in tw.components if c.name == "sagemaker")
    tw.settle()
    assert component.errors == []  # no unexpected exception in a worker thread


def put(twin: Twin, key: str, body: bytes | str) -> str:
    twin.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
    return f"s3://{BUCKET}/{key}"


def read(twin: Twin, key: str) -> bytes:
    return twin.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()


def channel(name: str, uri: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "ContentType": "application/json",
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}},
    }


def start_training(
    twin: Twin, name: str, hp: dict[str, str], channels: list[dict[str, Any]], **extra: Any
) -> None:
    twin.client("sagemaker").create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        HyperParameters=hp,
        InputDataConfig=channels,
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        **extra,
    )


def capture_events(twin: Twin, detail_type: str) -> str:
    """An EventBridge rule sending `detail_type` events from aws.sagemaker to a new SQS queue."""
    sqs, events = twin.client("sqs"), twin.client("events")
    url = sqs.create_queue(QueueName=detail_type.replace(" ", "-").lower())["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule = detail_type.replace(" ", "")
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps({"source": ["aws.sagemaker"], "detail-type": [detail_type]}),
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    return url


def drain(twin: Twin, url: str) -> list[dict[str, Any]]:
    twin.settle()
    out = []
    while True:
        msgs = (
            twin.client("sqs")
            .receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            .get("Messages", [])
        )
        if not msgs:
            return out
        out.extend(json.loads(m["Body"]) for m in msgs)
        for m in msgs:
            twin.client("sqs").delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def deploy_model(twin: Twin, name: str, model_url: str) -> None:
    sm = twin.client("sagemaker")
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": model_url},
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 1},
            }
        ],
    )


def forecast_request(n: int = 200, **config: Any) -> str:
    return json.dumps(
        {"instances": [{"start": START, "target": fee_series(n, seed=3)}], "configuration": config}
    )


# -- training jobs ------------------------------------------------------------------------------
@pytest.mark.slow
def test_given_train_and_test_channels_when_training_then_completed_with_model_metrics_and_events(
    twin: Twin,
) -> None:
    y = fee_series(500)
    train = put(twin, "data/train/train.json", json.dumps({"start": START, "target": y[:-PL]}))
    test = put(twin, "data/test/test.json", json.dumps({"start": START, "target": y}))
    events = capture_events(twin, "SageMaker Training Job State Change")
    start_training(
        twin,
        "job-ok",
        HP,
        [
            channel("train", train.rsplit("/", 1)[0] + "/"),
            channel("test", test.rsplit("/", 1)[0] + "/"),
        ],
        CheckpointConfig={"S3Uri": f"s3://{BUCKET}/checkpoints/job-ok"},
    )
    sm = twin.client("sagemaker")
    assert sm.describe_training_job(TrainingJobName="job-ok")["TrainingJobStatus"] == "InProgress"
    twin.settle()

    job = sm.describe_training_job(TrainingJobName="job-ok")
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert (
        job["ModelArtifacts"]["S3ModelArtifacts"]
        == f"s3://{BUCKET}/models/job-ok/output/model.tar.gz"
    )
    assert read(twin, "models/job-ok/output/model.tar.gz")[:2] == b"\x1f\x8b"
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert set(metrics) == {"test:RMSE", "test:mean_wQuantileLoss", "train:final_loss"}
    assert 0 < metrics["test:mean_wQuantileLoss"] < 1 and metrics["test:RMSE"] > 0
    keys = twin.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="checkpoints/job-ok/")[
        "KeyCount"
    ]
    assert keys >= 3
    log_lines = [
        e["message"]
        for s in twin.client("logs").describe_log_streams(
            logGroupName="/aws/sagemaker/TrainingJobs"
        )["logStreams"]
        for e in twin.client("logs").get_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=s["logStreamName"]
        )["events"]
    ]
    assert any("mean_wQuantileLoss" in line for line in log_lines)

    received = drain(twin, events)
    statuses = [
        (e["detail"]["TrainingJobStatus"], e["detail"]["SecondaryStatus"]) for e in received
    ]
    assert statuses[0] == ("InProgress", "Starting") and statuses[-1] == ("Completed", "Completed")
    assert received[-1]["resources"] == [job["TrainingJobArn"]]
    assert received[-1]["detail"]["ModelArtifacts"]["S3ModelArtifacts"].endswith("model.tar.gz")


@pytest.mark.parametrize(
    ("hp", "series", "reason"),
    [
        (
            {**HP, "epochs": "lots"},
            fee_series(400),
            'ClientError: Invalid hyperparameters: epochs="lots"',
        ),
        (HP, [0.0] * 400, "ClientError: train series 0 is all zeros"),
        (HP, fee_series(200), "ClientError: The training data has 200 observations"),
    ],
)
def test_given_bad_hyperparameters_or_data_when_training_then_failed_with_client_error(
    twin: Twin, hp: dict[str, str], series: list[float], reason: str
) -> None:
    uri = put(twin, "bad/train/train.json", json.dumps({"start": START, "target": series}))
    start_training(twin, "job-bad", hp, [channel("train", uri)])
    twin.settle()
    job = twin.client("sagemaker").describe_training_job(TrainingJobName="job-bad")
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(reason)
    assert "ModelArtifacts" not in job


def test_given_no_objects_under_the_train_prefix_when_training_then_failed(twin: Twin) -> None:
    start_training(twin, "job-empty", HP, [channel("train", f"s3://{BUCKET}/nothing/")])
    twin.settle()
    job = twin.client("sagemaker").describe_training_job(TrainingJobName="job-empty")
    assert job["TrainingJobStatus"] == "Failed"
    assert "No S3 objects found under S3 URL" in job["FailureReason"]


def test_given_an_existing_job_name_when_creating_again_then_resource_in_use(twin: Twin) -> None:
    start_training(twin, "job-dup", {**HP, "epochs": "x"}, [channel("train", f"s3://{BUCKET}/x/")])
    with pytest.raises(BotoClientError, match="must be unique"):
        start_training(twin, "job-dup", HP, [channel("train", f"s3://{BUCKET}/x/")])


# -- batch transform ----------------------------------------------------------------------------
def test_given_json_lines_when_transforming_then_one_output_line_per_input_line(
    twin: Twin, tiny_model_tar: bytes
) -> None:
    model_url = put(twin, "models/tiny/model.tar.gz", tiny_model_tar)
    twin.client("sagemaker").create_model(
        ModelName="tiny",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": model_url},
    )
    lengths = (300, 120, 450)
    put(
        twin,
        "batch/in/series.jsonl",
        "\n".join(json.dumps({"start": START, "target": fee_series(n, seed=n)}) for n in lengths)
        + "\n",
    )
    events = capture_events(twin, "SageMaker Transform Job State Change")
    twin.client("sagemaker").create_transform_job(
        TransformJobName="tr-ok",
        ModelName="tiny",
        BatchStrategy="SingleRecord",
        Environment={
            "DEEPAR_INFERENCE_CONFIG": json.dumps(
                {
                    "num_samples": 20,
                    "output_types": ["mean", "quantiles"],
                    "quantiles": ["0.1", "0.5", "0.9"],
                }
            )
        },
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/batch/in/"}
            },
            "ContentType": "application/jsonlines",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/batch/out", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    twin.settle()
    job = twin.client("sagemaker").describe_transform_job(TransformJobName="tr-ok")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    lines = read(twin, "batch/out/series.jsonl.out").decode().splitlines()
    assert len(lines) == len(lengths)
    for line in lines:
        row = json.loads(line)
        assert set(row) == {"mean", "quantiles"} and set(row["quantiles"]) == {"0.1", "0.5", "0.9"}
        assert len(row["mean"]) == PL
        assert all(
            lo <= hi
            for lo, hi in zip(row["quantiles"]["0.1"], row["quantiles"]["0.9"], strict=True)
        )
    statuses = [e["detail"]["TransformJobStatus"] for e in drain(twin, events)]
    assert statuses == ["InProgress", "Completed"]


def test_given_an_unknown_model_when_creating_a_transform_job_then_validation_error(
    twin: Twin,
) -> None:
    with pytest.raises(BotoClientError, match="Could not find model"):
        twin.client("sagemaker").create_transform_job(
            TransformJobName="tr-x",
            ModelName="no-such-model",
            TransformInput={
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/in/"}
                }
            },
            TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/"},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        )


# -- Step Functions .sync --------------------------------------------------------------------------
def _pipeline_definition() -> dict[str, Any]:
    return {
        "StartAt": "Train The Model",
        "States": {
            "Train The Model": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                "Parameters": {
                    "TrainingJobName.$": "$.name",
                    "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
                    "RoleArn": ROLE,
                    "HyperParameters.$": "$.hyperparameters",
                    "InputDataConfig": [channel("train", f"s3://{BUCKET}/sfn/train/")],
                    "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/sfn/models"},
                    "ResourceConfig": {
                        "InstanceType": "ml.m5.large",
                        "InstanceCount": 1,
                        "VolumeSizeInGB": 5,
                    },
                    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
                },
                "ResultPath": "$.training",
                "Next": "Create The Model",
            },
            "Create The Model": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createModel",
                "Parameters": {
                    "ModelName.$": "$.name",
                    "ExecutionRoleArn": ROLE,
                    "PrimaryContainer": {
                        "Image": IMAGE,
                        "ModelDataUrl.$": "$.training.ModelArtifacts.S3ModelArtifacts",
                    },
                },
                "ResultPath": "$.model",
                "Next": "Forecast The Holdout",
            },
            "Forecast The Holdout": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTransformJob.sync",
                "Parameters": {
                    "TransformJobName.$": "$.name",
                    "ModelName.$": "$.name",
                    "BatchStrategy": "SingleRecord",
                    "TransformInput": {
                        "DataSource": {
                            "S3DataSource": {
                                "S3DataType": "S3Prefix",
                                "S3Uri": f"s3://{BUCKET}/sfn/batch/",
                            }
                        },
                        "SplitType": "Line",
                    },
                    "TransformOutput": {
                        "S3OutputPath": f"s3://{BUCKET}/sfn/out",
                        "AssembleWith": "Line",
                    },
                    "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
                },
                "ResultPath": "$.transform",
                "End": True,
            },
        },
    }


def _state_machine(twin: Twin) -> str:
    put(twin, "sfn/train/train.json", json.dumps({"start": START, "target": fee_series(400)}))
    put(twin, "sfn/batch/in.jsonl", json.dumps({"start": START, "target": fee_series(300)}) + "\n")
    return twin.client("stepfunctions").create_state_machine(
        name="sagemaker-sync", definition=json.dumps(_pipeline_definition()), roleArn=ROLE
    )["stateMachineArn"]


@pytest.mark.slow
def test_given_sync_integrations_when_the_state_machine_runs_then_it_trains_models_and_transforms(
    twin: Twin,
) -> None:
    arn = _state_machine(twin)
    execution = twin.client("stepfunctions").start_execution(
        stateMachineArn=arn,
        name="ok",
        input=json.dumps({"name": "sfn-ok", "hyperparameters": {**HP, "epochs": "1"}}),
    )["executionArn"]
    result = twin.wait_for_execution(execution, timeout=300)
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    # .sync returns the Describe* response, timestamps as epoch milliseconds.
    assert output["training"]["TrainingJobStatus"] == "Completed"
    assert isinstance(output["training"]["CreationTime"], int)
    assert output["model"]["ModelArn"].endswith(":model/sfn-ok")
    assert output["transform"]["TransformJobStatus"] == "Completed"
    assert len(read(twin, "sfn/out/in.jsonl.out").decode().splitlines()) == 1


def test_given_a_job_that_fails_when_run_with_sync_then_the_task_fails_with_the_reason(
    twin: Twin,
) -> None:
    arn = _state_machine(twin)
    sfn = twin.client("stepfunctions")
    failing = sfn.start_execution(
        stateMachineArn=arn,
        name="bad",
        input=json.dumps({"name": "sfn-bad", "hyperparameters": {**HP, "epochs": "0"}}),
    )["executionArn"]
    result = twin.wait_for_execution(failing, timeout=120)
    assert result["status"] == "FAILED"
    assert result["error"] == "States.TaskFailed"
    cause = json.loads(result["cause"])
    assert cause["TrainingJobStatus"] == "Failed" and cause["FailureReason"].startswith(
        "ClientError:"
    )

    again = sfn.start_execution(
        stateMachineArn=arn,
        name="dup",
        input=json.dumps({"name": "sfn-bad", "hyperparameters": HP}),
    )["executionArn"]
    result = twin.wait_for_execution(again, timeout=120)
    assert result["status"] == "FAILED"
    # A modeled SageMaker error keeps its name, as Step Functions reports it on AWS.
    assert result["error"] == "SageMaker.ResourceInUseException"
    assert "Error Code: ResourceInUse" in result["cause"]


# -- model packages -----------------------------------------------------------------------------
def test_given_a_package_when_created_and_approved_then_state_change_events_carry_its_fields(
    twin: Twin,
) -> None:
    sm = twin.client("sagemaker")
    events = capture_events(twin, "SageMaker Model Package State Change")
    sm.create_model_package_group(ModelPackageGroupName="feecast-models")
    arn = sm.create_model_package(
        ModelPackageGroupName="feecast-models",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/m/model.tar.gz"}],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": f"s3://{BUCKET}/m/eval.json",
                }
            }
        },
        CustomerMetadataProperties={"mean_wQuantileLoss": "0.21", "threshold": "0.24"},
    )["ModelPackageArn"]
    assert (
        sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
        == "PendingManualApproval"
    )

    sm.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="looks good"
    )
    described = sm.describe_model_package(ModelPackageName=arn)
    assert described["CustomerMetadataProperties"] == {
        "mean_wQuantileLoss": "0.21",
        "threshold": "0.24",
    }

    created, approved = drain(twin, events)
    assert created["detail"]["ModelApprovalStatus"] == "PendingManualApproval"
    assert approved["resources"] == [arn]
    detail = approved["detail"]
    assert detail["ModelApprovalStatus"] == "Approved"
    assert detail["ModelPackageArn"] == arn and detail["ModelPackageGroupName"] == "feecast-models"
    assert detail["ModelPackageVersion"] == 1
    assert detail["CustomerMetadataProperties"]["mean_wQuantileLoss"] == "0.21"
    assert detail["InferenceSpecification"]["Containers"][0]["ModelDataUrl"].endswith(
        "model.tar.gz"
    )
    assert detail["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith("eval.json")
    assert set(detail["UpdatedModelPackageFields"]) == {
        "ModelApprovalStatus",
        "ApprovalDescription",
    }
    assert detail["CreationTime"].endswith("Z")


# -- endpoints --------------------------------------------------------------------------------------
def test_given_a_model_when_the_endpoint_is_created_then_in_service_event_and_deepar_answers(
    twin: Twin, tiny_model_tar: bytes
) -> None:
    deploy_model(twin, "m1", put(twin, "models/m1/model.tar.gz", tiny_model_tar))
    events = capture_events(twin, "SageMaker Endpoint State Change")
    sm, runtime = twin.client("sagemaker"), twin.client("sagemaker-runtime")
    sm.create_endpoint(EndpointName="staging", EndpointConfigName="m1")
    assert sm.describe_endpoint(EndpointName="staging")["EndpointStatus"] in (
        "Creating",
        "InService",
    )
    twin.settle()
    assert sm.describe_endpoint(EndpointName="staging")["EndpointStatus"] == "InService"
    received = drain(twin, events)
    assert [e["detail"]["EndpointStatus"] for e in received] == ["CREATING", "IN_SERVICE"]
    assert received[-1]["detail"]["EndpointName"] == "staging"
    assert isinstance(received[-1]["detail"]["CreationTime"], float)

    response = runtime.invoke_endpoint(
        EndpointName="staging",
        ContentType="application/json",
        Body=forecast_request(
            num_samples=25, output_types=["mean", "quantiles", "samples"], quantiles=["0.1", "0.9"]
        ),
    )
    assert response["InvokedProductionVariant"] == "AllTraffic"
    prediction = json.loads(response["Body"].read())["predictions"][0]
    assert len(prediction["mean"]) == PL and set(prediction["quantiles"]) == {"0.1", "0.9"}
    assert len(prediction["samples"]) == 25

    with pytest.raises(BotoClientError) as bad:
        runtime.invoke_endpoint(
            EndpointName="staging", ContentType="application/json", Body=b'{"instances": []}'
        )
    assert bad.value.response["Error"]["Code"] == "ModelError"
    with pytest.raises(BotoClientError, match="Endpoint nowhere of account 123456789012 not found"):
        runtime.invoke_endpoint(
            EndpointName="nowhere", ContentType="application/json", Body=forecast_request()
        )

    sm.delete_endpoint(EndpointName="staging")
    assert [e["detail"]["EndpointStatus"] for e in drain(twin, events)] == ["DELETING"]


def test_given_an_in_service_endpoint_when_updated_then_the_new_model_serves(
    twin: Twin, tiny_model_tar: bytes
) -> None:
    url = put(twin, "models/m1/model.tar.gz", tiny_model_tar)
    deploy_model(twin, "m1", url)
    deploy_model(twin, "m2", url)
    sm = twin.client("sagemaker")
    sm.create_endpoint(EndpointName="prod", EndpointConfigName="m1")
    twin.settle()
    events = capture_events(twin, "SageMaker Endpoint State Change")
    sm.update_endpoint(
        EndpointName="prod",
        EndpointConfigName="m2",
        DeploymentConfig={
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 60}
            },
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "feecast-accuracy"}]},
        },
    )
    twin.settle()
    described = sm.describe_endpoint(EndpointName="prod")
    assert described["EndpointStatus"] == "InService" and described["EndpointConfigName"] == "m2"
    assert described["LastDeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"] == [
        {"AlarmName": "feecast-accuracy"}
    ]
    assert [e["detail"]["EndpointStatus"] for e in drain(twin, events)] == [
        "UPDATING",
        "IN_SERVICE",
    ]
    body = twin.client("sagemaker-runtime").invoke_endpoint(
        EndpointName="prod", ContentType="application/json", Body=forecast_request()
    )["Body"]
    assert len(json.loads(body.read())["predictions"][0]["mean"]) == PL


def test_given_a_rollback_alarm_in_alarm_when_updating_then_the_old_config_keeps_serving(
    twin: Twin, tiny_model_tar: bytes
) -> None:
    url = put(twin, "models/m1/model.tar.gz", tiny_model_tar)
    deploy_model(twin, "m1", url)
    deploy_model(twin, "m2", url)
    sm, cw = twin.client("sagemaker"), twin.client("cloudwatch")
    sm.create_endpoint(EndpointName="prod", EndpointConfigName="m1")
    twin.settle()
    cw.put_metric_alarm(
        AlarmName="feecast-errors",
        MetricName="Invocation5XXErrors",
        Namespace="AWS/SageMaker",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cw.set_alarm_state(AlarmName="feecast-errors", StateValue="ALARM", StateReason="test")
    sm.update_endpoint(
        EndpointName="prod",
        EndpointConfigName="m2",
        DeploymentConfig={
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "feecast-errors"}]}
        },
    )
    twin.settle()
    described = sm.describe_endpoint(EndpointName="prod")
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == "m1"
    assert (
        "rolled back" in described["FailureReason"]
        and "feecast-errors" in described["FailureReason"]
    )


def test_given_bad_model_data_when_the_endpoint_is_created_then_failed_event_with_reason(
    twin: Twin,
) -> None:
    deploy_model(twin, "broken", put(twin, "models/broken/model.tar.gz", b"not a tarball"))
    events = capture_events(twin, "SageMaker Endpoint State Change")
    sm = twin.client("sagemaker")
    sm.create_endpoint(EndpointName="broken", EndpointConfigName="broken")
    twin.settle()
    described = sm.describe_endpoint(EndpointName="broken")
    assert described["EndpointStatus"] == "Failed"
    assert "Failed to extract model data archive" in described["FailureReason"]
    received = drain(twin, events)
    assert [e["detail"]["EndpointStatus"] for e in received] == ["CREATING", "FAILED"]
    assert "FailureReason" in received[-1]["detail"]
    with pytest.raises(BotoClientError, match="not found"):
        twin.client("sagemaker-runtime").invoke_endpoint(
            EndpointName="broken", ContentType="application/json", Body=forecast_request()
        )
