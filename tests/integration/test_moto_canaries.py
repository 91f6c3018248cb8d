"""Canaries: one named test per moto 5.2.5 behaviour or internal the twin relies on or patches.

When a moto upgrade breaks the twin, the failing test's name says which assumption changed
(and docs/local-twin.md says where the twin depends on it). These run on bare moto, no Twin.
"""

from __future__ import annotations

import inspect
import io
import json
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

REGION = "eu-west-1"
ACCOUNT = "123456789012"
ROLE_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", "")
    return buf.getvalue()


def _function(name: str = "fn") -> str:
    role = boto3.client("iam").create_role(
        RoleName=f"{name}-role", AssumeRolePolicyDocument=ROLE_TRUST
    )
    return str(
        boto3.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="app.lambda_handler",
            Code={"ZipFile": _zip()},
            Environment={"Variables": {"A": "1"}},
        )["FunctionArn"]
    )


@pytest.fixture
def fake_invoke(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Replace _invoke_lambda as the twin does; errored when the event asks for it."""
    from moto.awslambda.models import LambdaFunction

    calls: list[Any] = []

    def invoke(fn: Any, event: Any = None) -> tuple[str, bool, str]:
        calls.append((fn.function_name, event))
        if isinstance(event, dict) and event.get("fail"):
            return json.dumps({"errorMessage": "no", "errorType": "ModelNotReadyError"}), True, ""
        return json.dumps({"echo": event}), False, "log line"

    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", invoke)
    return calls


# ---------------------------------------------------------------------- Lambda
def test_lambda_invoke_lambda_signature_is_self_event() -> None:
    from moto.awslambda.models import LambdaFunction

    params = list(inspect.signature(LambdaFunction._invoke_lambda).parameters)
    assert params == ["self", "event"]


def test_lambda_direct_invoke_goes_through_invoke_lambda_with_parsed_event(
    aws: None, fake_invoke: list[Any]
) -> None:
    _function()
    resp = boto3.client("lambda").invoke(FunctionName="fn", Payload=b'{"x": 1}')
    assert json.loads(resp["Payload"].read()) == {"echo": {"x": 1}}
    assert fake_invoke == [("fn", {"x": 1})]


def test_lambda_errored_invoke_sets_function_error(aws: None, fake_invoke: list[Any]) -> None:
    _function()
    resp = boto3.client("lambda").invoke(FunctionName="fn", Payload=b'{"fail": true}')
    assert resp["FunctionError"] == "Handled"
    assert json.loads(resp["Payload"].read())["errorType"] == "ModelNotReadyError"


def test_lambda_function_model_has_the_attributes_the_runtime_reads(aws: None) -> None:
    from moto.awslambda.models import lambda_backends

    _function()
    fn = lambda_backends[ACCOUNT][REGION].get_function("fn")
    for attr in (
        "function_name",
        "function_arn",
        "memory_size",
        "timeout",
        "run_time",
        "logs_backend",
        "logs_group_name",
    ):
        assert hasattr(fn, attr), attr
    assert fn.environment_vars == {"A": "1"}


def test_lambda_create_function_requires_an_existing_iam_role(aws: None) -> None:
    with pytest.raises(Exception, match="cannot be assumed"):
        boto3.client("lambda").create_function(
            FunctionName="norole",
            Runtime="python3.12",
            Role=f"arn:aws:iam::{ACCOUNT}:role/missing",
            Handler="app.lambda_handler",
            Code={"ZipFile": _zip()},
        )


def test_iam_rejects_policies_without_version(aws: None) -> None:
    # Why the loader adds Version 2012-10-17 to inline policies that omit it (IAM accepts them).
    iam = boto3.client("iam")
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=ROLE_TRUST)
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.put_role_policy(
            RoleName="r",
            PolicyName="p",
            PolicyDocument=json.dumps(
                {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
            ),
        )


# ---------------------------------------------------------------------- EventBridge
def test_events_send_to_targets_signature() -> None:
    from moto.events.models import Rule

    params = list(inspect.signature(Rule.send_to_targets).parameters)
    assert params == ["self", "original_event", "transform_input"]


def _rule_with_lambda_target(schedule: bool = False) -> None:
    arn = _function()
    events = boto3.client("events")
    if schedule:
        events.put_rule(Name="r", ScheduleExpression="rate(5 minutes)")
    else:
        events.put_rule(Name="r", EventPattern=json.dumps({"source": ["a"]}))
    events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": arn}])


def test_events_lambda_target_dispatch_is_not_implemented(aws: None) -> None:
    from moto.events.models import events_backends

    _rule_with_lambda_target()
    with pytest.raises(NotImplementedError):
        events_backends[ACCOUNT][REGION].put_events(
            [{"Source": "a", "DetailType": "d", "Detail": "{}"}]
        )


def test_events_schedule_only_rule_matches_every_event(aws: None) -> None:
    # The moto bug the twin works around: an empty pattern matches anything.
    from moto.events.models import events_backends

    _rule_with_lambda_target(schedule=True)
    rule = events_backends[ACCOUNT][REGION].event_buses["default"].rules["r"]
    assert rule.event_pattern.get_pattern() == {}
    assert rule.event_pattern.matches_event({"source": "anything", "detail": {}})
    assert rule.scheduled_expression == "rate(5 minutes)" and rule.state == "ENABLED"


def test_events_put_events_builds_message_with_unix_time_and_calls_each_rule(aws: None) -> None:
    from moto.events.models import Rule, events_backends

    boto3.client("events").put_rule(Name="r", EventPattern=json.dumps({"source": ["a"]}))
    seen: list[Any] = []
    original = Rule.send_to_targets
    Rule.send_to_targets = lambda self, event, transform_input=True: seen.append(event)  # type: ignore[method-assign]
    try:
        events_backends[ACCOUNT][REGION].put_events(
            [{"Source": "a", "DetailType": "d", "Detail": '{"k": 1}', "Time": 1767571200.0}]
        )
    finally:
        Rule.send_to_targets = original  # type: ignore[method-assign]
    (event,) = seen
    assert {
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    } <= set(event)
    assert event["time"] == 1767571200.0 and event["detail"] == {"k": 1}


# ---------------------------------------------------------------------- Scheduler
def test_scheduler_backend_exposes_schedule_fields(aws: None) -> None:
    from moto.scheduler.models import scheduler_backends

    boto3.client("scheduler").create_schedule(
        Name="s",
        ScheduleExpression="cron(0 * * * ? *)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn",
            "RoleArn": "arn:aws:iam::1:role/r",
            "Input": "{}",
        },
        State="DISABLED",
    )
    backend = scheduler_backends[ACCOUNT][REGION]
    sched = backend.schedule_groups["default"].schedules["s"]
    assert sched.schedule_expression == "cron(0 * * * ? *)"
    assert sched.schedule_expression_timezone == "UTC"
    assert sched.state == "DISABLED" and sched.target["Input"] == "{}"
    for attr in (
        "arn",
        "group_name",
        "start_date",
        "end_date",
        "creation_date",
        "action_after_completion",
    ):
        assert hasattr(sched, attr), attr


# ---------------------------------------------------------------------- Step Functions
def test_sfn_execute_state_machine_config_selects_the_parser_backend(aws: None) -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import get_backend

    assert isinstance(get_backend(ACCOUNT, REGION), StepFunctionsParserBackend)


def test_sfn_executor_intercepts_boto_calls_in_process(aws: None) -> None:
    from moto.core.models import botocore_stubber

    assert botocore_stubber.enabled  # else boto_client_for calls localhost:$MOTO_PORT


def test_sfn_lambda_task_error_name_is_the_payload_error_type(
    aws: None, fake_invoke: list[Any]
) -> None:
    arn = _function()
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": arn,
                "Catch": [{"ErrorEquals": ["ModelNotReadyError"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
        },
    }
    sfn = boto3.client("stepfunctions")
    sm = sfn.create_state_machine(
        name="sm", definition=json.dumps(definition), roleArn=f"arn:aws:iam::{ACCOUNT}:role/r"
    )
    ex = sfn.start_execution(
        stateMachineArn=sm["stateMachineArn"], name="e1", input='{"fail": true}'
    )
    for _ in range(500):
        desc = sfn.describe_execution(executionArn=ex["executionArn"])
        if desc["status"] != "RUNNING":
            break
        time.sleep(0.01)
    assert desc["status"] == "SUCCEEDED"
    history = sfn.get_execution_history(executionArn=ex["executionArn"])["events"]
    (failed,) = [e for e in history if e["type"] == "LambdaFunctionFailed"]
    assert failed["lambdaFunctionFailedEventDetails"]["error"] == "ModelNotReadyError"


def test_sfn_execution_hooks_the_twin_wraps_exist() -> None:
    from moto.stepfunctions.parser.asl.eval.callback.callback import (
        CallbackEndpoint,
        CallbackPoolManager,
    )
    from moto.stepfunctions.parser.backend.execution import (
        BaseExecutionWorkerCommunication,
        Execution,
    )
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends  # noqa: F401

    assert callable(Execution.start) and callable(BaseExecutionWorkerCommunication.terminated)
    assert "_pool" in CallbackPoolManager.__init__.__code__.co_names
    endpoint = CallbackEndpoint("id")
    assert endpoint.get_outcome() is None and endpoint.consumer_error is None


# ---------------------------------------------------------------------- observations
def test_cloudwatch_metric_datum_fields(aws: None) -> None:
    from moto.cloudwatch.models import cloudwatch_backends

    boto3.client("cloudwatch").put_metric_data(
        Namespace="ns",
        MetricData=[{"MetricName": "m", "Value": 2.0, "Dimensions": [{"Name": "d", "Value": "v"}]}],
    )
    (datum,) = cloudwatch_backends[ACCOUNT][REGION].get_all_metrics()
    assert (datum.namespace, datum.name, float(datum.value)) == ("ns", "m", 2.0)
    assert [(d.name, d.value) for d in datum.dimensions] == [("d", "v")]
    assert datum.timestamp is not None


def test_sns_topic_keeps_sent_notifications(aws: None) -> None:
    from moto.sns.models import sns_backends

    sns = boto3.client("sns")
    arn = sns.create_topic(Name="t")["TopicArn"]
    sns.publish(TopicArn=arn, Message="hello", Subject="s")
    (sent,) = sns_backends[ACCOUNT][REGION].topics[arn].sent_notifications
    assert sent[1:3] == ("hello", "s")


def test_threaded_moto_server_is_available() -> None:
    from moto.server import ThreadedMotoServer

    assert "port" in inspect.signature(ThreadedMotoServer).parameters
