"""Canaries: one named test per moto 5.2.5 behaviour or internal the twin relies on or patches.

When a moto upgrade breaks the twin, the failing test's name says which assumption changed
(and docs/local-twin.md says where the twin depends on it). These run on bare moto, no Twin,
except the last section: the patches a deployed twin has made are exactly the ones
docs/twin-patches.md lists, and closing the twin undoes them all.
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
import re
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
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
    deadline = time.monotonic() + 60  # plain moto, no twin records: poll, with a deadline
    while time.monotonic() < deadline:
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


def test_sfn_get_execution_history_ignores_reverse_order_and_the_backend_returns_events(
    aws: None,
) -> None:
    """The twin's GetExecutionHistory patch pages the backend's {"events": [...]} itself."""
    from moto.stepfunctions.responses import get_backend

    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    sfn = boto3.client("stepfunctions")
    sm = sfn.create_state_machine(
        name="sm", definition=json.dumps(definition), roleArn=f"arn:aws:iam::{ACCOUNT}:role/r"
    )
    ex = sfn.start_execution(stateMachineArn=sm["stateMachineArn"], name="e1")
    deadline = time.monotonic() + 60  # plain moto, no twin records: poll, with a deadline
    while time.monotonic() < deadline:
        if sfn.describe_execution(executionArn=ex["executionArn"])["status"] != "RUNNING":
            break
        time.sleep(0.01)
    forward = sfn.get_execution_history(executionArn=ex["executionArn"])["events"]
    backward = sfn.get_execution_history(
        executionArn=ex["executionArn"], reverseOrder=True, maxResults=1
    )["events"]
    assert backward == forward and len(forward) > 1  # moto: order and page size ignored
    raw = get_backend(ACCOUNT, REGION).get_execution_history(ex["executionArn"])
    assert [e["id"] for e in raw["events"]] == [e["id"] for e in forward]


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


def test_dynamodb_sizes_a_set_as_the_sum_of_its_elements(aws: None) -> None:
    # The twin counts a set's size element by element (feecast_twin.core, item size): a string
    # or binary by its bytes, a number by its digits, as moto's DynamoType.size does.
    from moto.dynamodb.models.dynamo_type import DynamoType

    strings = ["a", "é", "0123456789abcdef"]
    assert DynamoType({"SS": strings}).size() == sum(len(s.encode()) for s in strings)
    assert DynamoType({"NS": ["1", "-2.5", "1000"]}).size() == 1 + 4 + 4
    assert DynamoType({"BS": [b"\x00\x01", "AAE="]}).size() == 2 + 4


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


# ---------------------------------------------------------------------- the twin's patches
PATCHES_DOC = Path(__file__).resolve().parents[2] / "docs" / "twin-patches.md"
_ROW = re.compile(
    r"^\| `(?P<target>[^`]+)` \| (?P<kind>replace|add) \| `(?P<by>[^`]+)` \| (?P<reason>.+) \|$"
)


def _documented() -> list[tuple[str, str, str, str]]:
    rows = [_ROW.match(line) for line in PATCHES_DOC.read_text().splitlines()]
    return [(m["target"], m["kind"], m["by"], m["reason"]) for m in rows if m]


def _row(patch: Any) -> tuple[str, str, str, str]:
    return (patch.target, "add" if patch.adds else "replace", patch.made_by, patch.reason)


def test_the_patch_table_lists_each_patch_once() -> None:
    rows = _documented()
    assert len(rows) >= 30, "docs/twin-patches.md: the table did not parse"
    targets = [target for target, *_ in rows]
    assert len(set(targets)) == len(targets), "a patch is listed twice"


def _resolve(dotted: str) -> Any:
    """The module or class a patch's owner names ("moto.events.models.Rule")."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            found = getattr(found, name)
        return found
    raise LookupError(dotted)


def _is_twin_code(value: Any) -> bool:
    value = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
    modules = (getattr(value, "__module__", None) or "", type(value).__module__)
    return any(str(m).startswith("feecast_twin") for m in modules)


def _left_behind(patch: Any) -> str | None:
    """What of `patch` is still in moto after the twin closed, or None."""
    owner = _resolve(patch.owner)
    item = re.fullmatch(r"(?P<name>\w+)\[(?P<key>.+)\]", patch.attribute)
    if item is not None:
        registry = getattr(owner, item["name"])
        key = item["key"]
        if isinstance(registry, dict):
            return "entry still registered" if key in registry else None
        names = [entry[0] if isinstance(entry, tuple) else entry for entry in registry]
        return "entry still registered" if key in names else None
    if patch.adds:
        return "attribute still there" if patch.attribute in vars(owner) else None
    value = inspect.getattr_static(owner, patch.attribute)
    return "the twin's code is still in place" if _is_twin_code(value) else None


def test_a_deployed_twin_made_the_documented_patches_and_closing_undoes_them(
    make_twin: Callable[..., Any],
) -> None:
    from moto.awslambda.models import LambdaFunction
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.sagemaker.responses import SageMakerResponse
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    from feecast_twin import patching

    assert patching.applied() == [], "patches left by an earlier twin in this process"
    originals: dict[tuple[type, str], Any] = {
        (LambdaFunction, "_invoke_lambda"): vars(LambdaFunction)["_invoke_lambda"],
        (BotocoreStubber, "__call__"): vars(BotocoreStubber)["__call__"],
        (AmazonStateLanguageParser, "parse"): vars(AmazonStateLanguageParser)["parse"],
    }

    twin = make_twin()
    made = patching.applied()
    rows = sorted(_row(p) for p in made)
    documented = sorted(_documented())
    missing = "\n".join(
        f"| `{t}` | {k} | `{b}` | {r} |" for t, k, b, r in rows if (t, k, b, r) not in documented
    )
    stale = [row for row in documented if row not in rows]
    assert not missing, f"patches not in docs/twin-patches.md (or changed):\n{missing}"
    assert not stale, f"docs/twin-patches.md lists patches the twin did not make: {stale}"
    assert (
        vars(LambdaFunction)["_invoke_lambda"] is not originals[(LambdaFunction, "_invoke_lambda")]
    )
    assert isinstance(vars(AmazonStateLanguageParser)["parse"], staticmethod)
    assert "update_endpoint" in vars(SageMakerResponse)
    assert "moto.sagemakerfeaturestoreruntime" in sys.modules

    twin.close()
    assert patching.applied() == []
    for (owner, attribute), original in originals.items():
        assert vars(owner)[attribute] is original, f"{owner.__name__}.{attribute} not restored"
    assert "update_endpoint" not in vars(SageMakerResponse)
    assert "moto.sagemakerfeaturestoreruntime" not in sys.modules
    left = {p.target: why for p in made if (why := _left_behind(p)) is not None}
    assert left == {}


def test_a_twin_sizes_sets_as_moto_does_and_refuses_an_item_over_400_kb(
    make_twin: Callable[..., Any],
) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = DynamoType.size  # moto's, before the twin patches it
    values: list[dict[str, Any]] = [
        {"SS": ["a", "é", "0123456789abcdef"]},
        {"SS": []},
        {"SS": ["x", True]},  # malformed, as only a raw request could send it
        {"NS": ["1", "-2.5", "1000", "1E+3"]},
        {"BS": [b"\x00\x01", "AAE=", True]},
        {"M": {"k": {"SS": ["ab"]}, "n": {"N": "12"}}},
        {"L": [{"NS": ["7"]}, {"BOOL": True}, {"NULL": True}]},
        {"S": "plain"},
    ]
    expected = [original(DynamoType(v)) for v in values]
    twin = make_twin()
    assert DynamoType.size is not original
    assert [DynamoType(v).size() for v in values] == expected
    # The sizes test_dynamodb_sizes_a_set_as_the_sum_of_its_elements checks on bare moto.
    assert DynamoType({"SS": ["a", "é", "0123456789abcdef"]}).size() == 1 + 2 + 16
    assert DynamoType({"NS": ["1", "-2.5", "1000"]}).size() == 1 + 4 + 4
    assert DynamoType({"BS": [b"\x00\x01", "AAE="]}).size() == 2 + 4
    assert DynamoType({"M": {"k": {"SS": ["ab"]}}}).size() == 1 + 2  # nested: moto's own code
    ddb = twin.client("dynamodb")
    table = twin.outputs["IngestTableName"]
    key = {"pk": {"S": "MINUTE"}, "sk": {"S": "2026-01-01T00:00:00Z"}}
    keys = [f"{i:06d}" + "x" * 994 for i in range(300)]  # 300 kB: fits
    ddb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="ADD seen :k",
        ExpressionAttributeValues={":k": {"SS": keys}},
    )
    more = [f"{i:06d}" + "y" * 994 for i in range(150)]  # 450 kB in all: over the limit
    with pytest.raises(ddb.exceptions.ClientError, match="Item size to update has exceeded"):
        ddb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET #more = :k",  # moto checks the limit where it sets (not on ADD)
            ExpressionAttributeNames={"#more": "late_seen"},
            ExpressionAttributeValues={":k": {"SS": more}},
        )


class _BrokenAfterPatching:
    """A twin part that patches moto, then fails to install (as a PatchError would)."""

    def __init__(self, twin: Any) -> None:
        from feecast_twin.patching import Patcher

        self._patches = Patcher("tests.broken_component")

    def install(self, twin: Any) -> None:
        from moto.sagemaker.models import SageMakerModelBackend

        self._patches.replace(
            SageMakerModelBackend,
            "list_endpoints",
            lambda *a, **k: [],
            reason="a test part",
            check_signature=False,
        )
        raise RuntimeError("the part could not install")

    def uninstall(self) -> None:
        self._patches.undo()


def test_a_part_that_fails_to_install_leaves_no_patch_behind(
    make_twin: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.sagemaker.models import SageMakerModelBackend

    from feecast_twin import core, patching

    original = vars(SageMakerModelBackend)["list_endpoints"]
    monkeypatch.setattr(sys.modules[__name__], "BrokenPart", _BrokenAfterPatching, raising=False)
    monkeypatch.setattr(core, "COMPONENTS", ((__name__, "BrokenPart"),))
    with pytest.raises(RuntimeError, match="could not install"):
        make_twin()
    assert patching.applied() == []
    assert vars(SageMakerModelBackend)["list_endpoints"] is original
