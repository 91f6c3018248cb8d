"""`feecast doctor` and `feecast teardown` on the twin, through the CLI's entry point (issue 16).

`capsys` comes before `twin` in each test: the twin routes sys.stdout through its own writer
from the stream it finds when it deploys, which must be the test's capture.

The twin answers the same APIs as AWS for what feecast uses; what it does not emulate (Service
Quotas, Lambda account settings) the doctor reports as "not available here" (WARN), never as a
guess. Tests run in-process: the CLI's boto3 calls reach the twin's moto.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from feecast_cli.main import main
from tests.support.models import tiny_model_tar

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_tar() -> bytes:
    values = 2500 + 200 * np.sin(np.arange(300) / 9) + np.random.default_rng(3).normal(0, 30, 300)
    return tiny_model_tar(datetime(2026, 1, 4, tzinfo=UTC), values)


def doctor(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, tuple[str, str]]]:
    code = main(["doctor"])
    lines = capsys.readouterr().out.splitlines()
    checks = {}
    for line in lines:
        status, _, rest = line.partition("  ")
        if status.strip() in ("OK", "WARN", "FAIL"):
            name, _, detail = rest.strip().partition("  ")
            checks[name.strip()] = (status.strip(), detail.strip())
    return code, checks


def tag_as_deployed(twin: Any, stage: str) -> None:
    """The deploy stage tags what it creates with the project (serve_stage predates that)."""
    sm = twin.client("sagemaker")
    tags = [{"Key": "feecast:project", "Value": "feecast"}]
    sm.add_tags(
        ResourceArn=sm.describe_model(ModelName=f"feecast-tiny-{stage}")["ModelArn"], Tags=tags
    )
    config = sm.describe_endpoint_config(EndpointConfigName=f"feecast-{stage}-tiny")
    sm.add_tags(ResourceArn=config["EndpointConfigArn"], Tags=tags)


def test_doctor_reports_each_check_and_fails_when_monitoring_does_not_match(
    capsys: pytest.CaptureFixture[str], twin: Any, model_tar: bytes, serve_stage: Any
) -> None:
    code, checks = doctor(capsys)
    assert code == 0, checks
    assert checks["credentials"][0] == "OK" and "123456789012" in checks["credentials"][1]
    assert checks["stack"] == ("OK", "feecast CREATE_COMPLETE")
    assert checks["outputs"][0] == "OK"
    assert checks["region"][0] == "OK" and "eu-west-1" in checks["region"][1]
    # Not emulated by the twin: said so, not faked.
    assert checks["quotas"][0] == "WARN" and "not available here" in checks["quotas"][1]
    assert checks["lambda concurrency"][0] == "WARN"
    assert checks["schedule staging"][0] == checks["schedule production"][0] == "OK"
    assert checks["monitoring production"][0] == "OK"  # no endpoint: nothing to monitor

    # Before `sam deploy` of another stack with the same ProjectName: the registry this one
    # keeps (DeletionPolicy Retain) would make the new stack fail; the doctor says so.
    assert main(["--stack-name", "feecast-next", "doctor"]) == 1
    before = capsys.readouterr().out
    assert "WARN  stack" in before and "'feecast-next' is not deployed yet" in before
    assert "FAIL  leftover registry" in before and "feecast-models exists" in before
    assert "quota" in before  # the account checks run against the template's defaults

    serve_stage(twin, model_tar, "staging")
    code, checks = doctor(capsys)
    assert code == 0, checks
    assert (
        checks["monitoring staging"][0] == "OK" and "InService" in checks["monitoring staging"][1]
    )

    # Someone disables a schedule by hand and deletes the staging alarm: both FAIL, exit 1.
    scheduler = twin.client("scheduler")
    current = scheduler.get_schedule(Name="feecast-production-monitoring")
    scheduler.update_schedule(
        Name=current["Name"],
        ScheduleExpression=current["ScheduleExpression"],
        FlexibleTimeWindow=current["FlexibleTimeWindow"],
        Target=current["Target"],
        State="DISABLED",
    )
    twin.client("cloudwatch").delete_alarms(AlarmNames=["feecast-staging-accuracy"])
    code, checks = doctor(capsys)
    assert code == 1
    assert (
        checks["schedule production"][0] == "FAIL"
        and "DISABLED" in checks["schedule production"][1]
    )
    assert (
        checks["monitoring staging"][0] == "FAIL"
        and "no feecast-staging-accuracy" in (checks["monitoring staging"][1])
    )


def test_teardown_asks_then_removes_what_feecast_created_and_nothing_else(
    capsys: pytest.CaptureFixture[str], twin: Any, model_tar: bytes, serve_stage: Any
) -> None:
    sm = twin.client("sagemaker")
    for stage in ("staging", "production"):
        serve_stage(twin, model_tar, stage)
        tag_as_deployed(twin, stage)
    role = twin.att("SageMakerExecutionRole", "Arn")
    container = sm.describe_model(ModelName="feecast-tiny-staging")["PrimaryContainer"]
    # A build's model (tagged with its execution), and a neighbour project's with a lookalike name.
    sm.create_model(
        ModelName="feecast-manual-2026-01-05-1a2b3c4d",
        ExecutionRoleArn=role,
        PrimaryContainer=container,
        Tags=[{"Key": "feecast:build", "Value": "manual-2026-01-05"}],
    )
    sm.create_model(
        ModelName="feecast-x-manual-2026-01-05-99",
        ExecutionRoleArn=role,
        PrimaryContainer=container,
        Tags=[{"Key": "feecast:build", "Value": "manual-2026-01-05"}],
    )
    assert twin.client("cloudwatch").describe_alarms(
        AlarmNames=["feecast-staging-accuracy", "feecast-production-accuracy"]
    )["MetricAlarms"]

    # Without a terminal and without --yes: refused, nothing deleted.
    assert main(["teardown"]) == 2
    assert "pass --yes" in capsys.readouterr().err
    assert sm.describe_endpoint(EndpointName="feecast-staging")["EndpointStatus"] == "InService"

    assert main(["teardown", "--yes"]) == 0
    out = capsys.readouterr().out
    for name in (
        "feecast-staging",
        "feecast-production",
        "feecast-staging-tiny",
        "feecast-tiny-production",
        "feecast-manual-2026-01-05-1a2b3c4d",
    ):
        assert name in out
    assert "feecast-x-manual" not in out
    assert "feecast-staging-accuracy" not in out  # the stack's: `sam delete` removes it
    assert "sam delete --stack-name feecast" in out
    twin.settle()
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert [m["ModelName"] for m in sm.list_models()["Models"]] == [
        "feecast-x-manual-2026-01-05-99"
    ]
    kept = twin.client("cloudwatch").describe_alarms(
        AlarmNames=["feecast-staging-accuracy", "feecast-production-accuracy"]
    )["MetricAlarms"]
    assert len(kept) == 2

    # A second run finds nothing; the doctor sees no endpoint and no stale alarm.
    assert main(["teardown", "--yes"]) == 0
    assert "Nothing created at run time is left" in capsys.readouterr().out
    code, checks = doctor(capsys)
    assert code == 0, checks
    assert checks["monitoring staging"][0] == "OK"
