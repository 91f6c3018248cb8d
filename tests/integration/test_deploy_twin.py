"""The deploy stage on the twin: approval event -> staging -> a person's decision -> production.

Given a package registered with a tiny local DeepAR model (trained once per module), the real
template, ASL and handlers run on the twin; SageMaker endpoints load the model and answer
DeepAR requests. Approval timeouts are short through parameter overrides.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from feecast.adapters import notify
from feecast.adapters.cloudwatch import CloudWatchAlarms
from feecast.adapters.sagemaker import SageMakerEndpoints, SageMakerPackages
from feecast.adapters.state_table import StateTable
from feecast.adapters.stepfunctions import StepFunctionsExecutions
from feecast.deepar import inference_request, parse_endpoint_response
from feecast.deploy import approvals, outcome, rollback
from feecast.deploy.history import NothingToRollBackTo
from feecast.deploy.settings import DeploySettings
from feecast.series import MinuteSeries

from tests.support.drivers import (
    GROUP,
    approval_links,
    approve_package,
    deploy_executions,
    follow,
    register,
)
from tests.support.models import tiny_model_tar

pytestmark = pytest.mark.slow


# -- a tiny DeepAR model, trained once ----------------------------------------------------------
@pytest.fixture(scope="module")
def model_tar() -> bytes:
    from datetime import UTC, datetime

    t = np.arange(400)
    values = 2500 * (1 + 0.2 * np.sin(2 * np.pi * t / 60)) + np.random.default_rng(1).normal(
        0, 50, 400
    )
    return tiny_model_tar(datetime(2026, 1, 4, tzinfo=UTC), values, likelihood="student-T")


def ask_endpoint(twin: Any, name: str) -> Any:
    from datetime import UTC, datetime

    context = MinuteSeries(
        datetime(2026, 1, 4, 6, tzinfo=UTC), 2500 + 100 * np.sin(np.arange(120) / 10)
    )
    body = inference_request([context], num_samples=50, quantiles=["0.1", "0.5", "0.9"])
    answer = twin.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=name, ContentType="application/json", Body=json.dumps(body)
    )
    return parse_endpoint_response(answer["Body"].read())


def deploy_fully(twin: Any, arn: str) -> str:
    """Approve the package, then approve its staging deployment through the link."""
    approve_package(twin, arn)
    response = follow(twin, approval_links(twin)["approve"])
    assert response["statusCode"] == 200, response["body"]
    twin.settle(timeout=300)
    run = next(
        e for e in deploy_executions(twin) if e["name"].startswith(f"v{arn.rsplit('/', 1)[-1]}-")
    )
    final = twin.wait_for_execution(run["executionArn"], timeout=120)
    assert final["status"] == "SUCCEEDED", final
    return str(run["executionArn"])


def settings_of(twin: Any) -> DeploySettings:
    return DeploySettings(
        project_name="feecast",
        ssm_prefix="/feecast",
        state_table=twin.physical_id("StateTable"),
        notification_topic_arn=twin.physical_id("NotificationTopic"),
        model_package_group_name=GROUP,
        staging_endpoint_name="feecast-staging",
        production_endpoint_name="feecast-production",
    )


@pytest.fixture
def bound(twin: Any) -> Iterator[Any]:
    """Library calls made from the test use the twin (as the CLI would)."""
    from feecast.adapters import clients

    clients.use_session(None)
    yield twin
    clients.use_session(None)


# -- tests ---------------------------------------------------------------------------------------
def test_given_an_approved_package_when_a_person_follows_the_link_then_production_serves_it(
    bound: Any, model_tar: bytes
) -> None:
    twin = bound
    arn = register(twin, model_tar, loss=0.2)
    approve_package(twin, arn)

    # Staging is up and smoke-tested; a person is asked, with signed links and no token.
    staging = twin.client("sagemaker").describe_endpoint(EndpointName="feecast-staging")
    assert staging["EndpointStatus"] == "InService"
    links = approval_links(twin)
    assert "token" not in links["approve"].lower()
    (pending,) = approvals.list_pending(StateTable(twin.physical_id("StateTable")))
    assert pending.model_package_arn == arn and pending.loss == pytest.approx(0.2)

    # A forged link and a GET (mail scanners) change nothing.
    assert follow(twin, links["approve"], signature="0" * 64)["statusCode"] == 403
    assert follow(twin, links["reject"], decision="approve")["statusCode"] == 403
    page = follow(twin, links["approve"], method="GET")
    assert page["statusCode"] == 200 and "<form method='post'>" in page["body"]
    assert approvals.list_pending(StateTable(twin.physical_id("StateTable")))

    assert follow(twin, links["approve"])["statusCode"] == 200
    twin.settle(timeout=300)
    (run,) = deploy_executions(twin)
    assert twin.wait_for_execution(run["executionArn"], timeout=120)["status"] == "SUCCEEDED"

    # The link worked once: reusing it (or its twin reject link) is refused.
    assert follow(twin, links["approve"])["statusCode"] == 410
    assert follow(twin, links["reject"])["statusCode"] == 410

    forecast = ask_endpoint(twin, "feecast-production")[0]
    assert len(forecast) == 30 and set(forecast.quantiles) == {"0.1", "0.5", "0.9"}
    # the endpoint's own metrics, as SageMaker publishes them (the dashboard's endpoint panels)
    variant = {"EndpointName": "feecast-production", "VariantName": "AllTraffic"}
    assert twin.metric_data("AWS/SageMaker", "Invocations", variant)
    assert all(v > 0 for _, v in twin.metric_data("AWS/SageMaker", "ModelLatency", variant))
    assert {v for _, v in twin.metric_data("AWS/SageMaker", "Invocation5XXErrors", variant)} == {
        0.0
    }
    current = outcome.current(StateTable(twin.physical_id("StateTable")), "production")
    assert current is not None and current.package_arn == arn

    # The threshold is the model's own (its package's alarm_threshold), once, old value kept.
    validation = json.loads(
        twin.client("ssm").get_parameter(Name="/feecast/validation")["Parameter"]["Value"]
    )
    assert validation["threshold"] == pytest.approx(0.3)
    history = twin.client("ssm").get_parameter_history(Name="/feecast/validation")["Parameters"]
    assert json.loads(history[0]["Value"])["threshold"] == pytest.approx(0.24)
    subjects = [m["subject"] for m in twin.sns_messages()]
    assert any("production now serves model v1" in s for s in subjects)

    # Other systems hear the same on the default bus (docs/events.md), and SNS subscribers can
    # filter on the message attributes.
    assert_lifecycle_events(twin, arn)


def assert_lifecycle_events(twin: Any, arn: str) -> None:
    from feecast.lifecycle import LifecycleDetail

    version = int(arn.rsplit("/", 1)[-1])
    events = {
        (e["detail_type"], e["detail"]["stage"]): e
        for e in twin.bus_events(source="feecast")
        if e["detail"]["model_package_arn"] == arn
    }
    for key in [
        ("Deployment Succeeded", "staging"),
        ("Approval Requested", "production"),
        ("Approval Granted", "production"),
        ("Deployment Succeeded", "production"),
    ]:
        assert key in events, f"{key} not on the bus: {sorted(events)}"
        event = events[key]
        # (Step Functions adds its state machine and execution to the resources of its events)
        assert event["event_bus"] == "default" and arn in event["resources"]
        detail = LifecycleDetail.model_validate(event["detail"])
        assert detail.project == "feecast" and detail.model_version == version
    assert events[("Deployment Succeeded", "staging")]["detail"]["facts"]["smoke"]
    # the approval's signed links stay in the e-mail
    assert "http" not in json.dumps(events[("Approval Requested", "production")]["detail"])
    [request] = [m for m in twin.sns_messages() if "Approve: " in (m["message"] or "")]
    attributes = {k: v["Value"] for k, v in request["attributes"].items()}
    assert attributes == {
        "event_type": "Approval Requested",
        "outcome": "requested",
        "project": "feecast",
        "stage": "production",
        "model_version": str(version),
    }


def test_given_non_approval_and_duplicate_events_then_exactly_one_deployment(
    bound: Any, load_event: Any
) -> None:
    twin = bound
    arn = register(twin, b"not used", key="dup")
    twin.settle(timeout=60)  # the creation event (PendingManualApproval) is ignored
    for name in ("deploy-package-lifecycle-update.json", "deploy-package-rejected.json"):
        event = load_event(name)
        event["detail"]["ModelPackageArn"] = arn
        twin.send_event(event)
    assert deploy_executions(twin) == []

    approve_package(twin, arn)
    approval = [r for r in twin.records_of("model-package") if r.get("status") == "Approved"]
    assert approval
    detail = twin.client("sagemaker").describe_model_package(ModelPackageName=arn)
    duplicate = load_event("deploy-package-approved.json")
    duplicate["detail"].update(
        ModelPackageArn=arn,
        ModelPackageVersion=detail["ModelPackageVersion"],
        LastModifiedTime=detail["LastModifiedTime"].isoformat(),
    )
    twin.send_event(duplicate)
    twin.send_event(duplicate)
    # Also a metadata update of the approved package (its own event) must not redeploy.
    twin.client("sagemaker").update_model_package(
        ModelPackageArn=arn, CustomerMetadataProperties={"note": "x"}
    )
    twin.settle(timeout=120)
    assert len(deploy_executions(twin)) == 1


def test_given_a_staged_model_when_an_operator_rejects_it_then_the_deployment_ends_cleanly(
    bound: Any, model_tar: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    from feecast_cli.main import main

    twin = bound
    arn = register(twin, model_tar)
    approve_package(twin, arn)
    assert main(["approve"]) == 0
    listing = capsys.readouterr().out
    [waiting] = [line for line in listing.splitlines() if "model v1" in line]
    approval_id = waiting.split()[0]
    assert "No model package is waiting" in listing  # v1 is approved: only its promotion waits

    assert main(["reject", approval_id, "--comment", "looks off"]) == 0
    twin.settle(timeout=120)
    (run,) = deploy_executions(twin)
    final = twin.wait_for_execution(run["executionArn"], timeout=60)
    assert final["status"] == "SUCCEEDED"
    assert json.loads(final["output"])["approval"]["decision"] == "reject"
    assert main(["reject", approval_id]) == 2  # used once already
    endpoints = [e["EndpointName"] for e in twin.client("sagemaker").list_endpoints()["Endpoints"]]
    assert "feecast-production" not in endpoints
    assert any("rejected, production unchanged" in m["subject"] for m in twin.sns_messages())


@pytest.mark.twin(overrides={"ApprovalTimeoutSeconds": "3"})
def test_given_nobody_decides_when_the_approval_times_out_then_the_deployment_ends_and_says_so(
    bound: Any, model_tar: bytes
) -> None:
    twin = bound
    arn = register(twin, model_tar)
    approve_package(twin, arn)
    links = approval_links(twin)
    (run,) = deploy_executions(twin)
    final = twin.wait_for_execution(run["executionArn"], timeout=60)
    assert final["status"] == "FAILED" and final.get("error") == "ApprovalTimedOut"
    assert any("timed out" in m["subject"] for m in twin.sns_messages())
    twin.advance(5)  # the twin clock passes the link's expiry too
    assert follow(twin, links["approve"])["statusCode"] == 410


def test_given_bad_model_data_when_staging_fails_then_people_hear_why_and_production_is_untouched(
    bound: Any,
) -> None:
    twin = bound
    arn = register(twin, b"this is not a model archive", key="bad")
    approve_package(twin, arn)
    (run,) = deploy_executions(twin)
    final = twin.wait_for_execution(run["executionArn"], timeout=120)
    assert final["status"] == "FAILED" and final.get("error") == "DeploymentFailed"
    failure = [m for m in twin.sns_messages() if "failed" in (m["subject"] or "")][-1]
    assert (
        "EndpointFailed" in failure["message"]
        and "Production was not touched" in failure["message"]
    )
    endpoints = [e["EndpointName"] for e in twin.client("sagemaker").list_endpoints()["Endpoints"]]
    assert "feecast-production" not in endpoints


def test_given_two_deployed_models_when_the_live_one_is_rejected_then_the_previous_one_comes_back(
    bound: Any, model_tar: bytes
) -> None:
    twin = bound
    table = StateTable(twin.physical_id("StateTable"))
    first = register(twin, model_tar, loss=0.2, key="v1")
    deploy_fully(twin, first)
    with pytest.raises(NothingToRollBackTo):
        rollback.choose_target(table, SageMakerPackages())
    second = register(twin, model_tar, loss=0.19, key="v2")
    deploy_fully(twin, second)
    assert outcome.current(table, "production").package_arn == second  # type: ignore[union-attr]

    twin.client("sagemaker").update_model_package(
        ModelPackageArn=second, ModelApprovalStatus="Rejected"
    )
    twin.settle(timeout=300)
    rollbacks = [e for e in deploy_executions(twin) if e["name"].startswith("rollback-rejected-")]
    assert len(rollbacks) == 1
    assert (
        twin.wait_for_execution(rollbacks[0]["executionArn"], timeout=120)["status"] == "SUCCEEDED"
    )
    live = outcome.current(table, "production")
    assert live is not None and live.package_arn == first and live.mode == "rollback"
    config = twin.client("sagemaker").describe_endpoint(EndpointName="feecast-production")[
        "EndpointConfigName"
    ]
    assert "-v1-" in config
    assert len(ask_endpoint(twin, "feecast-production")[0]) == 30
    # v2 is rejected and v1 serves: a manual rollback has nowhere to go, and says so.
    with pytest.raises(NothingToRollBackTo):
        rollback.manual_rollback(
            reason="test",
            state_machine_arn=twin.physical_id("ModelDeployStateMachine"),
            settings=settings_of(twin),
            ports=rollback.RollbackPorts(
                state=table,
                packages=SageMakerPackages(),
                executions=StepFunctionsExecutions(),
                notifier=notify,
            ),
        )


def test_given_serve_when_other_processes_approve_then_staging_then_production_deploy(
    bound: Any, model_tar: bytes, repo_root: Any
) -> None:
    """The twin reacts to the real AWS CLI as AWS would (approval -> rule -> staging), and
    `feecast approve ID` from another process, whose wall clock is not the twin's, promotes it."""
    import os
    import subprocess

    from feecast_twin.cli import free_port, start_server

    twin = bound
    arn = register(twin, model_tar, key="cli")
    twin.settle(timeout=60)
    env = {k: v for k, v in os.environ.items() if k != "AWS_SESSION_TOKEN"}
    env |= {"AWS_ACCESS_KEY_ID": "fake", "AWS_SECRET_ACCESS_KEY": "fake"}
    env["AWS_DEFAULT_REGION"] = twin.region
    bin_dir = repo_root / ".venv" / "bin"

    def run(*argv: str) -> str:
        done = subprocess.run(
            [*argv], capture_output=True, text=True, env=env, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    handle = start_server(twin, port=free_port())
    try:
        run(
            str(bin_dir / "aws"),
            "--endpoint-url",
            handle.url,
            "sagemaker",
            "update-model-package",
            "--model-package-arn",
            arn,
            "--model-approval-status",
            "Approved",
        )
        twin.settle(timeout=300)
        staging = twin.client("sagemaker").describe_endpoint(
            EndpointName=twin.outputs["StagingEndpointName"]
        )
        assert staging["EndpointStatus"] == "InService"

        feecast = [str(bin_dir / "feecast"), "--endpoint-url", handle.url]
        [waiting] = [line for line in run(*feecast, "approve").splitlines() if "model v" in line]
        run(*feecast, "approve", waiting.split()[0], "--comment", "from another terminal")
        twin.settle(timeout=300)
        # No e-mail arrives in serve mode: `feecast logs` shows the notifications instead.
        shown = json.loads(run(*feecast, "logs", "--json", "--limit", "100"))
    finally:
        handle.stop()
    notified = [(e["event"], e["status"]) for e in shown if e["source"] == "notify"]
    for expected in [
        ("Deployment Succeeded", "deployed"),
        ("Approval Requested", "requested"),
        ("Approval Granted", "approved"),
    ]:
        assert expected in notified, notified
    assert any("now serves model" in e["subject"] for e in shown if e["source"] == "notify")
    [execution] = deploy_executions(twin)
    final = twin.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    assert json.loads(final["input"])["model_package_arn"] == arn
    assert final["status"] == "SUCCEEDED"
    production = twin.client("sagemaker").describe_endpoint(
        EndpointName=twin.outputs["ProductionEndpointName"]
    )
    assert production["EndpointStatus"] == "InService"


def test_given_an_approval_of_a_package_deleted_since_then_nothing_deploys_and_nothing_retries(
    bound: Any, load_event: Any
) -> None:
    twin = bound
    report = twin.send_event(load_event("deploy-package-approved.json"))  # v3: never registered
    [target] = report.targets
    assert target.status == "SUCCEEDED" and target.attempts == 1
    assert target.result == {
        "started": False,
        "reason": "package no longer exists",
        "execution_name": None,
        "execution_arn": None,
    }
    assert deploy_executions(twin) == []


# -- endpoint sizes and types (issue 16, defects 3 and 4) -----------------------------------------
@pytest.mark.twin(overrides={"EndpointType": "Provisioned", "ProductionInstanceCount": "2"})
def test_given_a_switch_of_endpoint_type_then_staging_is_recreated_and_production_is_left_alone(
    bound: Any, model_tar: bytes
) -> None:
    from feecast.deploy.deploy_endpoint import EndpointBusy, EndpointTypeChanged, deploy_endpoint
    from feecast.deploy.settings import EndpointSettings

    twin = bound
    sm = twin.client("sagemaker")
    arn = register(twin, model_tar, loss=0.2)
    run = deploy_fully(twin, arn)

    def instances(endpoint: str) -> int:
        config = sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
        (variant,) = sm.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
        return int(variant["InitialInstanceCount"])

    # Defect 4: staging is sized on its own, production by ProductionInstanceCount.
    assert instances("feecast-staging") == 1
    assert instances("feecast-production") == 2

    # SageMaker refuses to turn an instance endpoint into a serverless one (the twin too).
    serverless = {
        "VariantName": "AllTraffic",
        "ModelName": sm.describe_endpoint_config(
            EndpointConfigName=sm.describe_endpoint(EndpointName="feecast-production")[
                "EndpointConfigName"
            ]
        )["ProductionVariants"][0]["ModelName"],
        "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
    }
    sm.create_endpoint_config(
        EndpointConfigName="feecast-serverless-x", ProductionVariants=[serverless]
    )
    with pytest.raises(sm.exceptions.ClientError, match="serverless"):
        sm.update_endpoint(
            EndpointName="feecast-production", EndpointConfigName="feecast-serverless-x"
        )

    # The stack now says Serverless (EndpointType changed by `sam deploy`).
    env = {
        "project_name": "feecast",
        "ssm_prefix": "/feecast",
        "state_table": twin.physical_id("StateTable"),
        "notification_topic_arn": twin.physical_id("NotificationTopic"),
        "model_package_group_name": GROUP,
        "staging_endpoint_name": "feecast-staging",
        "production_endpoint_name": "feecast-production",
        "sagemaker_role_arn": twin.att("SageMakerExecutionRole", "Arn"),
        "endpoint_type": "Serverless",
    }
    settings = EndpointSettings.model_validate(env)
    deployment = run.rsplit(":", 1)[-1] + "-again"
    adapters: dict[str, Any] = {
        "endpoints": SageMakerEndpoints(),
        "packages": SageMakerPackages(),
        "alarms": CloudWatchAlarms(),
    }
    # Staging: deleted, and the state's retry (EndpointBusy) creates it anew, serverless.
    with pytest.raises(EndpointBusy, match="Provisioned"):
        deploy_endpoint(
            stage="staging",
            model_package_arn=arn,
            deployment_id=deployment,
            guarded=False,
            settings=settings,
            **adapters,
        )
    twin.settle(timeout=60)
    created = deploy_endpoint(
        stage="staging",
        model_package_arn=arn,
        deployment_id=deployment,
        guarded=False,
        settings=settings,
        **adapters,
    )
    assert created.action == "created"
    twin.settle(timeout=60)
    (variant,) = sm.describe_endpoint_config(EndpointConfigName=created.endpoint_config_name)[
        "ProductionVariants"
    ]
    assert "ServerlessConfig" in variant
    assert sm.describe_endpoint(EndpointName="feecast-staging")["EndpointStatus"] == "InService"
    # Production: refused with the documented way out; it keeps serving its model.
    before = sm.describe_endpoint(EndpointName="feecast-production")["EndpointConfigName"]
    with pytest.raises(
        EndpointTypeChanged, match="delete-endpoint --endpoint-name feecast-production"
    ):
        deploy_endpoint(
            stage="production",
            model_package_arn=arn,
            deployment_id=deployment,
            guarded=True,
            settings=settings,
            **adapters,
        )
    after = sm.describe_endpoint(EndpointName="feecast-production")
    assert after["EndpointConfigName"] == before and after["EndpointStatus"] == "InService"
    # The endpoints and configs carry the project tag `feecast teardown` relies on.
    tags = sm.list_tags(ResourceArn=after["EndpointArn"])["Tags"]
    assert {"Key": "feecast:project", "Value": "feecast"} in tags
