"""`feecast status` / `feecast logs` and the CLI's errors, against moto (no twin, no training).

A small stack is registered in moto's CloudFormation with the template's Output names, plus
the resources the commands read, filled as the stages would fill them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from feecast_cli.main import build_parser, main

REGION = "eu-west-1"
PROJECT = "feecast"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("FEECAST_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("FEECAST_STACK_NAME", raising=False)


def _stack(outputs: dict[str, str]) -> None:
    body = {
        "Resources": {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {k: {"Value": v} for k, v in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="feecast", TemplateBody=json.dumps(body)
    )


@pytest.fixture
def stack(aws_env: None) -> Iterator[dict[str, str]]:
    """A deployed-looking feecast: v1 in production, v2 pending, an alarm, losses, a deploy waiting."""
    with mock_aws():
        now = datetime.now(UTC)
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName="feecast-state",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
            BillingMode="PAY_PER_REQUEST",
        )
        ssm = boto3.client("ssm", region_name=REGION)
        for value in (0.24, 0.2):
            ssm.put_parameter(
                Name="/feecast/validation",
                Value=json.dumps({"threshold": value}),
                Type="String",
                Overwrite=True,
            )
        sm = boto3.client("sagemaker", region_name=REGION)
        sm.create_model_package_group(ModelPackageGroupName="feecast-models")
        arns = [
            sm.create_model_package(
                ModelPackageGroupName="feecast-models",
                ModelApprovalStatus="PendingManualApproval",
                InferenceSpecification={
                    "Containers": [{"Image": "deepar:1", "ModelDataUrl": "s3://b/model.tar.gz"}],
                    "SupportedContentTypes": ["application/json"],
                    "SupportedResponseMIMETypes": ["application/json"],
                },
            )["ModelPackageArn"]
            for _ in range(2)
        ]
        sm.update_model_package(ModelPackageArn=arns[0], ModelApprovalStatus="Approved")
        table = boto3.resource("dynamodb", region_name=REGION).Table("feecast-state")
        deployed = {
            "stage": "production",
            "package_arn": arns[0],
            "version": 1,
            "deployed_at": (now - timedelta(hours=3)).isoformat(),
            "execution": "v1-20260105T000000",
            "mode": "deploy",
        }
        table.put_item(Item={"pk": "DEPLOY#production", "sk": "CURRENT", **deployed})
        table.put_item(
            Item={"pk": "DEPLOY#production", "sk": f"AT#{deployed['deployed_at']}#x", **deployed}
        )
        table.put_item(
            Item={
                "pk": "APPROVAL#abc123",
                "sk": "APPROVAL",
                "task_token": "secret-token",
                "approval_id": "abc123",
                "deployment_id": "v2-20260105T010000",
                "model_package_arn": arns[1],
                "version": 2,
                "execution_arn": "arn:aws:states:eu-west-1:123456789012:execution:d:v2",
                "staging_endpoint": "feecast-staging",
                "created_at": now.isoformat(),
                "expires_at": int((now + timedelta(hours=1)).timestamp()),
            }
        )
        cw = boto3.client("cloudwatch", region_name=REGION)
        dims = [
            {"Name": "Stage", "Value": "production"},
            {"Name": "EndpointName", "Value": "feecast-production"},
        ]
        for hours_ago, loss in ((2, 0.19), (1, 0.31)):
            cw.put_metric_data(
                Namespace=PROJECT,
                MetricData=[
                    {
                        "MetricName": name,
                        "Dimensions": dims,
                        "Value": value,
                        "Timestamp": now - timedelta(hours=hours_ago),
                    }
                    for name, value in (
                        ("WeightedQuantileLoss", loss),
                        ("BaselineWeightedQuantileLoss", 0.25),
                        ("Threshold", 0.2),
                    )
                ],
            )
        cw.put_metric_alarm(
            AlarmName="feecast-production-accuracy",
            Namespace=PROJECT,
            MetricName="WeightedQuantileLoss",
            Dimensions=dims,
            Statistic="Maximum",
            Period=3600,
            EvaluationPeriods=3,
            Threshold=0.2,
            ComparisonOperator="GreaterThanThreshold",
        )
        sfn = boto3.client("stepfunctions", region_name=REGION)
        iam_role = "arn:aws:iam::123456789012:role/sfn"
        machines = {
            name: sfn.create_state_machine(
                name=name,
                definition=json.dumps(
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
                ),
                roleArn=iam_role,
            )["stateMachineArn"]
            for name in ("feecast-model-build", "feecast-model-deploy")
        }
        sfn.start_execution(stateMachineArn=machines["feecast-model-build"], name="manual-x-1")
        outputs = {
            "ModelPackageGroupName": "feecast-models",
            "StateTableName": "feecast-state",
            "StagingEndpointName": "feecast-staging",
            "ProductionEndpointName": "feecast-production",
            "ModelBuildStateMachineArn": machines["feecast-model-build"],
            "ModelDeployStateMachineArn": machines["feecast-model-deploy"],
        }
        _stack(outputs)
        yield {**outputs, "package_v1": arns[0], "package_v2": arns[1]}


def test_help_lists_every_operator_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for command in ("local", "status", "logs", "build", "approve", "reject", "rollback"):
        assert command in text, f"`feecast --help` does not list {command}"


@pytest.mark.parametrize(
    "argv",
    [["status"], ["logs"], ["build"], ["approve"], ["reject", "x"], ["rollback", "--dry-run"]],
)
def test_given_no_stack_then_each_command_exits_2_naming_it(
    aws_env: None, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with mock_aws():
        code = main(["--stack-name", "nope", *argv])
    assert code == 2
    err = capsys.readouterr().err
    assert "stack 'nope' not found" in err and "sam deploy" in err


@pytest.mark.parametrize("argv", [["status"], ["logs"], ["approve"], ["build"]])
def test_given_no_credentials_then_the_message_says_how_to_fix_it(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: object,
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "FEECAST_ENDPOINT_URL",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", f"{tmp_path}/none")
    monkeypatch.setenv("AWS_CONFIG_FILE", f"{tmp_path}/none")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)

    code = main(argv)

    assert code == 2
    assert "no AWS credentials found" in capsys.readouterr().err


def test_status_shows_what_is_deployed_the_threshold_losses_and_what_waits(
    stack: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)

    assert status["threshold"]["value"] == 0.2 and status["threshold"]["previous"] == 0.24
    production = {e["stage"]: e for e in status["endpoints"]}["production"]
    assert production["model_version"] == 1
    assert production["last_loss"] == pytest.approx(0.31)  # the newest hour, not the first
    assert production["last_baseline_loss"] == pytest.approx(0.25)
    assert [a["name"] for a in status["alarms"]] == ["feecast-production-accuracy"]
    assert [p["version"] for p in status["pending_packages"]] == [2]
    assert status["pending_packages"][0]["approve_with"] == "feecast approve --package 2"
    (approval,) = status["pending_approvals"]
    assert approval["approval_id"] == "abc123" and "task_token" not in approval
    assert approval["approve_with"] == "feecast approve abc123"
    assert [r["kind"] for r in status["running"]] in ([], ["build"])  # moto may finish it at once

    assert main(["status"]) == 0
    text = capsys.readouterr().out
    assert "Threshold: 0.2000 (was 0.2400" in text
    assert "production" in text and "v1" in text and "0.3100" in text
    assert "feecast approve abc123" in text


def test_logs_lists_lifecycle_events_oldest_first(
    stack: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["logs", "--json"]) == 0
    events = json.loads(capsys.readouterr().out)

    kinds = {(e["source"], e["event"]) for e in events}
    assert ("build", "build started") in kinds
    assert ("registry", "package registered") in kinds
    assert ("registry", "package decided") in kinds
    assert ("deploy", "production serves") in kinds
    assert ("alarm", "alarm state") in kinds
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)

    assert main(["logs", "--limit", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 + 2  # header, rule, two events


def test_given_a_pending_package_when_an_operator_approves_it_by_version_then_the_registry_says_so(
    stack: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["approve"]) == 0
    listed = capsys.readouterr().out
    assert "model package v2" in listed and "abc123" in listed

    assert main(["approve", "--package", "2", "--comment", "looks good"]) == 0
    assert "v2 approved" in capsys.readouterr().out
    sm = boto3.client("sagemaker", region_name=REGION)
    [v2] = [
        p
        for p in sm.list_model_packages(ModelPackageGroupName="feecast-models")[
            "ModelPackageSummaryList"
        ]
        if p["ModelPackageVersion"] == 2
    ]
    described = sm.describe_model_package(ModelPackageName=v2["ModelPackageArn"])
    assert described["ModelApprovalStatus"] == "Approved"
    assert "looks good" in described["ApprovalDescription"]

    # Deciding twice, an unknown version, or nothing at all: a clear error, exit 2.
    assert main(["approve", "--package", "2"]) == 2
    assert "already Approved" in capsys.readouterr().err
    assert main(["reject", "--package", "9"]) == 2
    assert "no version 9" in capsys.readouterr().err
    assert main(["reject"]) == 2
    assert "--package" in capsys.readouterr().err


def test_given_an_endpoint_url_nobody_serves_then_the_cli_says_so_without_a_traceback(
    aws_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from feecast_twin.cli import free_port

    url = f"http://127.0.0.1:{free_port()}"
    assert main(["--endpoint-url", url, "status"]) == 2
    err = capsys.readouterr().err
    assert "Could not connect" in err and "feecast local serve" in err


# ------------------------------------------------------------------ the operator's rough edges
def test_given_plain_feecast_local_then_it_lists_its_commands_and_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["local"]) == 2
    err = capsys.readouterr().err
    for command in ("serve", "send-event", "demo"):
        assert command in err, f"`feecast local` does not list {command}"


def test_status_help_is_about_status_only(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["status", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "What is deployed where" in text
    assert "oldest first" not in text  # `logs`'s text


def test_serve_listens_by_default_on_a_port_macos_does_not_take() -> None:
    from feecast_twin.cli import DEFAULT_PORT

    args = build_parser().parse_args(["local", "serve"])
    assert args.port == DEFAULT_PORT
    assert args.port not in (5000, 7000, 4566)  # AirPlay receiver (macOS), LocalStack


def test_given_staging_serves_a_package_then_status_names_its_model(
    stack: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Only production's deployments are recorded; staging's model comes from its endpoint
    configuration's `feecast:package` tag, as the deploy stage writes it."""
    sm = boto3.client("sagemaker", region_name=REGION)
    tags = [{"Key": "feecast:package", "Value": stack["package_v1"]}]
    sm.create_model(
        ModelName="feecast-v1-x",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sm",
        PrimaryContainer={"Image": "deepar:1", "ModelDataUrl": "s3://b/model.tar.gz"},
    )
    sm.create_endpoint_config(
        EndpointConfigName="feecast-staging-v1-x",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "feecast-v1-x",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
        Tags=tags,
    )
    sm.create_endpoint(EndpointName="feecast-staging", EndpointConfigName="feecast-staging-v1-x")

    assert main(["status", "--json"]) == 0
    staging = {e["stage"]: e for e in json.loads(capsys.readouterr().out)["endpoints"]}["staging"]
    assert staging["model_version"] == 1 and staging["model_package"] == stack["package_v1"]

    assert main(["status"]) == 0
    (row,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("staging ")]
    assert " v1 " in row


def test_approve_lists_losses_rounded_for_people(
    stack: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    table = boto3.resource("dynamodb", region_name=REGION).Table("feecast-state")
    item = table.get_item(Key={"pk": "APPROVAL#abc123", "sk": "APPROVAL"})["Item"]
    from decimal import Decimal

    item.update(
        loss=Decimal("0.12345678901234567"),
        threshold=Decimal("0.2000000000000001"),
        baseline_loss=Decimal("0.3333333333333333"),
    )
    table.put_item(Item=item)

    assert main(["approve"]) == 0
    text = capsys.readouterr().out
    assert "loss 0.1235  threshold 0.2  naive 0.3333" in text
    assert "0.12345678" not in text

    assert main(["approve", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert set(listed) == {"pending_packages", "pending_approvals"}
    assert listed["pending_approvals"][0]["loss"] == pytest.approx(0.12345678901234567)


def test_given_a_cli_approval_then_logs_say_who_decided(
    stack: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """On AWS, LastModifiedBy names a Studio user only; a CLI approval is found by the caller
    ARN (STS GetCallerIdentity) the CLI writes into ApprovalDescription."""
    caller = boto3.client("sts", region_name=REGION).get_caller_identity()["Arn"]
    assert main(["approve", "--package", "2", "--json"]) == 0
    decided = json.loads(capsys.readouterr().out)
    assert decided["by"] == caller and decided["status"] == "Approved"

    assert main(["logs", "--json"]) == 0
    events = json.loads(capsys.readouterr().out)
    by_subject = {e["subject"]: e for e in events if e["event"] == "package decided"}
    assert by_subject["v2"]["by"] == caller
    assert all(
        set(e) == {"time", "source", "event", "subject", "status", "by", "detail"} for e in events
    )


def test_decided_by_reads_the_cli_s_record_then_the_registry_s() -> None:
    from feecast_cli.status import decided_by

    cli = {
        "ModelApprovalStatus": "Rejected",
        "ApprovalDescription": "Rejected by arn:aws:sts::1:assumed-role/Ops/bob: too slow",
        "LastModifiedBy": {"UserProfileName": "someone-else"},
    }
    assert decided_by(cli) == "arn:aws:sts::1:assumed-role/Ops/bob"
    iam = {"LastModifiedBy": {"IamIdentity": {"Arn": "arn:aws:iam::1:user/carol"}}}
    assert decided_by(iam) == "arn:aws:iam::1:user/carol"
    studio = {"ModelApprovalStatus": "Approved", "LastModifiedBy": {"UserProfileName": "alice"}}
    assert decided_by(studio) == "alice"
    assert decided_by({"ModelApprovalStatus": "Approved", "ApprovalDescription": "ok"}) is None


def test_build_dedup_key_is_the_server_s_minute(
    stack: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The laptop's clock may be off (or the twin's clock elsewhere in time): the key is the
    minute of the server's Date header."""
    from feecast_cli.context import Context

    monkeypatch.setattr(
        Context, "server_now", lambda self: datetime(2031, 2, 3, 4, 5, 59, tzinfo=UTC)
    )
    assert main(["build", "--json"]) == 0
    started = json.loads(capsys.readouterr().out)
    assert started["dedup_key"] == "manual-2031-02-03T04:05Z"
    assert started["execution"] is None  # stable keys: present without --wait too


# ------------------------------------------------------------------ failed builds, waits
FAILING_BUILD = {
    "StartAt": "Prepare The Data",
    "States": {
        "Prepare The Data": {"Type": "Pass", "Next": "Build Failed"},
        "Build Failed": {
            "Type": "Fail",
            "Error": "TrainingFailed",
            "Cause": json.dumps(
                {"errorMessage": "no minutes in the feature store", "errorType": "NoData"}
            ),
        },
    },
}


@pytest.fixture
def failing_build(aws_env: None) -> Iterator[str]:
    """A stack whose build machine fails the way ModelBuild's "Build Failed" state does."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName="feecast-state",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
            BillingMode="PAY_PER_REQUEST",
        )
        arn = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name="feecast-model-build",
            definition=json.dumps(FAILING_BUILD),
            roleArn="arn:aws:iam::123456789012:role/sfn",
        )["stateMachineArn"]
        _stack(
            {
                "ProjectName": PROJECT,
                "StateTableName": "feecast-state",
                "ModelBuildStateMachineArn": arn,
            }
        )
        yield arn


def test_build_wait_reports_progress_on_stderr_and_says_why_it_failed(
    failing_build: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build", "--wait", "--json"]) == 1
    out, err = capsys.readouterr()
    result = json.loads(out)  # stdout is the JSON object alone
    assert result["execution"]["status"] == "FAILED"
    assert result["execution"]["why"] == "TrainingFailed: no minutes in the feature store"
    lines = [line for line in err.splitlines() if "build:" in line]
    assert lines and lines[-1].startswith("[") and lines[-1].endswith("s] build: FAILED")
    assert "\r" not in err  # not a terminal: plain lines, no spinner

    assert main(["status", "--json"]) == 0
    last = json.loads(capsys.readouterr().out)["last_build"]
    assert last["status"] == "FAILED" and "no minutes in the feature store" in last["why"]
    assert main(["status"]) == 0
    assert "why: TrainingFailed: no minutes in the feature store" in capsys.readouterr().out

    assert main(["logs", "--json"]) == 0
    (ended,) = [e for e in json.loads(capsys.readouterr().out) if e["event"] == "build ended"]
    assert ended["status"] == "FAILED" and "no minutes" in ended["detail"]
    assert main(["logs"]) == 0
    assert "no minutes in the feature store" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "code", "keys"),
    [
        (["status", "--json"], 0, {"endpoints", "last_build", "running", "pending_approvals"}),
        (["approve", "--json"], 0, {"pending_packages", "pending_approvals"}),
        (["build", "--json"], 0, {"status", "execution_arn", "dedup_key", "execution"}),
        (["approve", "--package", "2", "--json"], 0, {"version", "status", "by"}),
        (["reject", "--package", "1", "--json"], 0, {"version", "status", "by"}),
        (["reject", "abc123", "--json"], 0, {"approval_id", "decision", "by"}),
        # Refused (one deployment only): the reason on stderr, nothing on stdout.
        (["rollback", "--dry-run", "--json"], 2, None),
    ],
)
def test_every_command_s_json_is_one_object_on_stdout(
    stack: dict[str, str],
    argv: list[str],
    code: int,
    keys: set[str] | None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(argv) == code
    out, err = capsys.readouterr()
    if keys is None:
        assert out == "" and err.startswith("feecast: ")
    else:
        assert keys <= set(json.loads(out))  # one document, nothing else on stdout
