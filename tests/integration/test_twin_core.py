"""The twin's core on a small template of its own (tests/integration/templates/core.yaml):
resources and substitutions, real handlers behind Lambda and Step Functions, EventBridge
delivery, schedules on the twin clock, EMF metrics, the CLI and the AWS CLI against `serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from feecast_twin import Twin, TwinInvokeError

CORE = "tests/integration/templates/core.yaml"
pytestmark = pytest.mark.twin(template=CORE)


def package_event(status: str = "Approved", version: int = 3) -> dict[str, Any]:
    arn = f"arn:aws:sagemaker:eu-west-1:123456789012:model-package/twintest-models/{version}"
    return {
        "version": "0",
        "id": "00000000-0000-0000-0000-000000000001",
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": "123456789012",
        "time": "2026-01-05T00:00:00Z",
        "region": "eu-west-1",
        "resources": [arn],
        "detail": {
            "ModelPackageGroupName": "twintest-models",
            "ModelPackageVersion": version,
            "ModelPackageArn": arn,
            "ModelApprovalStatus": status,
        },
    }


def echoed(twin: Twin) -> list[dict[str, Any]]:
    """What EchoFunction received, in invocation order (it stores each event in the bucket)."""
    s3 = twin.client("s3")
    bucket = twin.physical_id("Bucket")
    objects = s3.list_objects_v2(Bucket=bucket, Prefix="invocations/").get("Contents", [])
    objects.sort(key=lambda o: o["LastModified"])
    return [json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()) for o in objects]


def test_given_the_template_when_deployed_then_resources_exist_with_substitutions(
    twin: Twin,
) -> None:
    bucket = twin.physical_id("Bucket")
    assert bucket.startswith("feecast-bucket-") and bucket == bucket.lower()
    topic_arn = twin.physical_id("NotificationTopic")
    assert topic_arn == "arn:aws:sns:eu-west-1:123456789012:twintest-notifications"
    assert twin.att("NotificationTopic", "TopicName") == "twintest-notifications"

    config = twin.client("ssm").get_parameter(Name="/twintest/config")["Parameter"]["Value"]
    assert json.loads(config) == {
        "bucket": bucket,
        "region": "eu-west-1",
        "topic": "twintest-notifications",
    }
    ttl = twin.client("dynamodb").describe_time_to_live(TableName=twin.physical_id("StateTable"))
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"

    definition = json.loads(
        twin.client("stepfunctions").describe_state_machine(
            stateMachineArn=twin.physical_id("PipelineStateMachine")
        )["definition"]
    )
    echo_state = definition["States"]["Echo The Input"]
    assert echo_state["Parameters"]["FunctionName"] == twin.att("EchoFunction", "Arn")
    assert definition["States"]["Wait A Little"]["Seconds"] == 1

    fn = twin.client("lambda").get_function_configuration(
        FunctionName=twin.physical_id("EchoFunction")
    )
    assert fn["MemorySize"] == 256  # Globals + FindInMap
    assert fn["Environment"]["Variables"]["BUCKET"] == bucket

    # Condition false: not created, not "unknown"; unknown types are listed, not skipped.
    assert "ExtraTopic" in twin.stack.skipped_by_condition
    assert "ExtraTopicArn" not in twin.outputs
    assert twin.unknown_resources == [("GraphApi", "AWS::AppSync::GraphQLApi")]
    stacks = twin.client("cloudformation").describe_stacks(StackName="feecast")["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0]["Outputs"]}
    assert outputs == {
        "BucketName": bucket,
        "PipelineArn": twin.physical_id("PipelineStateMachine"),
    }


def test_given_a_function_when_invoked_then_the_real_handler_runs_with_its_environment(
    twin: Twin,
) -> None:
    result = twin.invoke("EchoFunction", {"hello": "twin"})
    assert result["received"] == {"hello": "twin"}
    assert result["project"] == "twintest"
    assert result["function_name"] == twin.physical_id("EchoFunction")
    with pytest.raises(TwinInvokeError) as err:
        twin.invoke("FlakyFunction", {"should_fail": True, "why": "testing"})
    assert err.value.error_type == "ModelNotReadyError"
    assert err.value.message == "not ready: testing"
    lambdas = twin.records_of("lambda")
    assert [r["function"] for r in lambdas] == ["EchoFunction", "FlakyFunction"]
    assert lambdas[0]["cold_start"] and lambdas[1]["errored"]


def test_given_a_state_machine_when_a_task_raises_then_catch_matches_the_error_name(
    twin: Twin,
) -> None:
    ok = twin.wait_for_execution(
        twin.start_execution("PipelineStateMachine", {"should_fail": False})
    )
    assert ok["status"] == "SUCCEEDED"
    assert json.loads(ok["output"])["echo"] == {
        "received": {"should_fail": False},
        "project": "twintest",
    }

    failed = twin.wait_for_execution(
        twin.start_execution("PipelineStateMachine", {"should_fail": True})
    )
    assert failed["status"] == "FAILED" and failed["error"] == "PipelineFailed"
    assert [m["message"] for m in twin.sns_messages()] == ["ModelNotReadyError"]
    ended = [r["status"] for r in twin.records_of("execution-ended")]
    assert ended == ["SUCCEEDED", "FAILED"]


def test_given_a_finished_execution_then_its_history_pages_newest_first_when_asked(
    twin: Twin,
) -> None:
    """`feecast status` reads the newest events first to name a running execution's step."""
    done = twin.wait_for_execution(
        twin.start_execution("PipelineStateMachine", {"should_fail": False})
    )
    sfn = twin.client("stepfunctions")
    oldest_first = sfn.get_execution_history(executionArn=done["executionArn"])["events"]
    assert oldest_first[0]["type"] == "ExecutionStarted"

    newest = sfn.get_execution_history(
        executionArn=done["executionArn"], reverseOrder=True, maxResults=3
    )
    assert [e["id"] for e in newest["events"]] == [e["id"] for e in oldest_first[::-1][:3]]
    assert newest["events"][0]["type"] == "ExecutionSucceeded"
    rest = sfn.get_execution_history(
        executionArn=done["executionArn"], reverseOrder=True, nextToken=newest["nextToken"]
    )
    assert [e["id"] for e in newest["events"] + rest["events"]] == [
        e["id"] for e in oldest_first[::-1]
    ]
    assert "nextToken" not in rest
    # What `feecast status` shows as the current step: the last state entered, not the first.
    from feecast_cli.status import current_step

    assert current_step(sfn, done["executionArn"]) == "Run The Flaky Step"


def test_given_an_approval_event_when_sent_then_lambda_and_sfn_targets_get_the_transformed_input(
    twin: Twin,
) -> None:
    report = twin.send_event(package_event("Approved", version=7))

    assert sorted(report.rules_matched) == [
        "EchoFunctionPackageApproved",
        "PipelineStateMachinePackageApproved",
    ]  # not the schedule-only rule EchoFunctionEvery5Minutes
    by_rule = {t.rule: t for t in report.targets}
    lambda_run = by_rule["EchoFunctionPackageApproved"]
    assert lambda_run.status == "SUCCEEDED"
    assert lambda_run.input == {
        "package": "arn:aws:sagemaker:eu-west-1:123456789012:model-package/twintest-models/7",
        "version": 7,
        "note": "v7 approved",
    }
    sfn_run = by_rule["PipelineStateMachinePackageApproved"]
    assert sfn_run.status == "SUCCEEDED"
    assert sfn_run.input == {"group": "twintest-models", "should_fail": False}
    assert sfn_run.execution_arn and sfn_run.result["flaky"] == {"ok": True}
    assert lambda_run.input in echoed(twin)

    rejected = twin.send_event(package_event("Rejected"))
    assert rejected.rules_matched == [] and rejected.targets == []


def test_given_schedules_when_the_clock_advances_then_enabled_ones_fire_at_their_times(
    twin: Twin,
) -> None:
    start = twin.clock.now()
    twin.advance(timedelta(hours=1))

    fired = twin.records_of("schedule-fired")
    rate = [r["scheduled_time"] for r in fired if r.get("rule") == "EchoFunctionEvery5Minutes"]
    # rate() counts from the rule's creation (the end of the deploy, seconds after the clock's
    # start on a slow machine), as EventBridge does; then every 5 minutes.
    times = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in rate]
    created = twin.records_of("deploy")[0].time
    assert len(rate) == 12
    assert timedelta(minutes=5) - timedelta(seconds=2) <= times[0] - created <= timedelta(minutes=5)
    assert {b - a for a, b in pairwise(times)} == {timedelta(minutes=5)}
    hourly = [r for r in fired if r.get("schedule") == "EchoFunctionHourly"]
    assert [r["scheduled_time"] for r in hourly] == ["2026-01-05T01:00:00Z"]
    assert not [r for r in fired if r.get("schedule") == "EchoFunctionNever"]  # DISABLED

    received = echoed(twin)
    assert received.count({"kind": "rate"}) == 12
    scheduler_input = next(e for e in received if e.get("kind") == "scheduler")
    assert scheduler_input["at"] == "2026-01-05T01:00:00Z"
    assert scheduler_input["by"].startswith(
        "arn:aws:scheduler:eu-west-1:123456789012:schedule/default/"
    )
    rule_event = twin.records_of("target-invoked")[0]
    assert rule_event["status"] == "SUCCEEDED"
    assert twin.clock.now() - start >= timedelta(hours=1)

    # State is read at fire time: a disabled rule stops firing.
    twin.client("events").disable_rule(Name=twin.physical_id("EchoFunctionEvery5Minutes"))
    twin.advance(timedelta(minutes=30))
    rate_after = [
        r for r in twin.records_of("schedule-fired") if r.get("rule") == "EchoFunctionEvery5Minutes"
    ]
    assert len(rate_after) == 12


def test_given_a_cron_rule_without_input_when_it_fires_then_the_target_gets_the_envelope(
    twin: Twin,
) -> None:
    twin.advance(timedelta(minutes=30))
    envelopes = [e for e in echoed(twin) if e.get("detail-type") == "Scheduled Event"]
    assert envelopes == [
        {
            "version": "0",
            "id": envelopes[0]["id"],
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2026-01-05T00:30:00Z",
            "region": "eu-west-1",
            "resources": [twin.att("HalfPastMidnightRule", "Arn")],
            "detail": {},
        }
    ]
    assert ("HalfPastMidnightPermission", "AWS::Lambda::Permission") in twin.stack.no_op


def test_given_a_handler_with_powertools_metrics_when_it_runs_then_cloudwatch_has_the_datum(
    twin: Twin,
) -> None:
    twin.invoke("EchoFunction", {})
    twin.invoke("EchoFunction", {})
    data = twin.metric_data("twintest", "Echoes", {"service": "twin-test"})
    assert [value for _, value in data] == [1.0, 1.0]
    assert all(ts.date().isoformat() == "2026-01-05" for ts, _ in data)  # the twin's clock
    assert len(twin.records_of("metric")) == 2


def test_given_an_http_api_route_when_requested_then_the_function_answers(twin: Twin) -> None:
    resp = twin.http_request("GET", "/echo/satoshi", query={"x": "1"})
    assert resp["statusCode"] == 200
    received = json.loads(resp["body"])["received"]
    assert received["pathParameters"] == {"name": "satoshi"}
    assert received["routeKey"] == "GET /echo/{name}"
    assert twin.http_request("GET", "/nowhere")["statusCode"] == 404


def test_given_serve_when_the_real_aws_cli_lists_state_machines_then_it_sees_the_twin(
    twin: Twin, repo_root: Path
) -> None:
    from feecast_twin.cli import free_port, start_server

    handle = start_server(twin, port=free_port())
    try:
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "fake",
            "AWS_SECRET_ACCESS_KEY": "fake",
            "AWS_DEFAULT_REGION": "eu-west-1",
        }
        env.pop("AWS_SESSION_TOKEN", None)
        aws = str(repo_root / ".venv" / "bin" / "aws")
        out = subprocess.run(
            [aws, "--endpoint-url", handle.url, "stepfunctions", "list-state-machines"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=True,
        )
        names = [sm["name"] for sm in json.loads(out.stdout)["stateMachines"]]
        assert names == [twin.att("PipelineStateMachine", "Name")]

        # The twin reacts to what the CLI does: an event put through the server is delivered.
        entry = package_event("Approved", version=9)
        entries = json.dumps(
            [
                {
                    "Source": entry["source"],
                    "DetailType": entry["detail-type"],
                    "Detail": json.dumps(entry["detail"]),
                }
            ]
        )
        subprocess.run(
            [aws, "--endpoint-url", handle.url, "events", "put-events", "--entries", entries],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=True,
        )
        twin.settle(timeout=60)
        assert any(e.get("version") == 9 for e in echoed(twin))
    finally:
        handle.stop()


def test_serve_json_prints_the_endpoint_as_one_json_line(
    twin: Twin, capsys: pytest.CaptureFixture[str]
) -> None:
    from feecast_twin.cli import _print_endpoint

    _print_endpoint(twin, "http://127.0.0.1:4599", as_json=True)
    (line,) = capsys.readouterr().out.splitlines()
    served = json.loads(line)
    assert served["url"] == "http://127.0.0.1:4599" and served["region"] == twin.region
    assert served["resources"]["PipelineStateMachine"]["physical_id"] == twin.physical_id(
        "PipelineStateMachine"
    )
    assert served["not_emulated"] == {"GraphApi": "AWS::AppSync::GraphQLApi"}
    assert set(served) == {
        "url",
        "region",
        "account",
        "clock",
        "resources",
        "not_emulated",
        "outputs",
    }


@pytest.mark.twin(template=CORE)
def test_send_event_command_prints_what_ran(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The command deploys its own twin, so this test uses no `twin` fixture.
    from feecast_twin.cli import main

    event_file = tmp_path / "approved.json"
    event_file.write_text(json.dumps(package_event("Approved", version=4)))
    code = main(["send-event", str(event_file), "--template", CORE])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert sorted(out["rules_matched"]) == [
        "EchoFunctionPackageApproved",
        "PipelineStateMachinePackageApproved",
    ]
    assert {t["status"] for t in out["targets"]} == {"SUCCEEDED"}
    assert out["unknown_resources"] == ["GraphApi (AWS::AppSync::GraphQLApi)"]


def test_feecast_console_script_mounts_local(tmp_path: Path, repo_root: Path) -> None:
    event_file = tmp_path / "rejected.json"
    event_file.write_text(json.dumps(package_event("Rejected")))
    out = subprocess.run(
        [
            str(repo_root / ".venv" / "bin" / "feecast"),
            "local",
            "send-event",
            str(event_file),
            "--template",
            CORE,
        ],
        capture_output=True,
        text=True,
        cwd=repo_root,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)["rules_matched"] == []


def test_the_repository_template_deploys_completely(make_twin: Any) -> None:
    twin = make_twin()  # template.yaml with the fast overrides
    assert twin.unknown_resources == [], "resources the twin does not emulate"
    assert twin.missing_components == []
    # SAM's transform ran: what is deployed is what CloudFormation receives.
    assert "AWS::Serverless::Function" not in twin.stack.types.values()
    functions = [lid for lid, t in twin.stack.types.items() if t == "AWS::Lambda::Function"]
    declared = [
        lid
        for lid, spec in twin.template.raw["Resources"].items()
        if spec["Type"] == "AWS::Serverless::Function"
    ]
    assert sorted(functions) == sorted(declared) and len(functions) == 21
    for lid in functions:  # each function's code folder exists and is registered
        code = twin.runtime.functions[twin.physical_id(lid)]
        assert code.code_dir is not None and (code.code_dir / "app.py").is_file()
    machines = [lid for lid, t in twin.stack.types.items() if t.endswith("StateMachine")]
    listed = twin.client("stepfunctions").list_state_machines()["stateMachines"]
    assert len(listed) == len(machines)
    assert sys.modules.get("feecast_twin.core") is not None


def test_serve_on_a_port_in_use_says_so_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    from feecast_twin.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--port", str(port), "--template", CORE])
    assert code == 1
    assert f"127.0.0.1:{port} is in use by another program" in capsys.readouterr().err


def test_a_managed_policy_is_referred_to_by_its_arn(tmp_path: Path) -> None:
    """Ref of an AWS::IAM::ManagedPolicy is its ARN (a function's Policies may list it)."""
    (tmp_path / "template.yaml").write_text(
        "Resources:\n"
        "  Publisher:\n"
        "    Type: AWS::IAM::ManagedPolicy\n"
        "    Properties:\n"
        "      PolicyDocument:\n"
        "        Version: '2012-10-17'\n"
        "        Statement: [{Effect: Allow, Action: sns:Publish, Resource: '*'}]\n"
    )
    with Twin(template=tmp_path / "template.yaml") as deployed:
        arn = deployed.physical_id("Publisher")
    assert arn.startswith("arn:aws:iam::123456789012:policy/")
    assert "Publisher" in arn
