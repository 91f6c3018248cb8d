"""Deploy To Staging/Production, Wait For ..., the waiter and Tear Down Staging, on in-memory
ports (tests/support/fakes.py): what each step asks of SageMaker and Step Functions, each
refusal, and that a repeated call changes nothing more."""

from __future__ import annotations

from typing import Any

import pytest
from feecast.deploy import names
from feecast.deploy.await_endpoint import await_endpoint
from feecast.deploy.deploy_endpoint import (
    EndpointBusy,
    EndpointTypeChanged,
    PackageNotDeployable,
    deploy_endpoint,
)
from feecast.deploy.resume_endpoint_waiter import resume_waiter
from feecast.deploy.teardown_endpoint import teardown_endpoint

from tests.support.deploy import deploy_settings, endpoint_settings, package, package_arn
from tests.support.fakes import FakeAlarms, FakeEndpoints, FakePackages, FakeState, FakeTasks

DEPLOYMENT = "v7-20260105T101500"
CONFIG = "feecast-staging-v7-20260105T101500"
PROD_CONFIG = "feecast-production-v7-20260105T101500"
MODEL = "feecast-v7-20260105T101500"


class World:
    """The deploy ports of one test."""

    def __init__(self, *packages: dict[str, Any]) -> None:
        self.endpoints = FakeEndpoints()
        self.packages = FakePackages(*(packages or (package(7),)))
        self.alarms = FakeAlarms({"feecast-production-accuracy"})
        self.state = FakeState()
        self.tasks = FakeTasks("token-1")

    def deploy(self, stage: str = "staging", *, guarded: bool = False, **settings: Any) -> Any:
        return deploy_endpoint(
            stage=stage,
            model_package_arn=package_arn(7),
            deployment_id=DEPLOYMENT,
            guarded=guarded,
            settings=endpoint_settings(**settings),
            endpoints=self.endpoints,
            packages=self.packages,
            alarms=self.alarms,
        )

    def wait(self, endpoint: str = "feecast-staging", config: str = CONFIG) -> Any:
        return await_endpoint(
            task_token="token-1",
            endpoint_name=endpoint,
            endpoint_config_name=config,
            timeout_seconds=3600,
            execution="arn:aws:states:eu-west-1:123456789012:execution:feecast-model-deploy:x",
            settings=deploy_settings(),
            state=self.state,
            endpoints=self.endpoints,
            tasks=self.tasks,
        )

    def event(self, status: str, config: str = CONFIG, **detail: Any) -> Any:
        return resume_waiter(
            {
                "EndpointName": "feecast-staging",
                "EndpointStatus": status,
                "EndpointConfigName": config,
                **detail,
            },
            deploy_settings(),
            state=self.state,
            endpoints=self.endpoints,
            tasks=self.tasks,
        )


# -- Deploy To Staging / Production -------------------------------------------------------------
def test_given_no_endpoint_when_deployed_then_model_config_and_endpoint_are_created() -> None:
    w = World()
    result = w.deploy()
    assert (result.action, result.endpoint_name, result.endpoint_config_name) == (
        "created",
        "feecast-staging",
        CONFIG,
    )
    assert result.model_name == MODEL and result.previous_endpoint_config_name is None
    assert w.endpoints.calls == [
        ("create_model", MODEL),
        ("create_endpoint_config", CONFIG),
        ("create_endpoint", "feecast-staging"),
    ]
    model = w.endpoints.models[MODEL]
    assert model["PrimaryContainer"] == {
        "Image": "deepar:1",
        "ModelDataUrl": "s3://artifacts/v7/model.tar.gz",
    }
    # Staging is one instance whatever production's count.
    (variant,) = w.endpoints.configs[CONFIG]["ProductionVariants"]
    assert variant["InitialInstanceCount"] == 1


def test_given_the_step_is_retried_then_nothing_new_is_created() -> None:
    w = World()
    w.deploy()
    calls = list(w.endpoints.calls)
    again = w.deploy()
    assert again.action == "unchanged"
    assert w.endpoints.calls == calls


def test_given_a_serving_production_when_guarded_then_it_is_updated_with_blue_green() -> None:
    w = World()
    w.endpoints.serve("feecast-production", "feecast-production-v6-x", CurrentInstanceCount=1)
    result = w.deploy("production", guarded=True)
    assert result.action == "updated"
    assert result.previous_endpoint_config_name == "feecast-production-v6-x"
    updated = w.endpoints.endpoints["feecast-production"]
    assert updated["EndpointConfigName"] == PROD_CONFIG
    rollback_on = updated["LastDeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    # Only the alarms that exist are used (feecast-production-errors is missing).
    assert rollback_on == [{"AlarmName": "feecast-production-accuracy"}]
    assert "blue/green" in result.guardrails


def test_given_an_unguarded_update_then_no_deployment_config_is_sent() -> None:
    w = World()
    w.endpoints.serve("feecast-staging", "feecast-staging-v6-x")
    result = w.deploy()
    assert result.action == "updated" and result.guardrails.startswith("none")
    assert w.endpoints.endpoints["feecast-staging"]["LastDeploymentConfig"] is None


@pytest.mark.parametrize("status", ["PendingManualApproval", "Rejected"])
def test_given_a_package_not_approved_then_nothing_is_deployed(status: str) -> None:
    w = World(package(7, status=status))
    with pytest.raises(PackageNotDeployable, match="only approved"):
        w.deploy()
    assert w.endpoints.calls == []


def test_given_a_package_without_model_data_then_it_is_not_deployable() -> None:
    bare = package(7)
    bare["InferenceSpecification"]["Containers"][0].pop("ModelDataUrl")
    w = World(bare)
    with pytest.raises(PackageNotDeployable, match="no inference container"):
        w.deploy()
    assert w.endpoints.calls == []


def test_given_a_model_name_taken_by_other_data_then_the_deployment_is_refused() -> None:
    w = World()
    w.endpoints.models[MODEL] = {
        "ModelName": MODEL,
        "PrimaryContainer": {"Image": "deepar:1", "ModelDataUrl": "s3://elsewhere/model.tar.gz"},
    }
    with pytest.raises(PackageNotDeployable, match="not this deployment's"):
        w.deploy()
    assert "feecast-staging" not in w.endpoints.endpoints


@pytest.mark.parametrize("status", ["Creating", "Updating", "RollingBack"])
def test_given_an_endpoint_changing_then_the_step_waits_and_retries(status: str) -> None:
    w = World()
    w.endpoints.serve("feecast-staging", "feecast-staging-v6-x", status=status)
    with pytest.raises(EndpointBusy, match=status):
        w.deploy()
    assert w.endpoints.endpoints["feecast-staging"]["EndpointConfigName"] == "feecast-staging-v6-x"


def test_given_a_failed_endpoint_then_it_is_deleted_and_the_retry_creates_it() -> None:
    w = World()
    w.endpoints.serve("feecast-staging", "feecast-staging-v6-x", status="Failed")
    with pytest.raises(EndpointBusy, match="had failed"):
        w.deploy()
    assert "feecast-staging" not in w.endpoints.endpoints
    assert w.deploy().action == "created"


def test_given_staging_of_another_type_then_it_is_deleted_and_recreated() -> None:
    w = World()
    w.endpoints.serve(
        "feecast-staging", "feecast-staging-v6-x", ProductionVariants=[{"CurrentInstanceCount": 1}]
    )
    with pytest.raises(EndpointBusy, match="Provisioned"):
        w.deploy(endpoint_type="Serverless")
    assert "feecast-staging" not in w.endpoints.endpoints
    assert w.deploy(endpoint_type="Serverless").action == "created"
    (variant,) = w.endpoints.configs[CONFIG]["ProductionVariants"]
    assert "ServerlessConfig" in variant


def test_given_production_of_another_type_then_it_is_left_alone_and_the_way_out_is_said() -> None:
    w = World()
    w.endpoints.serve(
        "feecast-production",
        "feecast-production-v6-x",
        ProductionVariants=[{"CurrentInstanceCount": 1}],
    )
    with pytest.raises(EndpointTypeChanged, match="delete-endpoint --endpoint-name"):
        w.deploy("production", guarded=True, endpoint_type="Serverless")
    assert w.endpoints.endpoints["feecast-production"]["EndpointStatus"] == "InService"
    assert ("update_endpoint", "feecast-production") not in w.endpoints.calls


# -- Wait For ... (the waiter) ------------------------------------------------------------------
def waiter(w: World) -> dict[str, Any] | None:
    return w.state.get(f"{names.WAITER_PREFIX}feecast-staging", "WAITER")


def test_given_an_endpoint_still_creating_then_the_token_is_kept_and_the_task_waits() -> None:
    w = World()
    w.deploy()
    result = w.wait()
    assert (result.status, result.detail) == ("waiting", "endpoint is Creating")
    assert waiter(w) is not None and waiter(w)["task_token"] == "token-1"  # type: ignore[index]
    assert w.tasks.succeeded == [] and w.tasks.failed == []


def test_given_the_endpoint_already_in_service_then_the_task_resumes_at_once() -> None:
    w = World()
    w.deploy()
    w.endpoints.settle("feecast-staging")
    result = w.wait()
    assert result.status == "resumed"
    [(token, output)] = w.tasks.succeeded
    assert token == "token-1" and output["endpoint_config_name"] == CONFIG
    assert waiter(w) is None  # consumed


def test_given_the_endpoint_missing_then_the_task_fails() -> None:
    w = World()
    result = w.wait()
    assert result.status == "failed"
    assert w.tasks.failed == [("token-1", "EndpointMissing", "feecast-staging does not exist")]


def test_given_the_update_already_rolled_back_then_the_task_fails_saying_so() -> None:
    w = World()
    w.endpoints.serve("feecast-staging", "feecast-staging-v6-x", FailureReason="alarm")
    result = w.wait()
    assert result.status == "failed"
    [(_, error, cause)] = w.tasks.failed
    assert error == "EndpointRolledBack" and "rolled back (alarm)" in cause


def test_given_the_task_timed_out_meanwhile_then_the_waiter_ignores_it() -> None:
    w = World()
    w.tasks.waiting.clear()  # the task's TimeoutSeconds passed
    w.deploy()
    w.endpoints.settle("feecast-staging")
    result = w.wait()
    assert result.status == "ignored" and "gone" in result.detail


# -- Resume The Waiter (endpoint state-change events) ---------------------------------------------
def test_given_an_in_service_event_then_the_task_resumes_once() -> None:
    w = World()
    w.deploy()
    w.wait()
    w.endpoints.settle("feecast-staging")
    assert w.event("IN_SERVICE").status == "resumed"  # the event's spelling is normalised
    again = w.event("InService")
    assert (again.status, again.detail) == ("ignored", "nobody is waiting for this endpoint")
    assert len(w.tasks.succeeded) == 1


def test_given_nobody_waits_then_the_event_is_ignored() -> None:
    w = World()
    result = w.event("InService")
    assert result.status == "ignored" and w.tasks.succeeded == []


def test_given_a_not_final_event_then_the_waiter_stays() -> None:
    w = World()
    w.deploy()
    w.wait()
    assert w.event("Updating").status == "ignored"
    assert waiter(w) is not None


def test_given_a_failed_event_then_the_task_fails_with_the_reason() -> None:
    w = World()
    w.deploy()
    w.wait()
    result = w.event("Failed", FailureReason="image not found")
    assert result.status == "failed"
    assert w.tasks.failed == [
        ("token-1", "EndpointFailed", "feecast-staging is Failed: image not found")
    ]


def test_given_a_late_event_of_the_old_config_while_updating_then_it_is_ignored() -> None:
    w = World()
    w.endpoints.serve("feecast-staging", "feecast-staging-v6-x")
    w.deploy()  # update requested: Updating
    w.wait()
    stale = w.event("InService", config="feecast-staging-v6-x")
    assert (stale.status, stale.detail) == ("ignored", "stale event; endpoint still changing")
    w.endpoints.settle("feecast-staging")
    assert w.event("InService").status == "resumed"


def test_given_an_event_of_the_old_config_after_a_rollback_then_the_task_fails() -> None:
    w = World()
    w.endpoints.serve("feecast-staging", "feecast-staging-v6-x")
    w.deploy()
    w.wait()
    w.endpoints.settle("feecast-staging", EndpointConfigName="feecast-staging-v6-x")
    result = w.event("InService", config="feecast-staging-v6-x")
    assert result.status == "failed"
    assert w.tasks.failed[0][1] == "EndpointRolledBack"


# -- Tear Down Staging ----------------------------------------------------------------------------
def test_given_staging_then_teardown_deletes_it_and_a_repeat_finds_it_absent() -> None:
    w = World()
    w.endpoints.serve("feecast-staging", CONFIG)
    assert teardown_endpoint("feecast-staging", endpoints=w.endpoints).model_dump() == {
        "endpoint_name": "feecast-staging",
        "action": "deleted",
    }
    assert teardown_endpoint("feecast-staging", endpoints=w.endpoints).action == "absent"
    assert w.endpoints.calls == [("delete_endpoint", "feecast-staging")]
