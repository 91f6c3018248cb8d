"""The twin's fault injection (feecast_twin/faults.py and the SageMaker component's inject_*).

AWS API errors are injected at the HTTP layer: each protocol's error body is parsed by botocore
as AWS's, the SDK's own retries consume injected failures, and Step Functions reports them with
the error names AWS uses, so ASL Retry / Catch clauses match. SageMaker's asynchronous failures
(transform jobs, endpoint creation and update, InvokeEndpoint) end the way SageMaker reports them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from feecast_twin import Twin

ROLE = "arn:aws:iam::123456789012:role/twin-test"
IMAGE = "224300973850.dkr.ecr.eu-west-1.amazonaws.com/forecasting-deepar:1"
BUCKET = "feecast-twin-faults"
START = "2026-01-05 00:00:00"
HP = {
    "epochs": "1",
    "prediction_length": "30",
    "context_length": "30",
    "time_freq": "1min",
    "mini_batch_size": "32",
    "num_cells": "8",
    "num_layers": "1",
}
MINI_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  ArtifactBucket:
    Type: AWS::S3::Bucket
  NotificationTopic:
    Type: AWS::SNS::Topic
"""


@pytest.fixture
def mini(tmp_path: Path, make_twin: Callable[..., Twin]) -> Twin:
    template = tmp_path / "template.yaml"
    template.write_text(MINI_TEMPLATE)
    tw: Twin = make_twin(template=template, components=["sagemaker"])
    tw.client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": tw.region}
    )
    return tw


# -- the HTTP layer -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("service", "operation", "call", "code", "status"),
    [
        ("sagemaker", "ListModels", lambda c: c.list_models(), "ThrottlingException", 400),  # json
        ("sns", "ListTopics", lambda c: c.list_topics(), "Throttled", 429),  # query
        ("s3", "ListBuckets", lambda c: c.list_buckets(), "SlowDown", 503),  # rest-xml
        ("lambda", "ListFunctions", lambda c: c.list_functions(), "ServiceException", 500),
        ("cloudwatch", "ListMetrics", lambda c: c.list_metrics(), "ThrottlingException", 400),
        (
            "ssm",
            "DescribeParameters",
            lambda c: c.describe_parameters(),
            "ThrottlingException",
            400,
        ),
    ],
)
def test_given_a_fault_when_any_client_calls_then_botocore_parses_the_aws_error(
    mini: Twin,
    service: str,
    operation: str,
    call: Callable[[Any], Any],
    code: str,
    status: int,
) -> None:
    # A client that does not retry, as the Step Functions engine's.
    client = boto3.client(
        service,
        region_name=mini.region,
        config=boto3.session.Config(retries={"total_max_attempts": 1}),
    )
    fault = mini.faults.fail(service, operation, code=code, status=status, message="slow down")
    with pytest.raises(ClientError) as raised:
        call(client)
    error = raised.value.response
    assert error["Error"]["Code"] == code and error["Error"]["Message"] == "slow down"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    assert fault.injected == 1 and fault.exhausted and not mini.faults.active
    (record,) = mini.records_of("fault")
    assert record["operation"] == operation and record["code"] == code and record["remaining"] == 0
    call(client)  # the fault was for one call only


def test_given_transient_and_persistent_throttles_then_the_sdk_retry_decides(mini: Twin) -> None:
    ssm = boto3.client("ssm", region_name=mini.region)  # a handler's client: standard retries
    ssm.put_parameter(Name="/feecast/x", Value="1", Type="String")
    mini.faults.fail("ssm", "GetParameter", times=2)
    response = ssm.get_parameter(Name="/feecast/x")
    assert response["Parameter"]["Value"] == "1"
    assert response["ResponseMetadata"]["RetryAttempts"] == 2

    persistent = mini.faults.fail("ssm", "GetParameter", times=None)
    with pytest.raises(ClientError, match="reached max retries: 2"):
        ssm.get_parameter(Name="/feecast/x")
    assert persistent.injected == 3 and not persistent.exhausted
    mini.faults.clear()
    assert ssm.get_parameter(Name="/feecast/x")["ResponseMetadata"]["RetryAttempts"] == 0


def test_given_when_and_after_then_only_the_matching_calls_fail(mini: Twin) -> None:
    ssm = boto3.client(
        "ssm",
        region_name=mini.region,
        config=boto3.session.Config(retries={"total_max_attempts": 1}),
    )
    for name in ("/a", "/b"):
        ssm.put_parameter(Name=name, Value="v", Type="String")
    fault = mini.faults.fail(
        "ssm",
        "get_parameter",
        code="InternalServerError",
        when=lambda p: p["Name"] == "/b",
        after=1,
    )
    assert ssm.get_parameter(Name="/b")["Parameter"]["Value"] == "v"  # `after` lets one through
    assert ssm.get_parameter(Name="/a")["Parameter"]["Value"] == "v"  # `when` does not match
    with pytest.raises(ClientError) as raised:
        ssm.get_parameter(Name="/b")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert fault.injected == 1


def test_given_an_unknown_operation_then_fail_refuses_it(mini: Twin) -> None:
    with pytest.raises(ValueError, match="no operation"):
        mini.faults.fail("sagemaker", "CreateTraningJob")


# -- Step Functions: AWS error names, Retry and Catch ------------------------------------------
def _run_one_task(twin: Twin, name: str, task: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A one-task state machine whose Catch passes the error on; (its output, history types)."""
    definition = {
        "StartAt": "Task",
        "States": {
            "Task": {
                **task,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    arn = twin.client("stepfunctions").create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    execution = twin.start_execution(arn, {})
    description = twin.wait_for_execution(execution, timeout=60)
    assert description["status"] == "SUCCEEDED", description
    return json.loads(description["output"]), [e["type"] for e in twin.execution_history(execution)]


@pytest.mark.twin(template="tests/integration/templates/core.yaml")
def test_given_a_throttled_lambda_then_retry_matches_and_catch_sees_the_aws_name(
    twin: Twin,
) -> None:
    twin.faults.retry_scale = 0.01
    function = twin.att("EchoFunction", "Arn")
    retry = [
        {
            "ErrorEquals": ["Lambda.TooManyRequestsException"],
            "IntervalSeconds": 2,
            "MaxAttempts": 2,
            "BackoffRate": 2,
        }
    ]
    # Transient: one throttle, retried by the state's Retry, then the handler runs.
    twin.faults.fail("lambda", "Invoke", code="TooManyRequestsException", times=1)
    output, history = _run_one_task(
        twin, "transient", {"Type": "Task", "Resource": function, "Retry": retry}
    )
    assert "Error" not in output
    assert history.count("LambdaFunctionFailed") == 1
    assert history.count("LambdaFunctionSucceeded") == 1
    assert [r["seconds"] for r in twin.records_of("sfn-retry-wait")] == [2.0]

    # Persistent, through the optimized integration: 1 + 2 attempts, then Catch.
    fault = twin.faults.fail("lambda", "Invoke", code="TooManyRequestsException", times=None)
    output, history = _run_one_task(
        twin,
        "persistent",
        {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": function, "Payload": {}},
            "Retry": retry,
        },
    )
    assert output["Error"] == "Lambda.TooManyRequestsException"
    assert "Status Code: 429" in output["Cause"] and "TooManyRequestsException" in output["Cause"]
    assert history.count("TaskFailed") == 3 and fault.injected == 3
    assert [r["slept"] for r in twin.records_of("sfn-retry-wait")][1:] == [0.02, 0.04]


@pytest.mark.parametrize(
    ("service", "code", "error"),
    [
        ("sns", "Throttled", "SNS.ThrottledException"),
        ("sns", "ThrottlingException", "SNS.AmazonSNSException"),
        ("sagemaker", "ResourceLimitExceeded", "SageMaker.ResourceLimitExceededException"),
        ("sagemaker", "ThrottlingException", "SageMaker.AmazonSageMakerException"),
    ],
)
def test_given_a_failed_service_integration_then_the_error_has_the_aws_name(
    mini: Twin, service: str, code: str, error: str
) -> None:
    if service == "sns":
        task = {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {"TopicArn": mini.physical_id("NotificationTopic"), "Message": "x"},
        }
        operation = "Publish"
    else:
        task = {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createModel",
            "Parameters": {
                "ModelName": "m",
                "ExecutionRoleArn": ROLE,
                "PrimaryContainer": {"Image": IMAGE},
            },
        }
        operation = "CreateModel"
    mini.faults.fail(service, operation, code=code)
    output, _ = _run_one_task(mini, "one", task)
    assert output["Error"] == error
    assert f"Error Code: {code};" in output["Cause"]


# -- SageMaker's asynchronous failures ---------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_model_tar() -> bytes:
    import numpy as np

    from feecast_twin.deepar import run_training

    y = (40 + 8 * np.sin(np.arange(400) / 25)).round(3).tolist()
    return run_training(
        {"train": [("train.json", json.dumps({"start": START, "target": y}).encode())]}, HP
    ).model_tar


def _model(twin: Twin, name: str, tar: bytes) -> None:
    twin.client("s3").put_object(Bucket=BUCKET, Key=f"{name}/model.tar.gz", Body=tar)
    sm = twin.client("sagemaker")
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/{name}/model.tar.gz"},
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )


def _invoke(twin: Twin, endpoint: str) -> dict[str, Any]:
    body = json.dumps({"instances": [{"start": START, "target": [40.0] * 60}]})
    response = twin.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, ContentType="application/json", Body=body
    )
    return json.loads(response["Body"].read())  # type: ignore[no-any-return]


def _endpoint_events(twin: Twin, name: str) -> list[tuple[str, str | None]]:
    return [
        (r["status"], r.get("failure_reason"))
        for r in twin.records_of("endpoint")
        if r["name"] == name
    ]


@pytest.mark.slow
def test_given_injected_endpoint_failures_then_create_fails_and_update_keeps_serving(
    mini: Twin, tiny_model_tar: bytes
) -> None:
    component: Any = mini.component("sagemaker")
    sm = mini.client("sagemaker")
    _model(mini, "m1", tiny_model_tar)
    _model(mini, "m2", tiny_model_tar)

    component.inject_endpoint_failure("capacity: no ml.m5.large", endpoint_name="staging")
    sm.create_endpoint(EndpointName="prod", EndpointConfigName="m1")  # another name: unaffected
    sm.create_endpoint(EndpointName="staging", EndpointConfigName="m1")
    mini.settle()
    staging = sm.describe_endpoint(EndpointName="staging")
    assert staging["EndpointStatus"] == "Failed"
    assert staging["FailureReason"] == "capacity: no ml.m5.large"
    assert _endpoint_events(mini, "staging") == [
        ("Creating", None),
        ("Failed", "capacity: no ml.m5.large"),
    ]
    assert sm.describe_endpoint(EndpointName="prod")["EndpointStatus"] == "InService"

    component.inject_endpoint_failure("the new model does not start")
    sm.update_endpoint(EndpointName="prod", EndpointConfigName="m2")
    mini.settle()
    prod = sm.describe_endpoint(EndpointName="prod")
    assert prod["EndpointStatus"] == "InService" and prod["EndpointConfigName"] == "m1"
    assert "the new model does not start" in prod["FailureReason"]
    assert [s for s, _ in _endpoint_events(mini, "prod")][-2:] == ["Updating", "InService"]
    assert len(_invoke(mini, "prod")["predictions"][0]["mean"]) == 30  # still serving

    # Invoke failures: a container error (ModelError), then a runtime 503, then it answers.
    component.inject_invoke_failure(status=500, message="out of memory", endpoint_name="prod")
    component.inject_invoke_failure(code="ServiceUnavailable", message="busy", times=1)
    runtime = boto3.client(
        "sagemaker-runtime",
        region_name=mini.region,
        config=boto3.session.Config(retries={"total_max_attempts": 1}),
    )
    body = json.dumps({"instances": [{"start": START, "target": [40.0] * 60}]})
    with pytest.raises(ClientError) as model_error:
        runtime.invoke_endpoint(EndpointName="prod", ContentType="application/json", Body=body)
    error = model_error.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 500 and error["OriginalMessage"] == "out of memory"
    with pytest.raises(ClientError) as unavailable:
        runtime.invoke_endpoint(EndpointName="prod", ContentType="application/json", Body=body)
    assert unavailable.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert unavailable.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert len(_invoke(mini, "prod")["predictions"][0]["mean"]) == 30
    assert component.errors == []


@pytest.mark.slow
def test_given_an_injected_transform_failure_then_the_job_fails_with_the_reason(
    mini: Twin, tiny_model_tar: bytes
) -> None:
    component: Any = mini.component("sagemaker")
    _model(mini, "m1", tiny_model_tar)
    mini.client("s3").put_object(
        Bucket=BUCKET, Key="in/x.json", Body=json.dumps({"start": START, "target": [1.0] * 60})
    )
    component.inject_transform_failure("the container was killed")
    mini.client("sagemaker").create_transform_job(
        TransformJobName="t1",
        ModelName="m1",
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/in"}
            },
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    mini.settle()
    job = mini.client("sagemaker").describe_transform_job(TransformJobName="t1")
    assert job["TransformJobStatus"] == "Failed"
    assert job["FailureReason"] == "AlgorithmError: the container was killed"
    assert [r["status"] for r in mini.records_of("transform-job")] == ["InProgress", "Failed"]
    assert "Contents" not in mini.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="out/")
