"""Faults in the deploy stage (issue 9): the ModelDeploy state machine on the twin reaches its
defined end, with a notification saying why, retries what is transient, and production keeps
serving the model it served before.

Most tests bring production up with model v1 (the tiny local DeepAR of conftest.py's
`model_tar`), then deploy v2 into a fault. What each asserts: the execution's end state and
error, the notification, the endpoints (status, config, an answered invocation), the SSM
threshold and its versions, and the StateTable records (THRESHOLD#, DEPLOY#production/CURRENT).

The threshold (docs/deploy.md, "Known limits"): it is set to the model's own (the package's
alarm_threshold) before staging, once per model; a deployment that fails later keeps that value
and says so in its notification.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from feecast.adapters.state_table import StateTable
from feecast.deepar import inference_request, parse_endpoint_response
from feecast.deploy import outcome
from feecast.series import MinuteSeries

from tests.support.drivers import approve_package, artifact_key, register

pytestmark = pytest.mark.slow

VALIDATION = "/feecast/validation"


# -- helpers (packages and approvals: tests/support/drivers.py) ---------------------------------
@pytest.fixture
def bound(twin: Any) -> Iterator[Any]:
    """Library calls made from the test (outcome.current) use the twin."""
    from feecast.adapters import clients

    clients.use_session(None)
    yield twin
    clients.use_session(None)


def delete_artifact(twin: Any, key: str) -> None:
    twin.client("s3").delete_object(
        Bucket=twin.physical_id("ArtifactBucket"), Key=artifact_key(key)
    )


def run_of(twin: Any, arn: str) -> dict[str, Any]:
    """The (one) deployment execution of a package, once it has ended."""
    sfn = twin.client("stepfunctions")
    runs = sfn.list_executions(stateMachineArn=twin.physical_id("ModelDeployStateMachine"))[
        "executions"
    ]
    version = arn.rsplit("/", 1)[-1]
    (run,) = [e for e in runs if e["name"].startswith(f"v{version}-")]
    return twin.wait_for_execution(run["executionArn"], timeout=120)  # type: ignore[no-any-return]


def states_entered(twin: Any, execution_arn: str) -> list[str]:
    events = twin.client("stepfunctions").get_execution_history(
        executionArn=execution_arn, maxResults=1000
    )["events"]
    return [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]


def approve_promotion(twin: Any) -> None:
    """Follow the approve link of the latest approval request (as a person would)."""
    text = [m["message"] for m in twin.sns_messages() if "Approve: " in (m["message"] or "")][-1]
    url = re.search(r"Approve: (\S+)", text).group(1)  # type: ignore[union-attr]
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    response = twin.http_request("POST", parts.path, query=query)
    assert response["statusCode"] == 200, response["body"]
    twin.settle(timeout=300)


def deploy_v1(twin: Any, model_tar: bytes) -> str:
    """Production serves v1 (its threshold 0.22 replaces 0.24, SSM version 2)."""
    arn = register(twin, model_tar, loss=0.2, threshold=0.22, key="v1")
    approve_package(twin, arn)
    approve_promotion(twin)
    assert run_of(twin, arn)["status"] == "SUCCEEDED"
    assert threshold_now(twin) == (pytest.approx(0.22), 2)
    return arn


def threshold_now(twin: Any) -> tuple[float, int]:
    parameter = twin.client("ssm").get_parameter(Name=VALIDATION)["Parameter"]
    return json.loads(parameter["Value"])["threshold"], int(parameter["Version"])


def ask_endpoint(twin: Any, name: str) -> list[Any]:
    context = MinuteSeries(
        datetime(2026, 1, 4, 6, tzinfo=UTC), 2500 + 100 * np.sin(np.arange(120) / 10)
    )
    body = inference_request([context], num_samples=20, quantiles=["0.1", "0.5", "0.9"])
    answer = twin.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=name, ContentType="application/json", Body=json.dumps(body)
    )
    return parse_endpoint_response(answer["Body"].read())  # type: ignore[no-any-return]


def assert_production_serves_v1(twin: Any, v1: str) -> None:
    production = twin.client("sagemaker").describe_endpoint(EndpointName="feecast-production")
    assert production["EndpointStatus"] == "InService"
    assert "-v1-" in production["EndpointConfigName"]
    assert len(ask_endpoint(twin, "feecast-production")[0]) == 30
    current = outcome.current(StateTable(twin.physical_id("StateTable")), "production")
    assert current is not None and current.package_arn == v1
    assert len(outcome.history(StateTable(twin.physical_id("StateTable")), "production")) == 1


def failure_message(twin: Any, version: int) -> dict[str, Any]:
    (message,) = [
        m
        for m in twin.sns_messages()
        if m["subject"] == f"feecast: deployment of model v{version} failed"
    ]
    return message


def threshold_record(twin: Any, arn: str) -> dict[str, Any] | None:
    item = (
        twin.client("dynamodb")
        .get_item(
            TableName=twin.physical_id("StateTable"),
            Key={"pk": {"S": f"THRESHOLD#{arn}"}, "sk": {"S": "THRESHOLD"}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return None if item is None else {k: next(iter(v.values())) for k, v in item.items()}


def endpoint_configs(twin: Any, version: int) -> list[str]:
    configs = twin.client("sagemaker").list_endpoint_configs()["EndpointConfigs"]
    return [c["EndpointConfigName"] for c in configs if f"-v{version}-" in c["EndpointConfigName"]]


def deploy_metric(twin: Any, name: str) -> float:
    return sum(value for _, value in twin.metric_data("feecast", name))


# -- staging -------------------------------------------------------------------------------------
@pytest.mark.twin(overrides={"TeardownStagingAfterPromotion": "true"})
def test_given_a_missing_model_artifact_when_staging_is_created_then_it_fails_production_serves(
    bound: Any, model_tar: bytes
) -> None:
    """Staging is torn down after each promotion, so v2 creates it anew: the endpoint cannot
    download its model data and goes Failed (as SageMaker's would)."""
    twin = bound
    v1 = deploy_v1(twin, model_tar)
    assert "feecast-staging" not in [
        e["EndpointName"] for e in twin.client("sagemaker").list_endpoints()["Endpoints"]
    ]
    v2 = register(twin, model_tar, loss=0.1, threshold=0.16, key="v2")
    delete_artifact(twin, "v2")
    approve_package(twin, v2)

    final = run_of(twin, v2)
    assert final["status"] == "FAILED" and final["error"] == "DeploymentFailed"
    entered = states_entered(twin, final["executionArn"])
    assert entered[-3:] == [
        "Note A Failure Before Production",
        "Report The Failure",
        "Deployment Failed",
    ]
    assert "Smoke Test Staging" not in entered and "Deploy To Production" not in entered
    staging = twin.client("sagemaker").describe_endpoint(EndpointName="feecast-staging")
    assert staging["EndpointStatus"] == "Failed"
    assert "Could not download model data" in staging["FailureReason"]

    # People hear why, and that production was not touched.
    failure = failure_message(twin, 2)
    assert "EndpointFailed" in failure["message"]
    assert artifact_key("v2") in failure["message"]
    assert "Production was not touched" in failure["message"]
    assert deploy_metric(twin, "DeploymentsFailed") == 1

    # The threshold was set once, before staging (the design), and the message says so.
    assert threshold_now(twin) == (pytest.approx(0.16), 3)
    record = threshold_record(twin, v2)
    assert record is not None and record["state"] == "applied" and record["ssm_version"] == "3"
    assert float(record["old"]) == pytest.approx(0.22) and float(record["new"]) == pytest.approx(
        0.16
    )
    assert "set for this model from 0.22 to 0.16" in failure["message"]
    history = twin.client("ssm").get_parameter_history(Name=VALIDATION)["Parameters"]
    assert [json.loads(p["Value"])["threshold"] for p in history] == pytest.approx(
        [0.24, 0.22, 0.16]
    )
    # A retry or a re-approval of the same model never lowers it a second time.
    again = twin.invoke("UpdateThresholdFunction", {"model_package_arn": v2})
    assert again["already_applied"] is True and again["new_threshold"] == pytest.approx(0.16)
    assert threshold_now(twin) == (pytest.approx(0.16), 3)

    assert_production_serves_v1(twin, v1)


@pytest.mark.parametrize("fault", ["model data deleted", "instances fail to start"])
def test_given_a_production_update_that_fails_then_sagemaker_keeps_v1_and_people_hear_why(
    bound: Any, model_tar: bytes, fault: str
) -> None:
    """v2 passes staging; then its model data disappears, or the new fleet cannot start: the
    blue/green update is rolled back, the deployment fails in its production phase."""
    twin = bound
    v1 = deploy_v1(twin, model_tar)
    v2 = register(twin, model_tar, loss=0.1, threshold=0.16, key="v2")
    approve_package(twin, v2)
    staging = twin.client("sagemaker").describe_endpoint(EndpointName="feecast-staging")
    assert staging["EndpointStatus"] == "InService" and "-v2-" in staging["EndpointConfigName"]
    if fault == "model data deleted":
        delete_artifact(twin, "v2")
    else:
        twin.component("sagemaker").inject_endpoint_failure(
            "CapacityError: no ml.m5.large capacity", endpoint_name="feecast-production"
        )
    approve_promotion(twin)

    final = run_of(twin, v2)
    assert final["status"] == "FAILED" and final["error"] == "DeploymentFailed"
    entered = states_entered(twin, final["executionArn"])
    assert "Wait For Production" in entered and "Record The Deployment" not in entered
    assert "Note A Failure In Production" in entered
    failure = failure_message(twin, 2)
    assert "EndpointRolledBack" in failure["message"]
    assert ("CapacityError" if "start" in fault else artifact_key("v2")) in failure["message"]
    assert "Production keeps serving its previous model" in failure["message"]
    assert "not touched" not in failure["message"]
    assert deploy_metric(twin, "DeploymentsFailed") == 1
    assert deploy_metric(twin, "DeploymentsSucceeded") == 1  # v1's only
    assert_production_serves_v1(twin, v1)


# -- SSM parameters ------------------------------------------------------------------------------
# (parameter, bad value or None to delete it, what the notification must name)
CORRUPTIONS = [
    (VALIDATION, None, "/feecast/validation: parameter missing"),
    (VALIDATION, "{threshold: 0.2", "/feecast/validation"),
    (VALIDATION, json.dumps({"threshold": "low", "confidence": 90}), "threshold"),
    ("/feecast/hyperparameters", json.dumps({"epochs": -1}), "/feecast/hyperparameters"),
]


def ssm_versions(twin: Any, name: str) -> int | None:
    try:
        return len(twin.client("ssm").get_parameter_history(Name=name)["Parameters"])
    except twin.client("ssm").exceptions.ParameterNotFound:
        return None


def test_given_a_missing_or_corrupt_ssm_parameter_then_the_deployment_fails_before_any_change(
    bound: Any, model_tar: bytes
) -> None:
    """One production, four broken parameters in turn (each repaired before the next), each
    with a new package: a clear failure that names the parameter, and nothing half done."""
    twin = bound
    v1 = deploy_v1(twin, model_tar)
    ssm = twin.client("ssm")
    for version, (name, value, expected) in enumerate(CORRUPTIONS, start=2):
        good = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        if value is None:
            ssm.delete_parameter(Name=name)
        else:
            ssm.put_parameter(Name=name, Value=value, Overwrite=True)
        versions = ssm_versions(twin, VALIDATION)
        arn = register(twin, model_tar, loss=0.1, threshold=0.16, key=f"v{version}")
        approve_package(twin, arn)

        final = run_of(twin, arn)
        assert final["status"] == "FAILED" and final["error"] == "DeploymentFailed", name
        entered = states_entered(twin, final["executionArn"])
        assert "Update The Threshold" in entered and "Deploy To Staging" not in entered
        failure = failure_message(twin, version)
        assert "ConfigError" in failure["message"] and expected in failure["message"], value
        assert "Production was not touched" in failure["message"]
        # Nothing half done: no threshold claim or write, no endpoint config for the model.
        assert threshold_record(twin, arn) is None
        assert ssm_versions(twin, VALIDATION) == versions
        assert endpoint_configs(twin, version) == []
        ssm.put_parameter(Name=name, Value=good, Overwrite=True)

    assert threshold_now(twin)[0] == pytest.approx(0.22)
    staging = twin.client("sagemaker").describe_endpoint(EndpointName="feecast-staging")
    assert "-v1-" in staging["EndpointConfigName"]
    assert deploy_metric(twin, "DeploymentsFailed") == len(CORRUPTIONS)
    assert_production_serves_v1(twin, v1)


# -- the smoke test --------------------------------------------------------------------------------
def test_given_staging_answers_500_when_smoke_tested_then_the_deployment_fails_before_production(
    bound: Any, model_tar: bytes
) -> None:
    twin = bound
    v1 = deploy_v1(twin, model_tar)
    twin.component("sagemaker").inject_invoke_failure(
        code="ModelError",
        status=500,
        message="container crashed",
        times=3,
        endpoint_name="feecast-staging",
    )
    v2 = register(twin, model_tar, loss=0.1, threshold=0.16, key="v2")
    approve_package(twin, v2)

    final = run_of(twin, v2)
    assert final["status"] == "FAILED" and final["error"] == "DeploymentFailed"
    entered = states_entered(twin, final["executionArn"])
    assert "Smoke Test Staging" in entered and "Ask A Person To Approve" not in entered
    failure = failure_message(twin, 2)
    assert "ModelError" in failure["message"] and "container crashed" in failure["message"]
    assert "Production was not touched" in failure["message"]
    assert not [
        m for m in twin.sns_messages() if "Approve: " in m["message"] and "v2" in m["subject"]
    ]
    assert_production_serves_v1(twin, v1)


# -- throttling ------------------------------------------------------------------------------------
def test_given_transient_throttling_everywhere_then_the_deployment_retries_and_succeeds(
    bound: Any, model_tar: bytes
) -> None:
    """Two throttles per API: the handlers' SDK retries absorb them. Throttled Lambda invokes
    are retried by the states' Retry (Lambda.TooManyRequestsException), and so is a burst that
    outlasts the SDK's three attempts (UpdateEndpoint, four throttles: AwsThrottled)."""
    twin = bound
    deploy_v1(twin, model_tar)
    twin.faults.retry_scale = 0.01
    faults = [
        twin.faults.fail("sagemaker", "CreateEndpointConfig", times=2),
        twin.faults.fail("sagemaker", "UpdateEndpoint", times=4),
        twin.faults.fail("ssm", "PutParameter", times=2),
        twin.faults.fail("sns", "Publish", code="Throttled", times=2),
        twin.faults.fail(
            "lambda",
            "Invoke",
            code="TooManyRequestsException",
            times=2,
            when=lambda p: "DeployEndpoint" in str(p.get("FunctionName")),
        ),
    ]
    v2 = register(twin, model_tar, loss=0.1, threshold=0.16, key="v2")
    approve_package(twin, v2)
    approve_promotion(twin)

    final = run_of(twin, v2)
    assert final["status"] == "SUCCEEDED"
    assert [f.injected for f in faults] == [2, 4, 2, 2, 2]
    events = twin.client("stepfunctions").get_execution_history(
        executionArn=final["executionArn"], maxResults=1000
    )["events"]
    failed = [e for e in events if e["type"] in ("LambdaFunctionFailed", "TaskFailed")]
    causes = [json.dumps(e, default=str) for e in failed]
    assert len(causes) == 3
    assert sum("TooManyRequestsException" in c for c in causes) == 2
    assert sum("AwsThrottled" in c and "UpdateEndpoint" in c for c in causes) == 1
    assert twin.records_of("sfn-retry-wait")
    production = twin.client("sagemaker").describe_endpoint(EndpointName="feecast-production")
    assert (
        production["EndpointStatus"] == "InService" and "-v2-" in production["EndpointConfigName"]
    )
    assert len(ask_endpoint(twin, "feecast-production")[0]) == 30
    current = outcome.current(StateTable(twin.physical_id("StateTable")), "production")
    assert current is not None and current.package_arn == v2
    assert threshold_now(twin) == (pytest.approx(0.16), 3)  # retried writes: set once
    assert [m["subject"] for m in twin.sns_messages()].count(
        "feecast: production now serves model v2"
    ) == 1


def test_given_ssm_put_parameter_throttled_for_good_then_the_deployment_fails_before_staging(
    bound: Any, model_tar: bytes
) -> None:
    twin = bound
    v1 = deploy_v1(twin, model_tar)
    twin.faults.retry_scale = 0.01
    fault = twin.faults.fail("ssm", "PutParameter", times=None)
    v2 = register(twin, model_tar, loss=0.1, threshold=0.16, key="v2")
    approve_package(twin, v2)
    final = run_of(twin, v2)
    fault.cancel()

    assert final["status"] == "FAILED" and final["error"] == "DeploymentFailed"
    assert fault.injected == 12  # the SDK's 3 attempts, in each of the state's 4 attempts
    assert "Deploy To Staging" not in states_entered(twin, final["executionArn"])
    failure = failure_message(twin, 2)
    assert "AwsThrottled: PutParameter throttled" in failure["message"]
    assert "ThrottlingException" in failure["message"]
    assert "Production was not touched" in failure["message"]
    # The threshold is unchanged; the claim stays pending, so a retry writes exactly its values.
    assert threshold_now(twin) == (pytest.approx(0.22), 2)
    record = threshold_record(twin, v2)
    assert record is not None and record["state"] == "pending"
    assert float(record["new"]) == pytest.approx(0.16)
    again = twin.invoke("UpdateThresholdFunction", {"model_package_arn": v2})
    assert again["lowered"] is True and again["ssm_version"] == 3
    assert threshold_now(twin) == (pytest.approx(0.16), 3)
    assert_production_serves_v1(twin, v1)


def test_given_production_update_endpoint_throttled_for_good_then_production_keeps_v1(
    bound: Any, model_tar: bytes
) -> None:
    twin = bound
    v1 = deploy_v1(twin, model_tar)
    v2 = register(twin, model_tar, loss=0.1, threshold=0.16, key="v2")
    approve_package(twin, v2)
    twin.faults.retry_scale = 0.01
    fault = twin.faults.fail(
        "sagemaker",
        "UpdateEndpoint",
        times=None,
        when=lambda p: p.get("EndpointName") == "feecast-production",
    )
    approve_promotion(twin)
    final = run_of(twin, v2)
    fault.cancel()

    assert final["status"] == "FAILED" and final["error"] == "DeploymentFailed"
    assert fault.injected == 12
    entered = states_entered(twin, final["executionArn"])
    assert "Note A Failure In Production" in entered and "Wait For Production" not in entered
    failure = failure_message(twin, 2)
    assert "AwsThrottled: UpdateEndpoint throttled" in failure["message"]
    assert "Production keeps serving its previous model" in failure["message"]
    assert_production_serves_v1(twin, v1)
