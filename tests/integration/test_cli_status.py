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
