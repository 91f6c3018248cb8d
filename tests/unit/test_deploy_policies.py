"""Pure deploy policies: threshold decisions, endpoint configs and guardrails, names, history,
and the smoke test's checks of an endpoint answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from feecast.deploy import endpoint_config as ec
from feecast.deploy import names, smoke
from feecast.deploy.history import DeploymentRecord, NothingToRollBackTo, rollback_target
from feecast.events import PackageStateChange
from feecast.times import parse_optional_instant

ROOT = Path(__file__).resolve().parents[2]


# -- threshold ---------------------------------------------------------------------------------
# (tests/unit/test_threshold.py: the approved model's own threshold replaces the old one)


# -- endpoint configs --------------------------------------------------------------------------
def test_given_a_provisioned_spec_then_the_config_has_instances() -> None:
    req = ec.endpoint_config_request("cfg", "model", ec.EndpointSpec(instance_type="ml.m5.large"))
    (variant,) = req["ProductionVariants"]
    assert variant == {
        "VariantName": "AllTraffic",
        "ModelName": "model",
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
        "InitialVariantWeight": 1.0,
    }


def test_given_a_serverless_spec_then_the_config_has_a_serverless_config_and_no_instances() -> None:
    spec = ec.EndpointSpec(
        endpoint_type="Serverless", serverless_memory_mb=3072, serverless_max_concurrency=7
    )
    (variant,) = ec.endpoint_config_request("cfg", "model", spec)["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 3072, "MaxConcurrency": 7}
    assert "InstanceType" not in variant and "InitialInstanceCount" not in variant


def test_given_two_or_more_instances_then_production_updates_use_a_canary() -> None:
    cfg = ec.guardrails(ec.EndpointSpec(instance_count=2), bake_seconds=600, alarm_names=["a", "b"])
    routing = cfg["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {
        "Type": "CANARY",
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
        "WaitIntervalInSeconds": 600,
    }
    assert cfg["AutoRollbackConfiguration"] == {"Alarms": [{"AlarmName": "a"}, {"AlarmName": "b"}]}
    assert 600 <= cfg["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"] <= 28800


@pytest.mark.parametrize("spec", [ec.EndpointSpec(), ec.EndpointSpec(endpoint_type="Serverless")])
def test_given_one_instance_or_serverless_then_all_at_once_with_a_bake_and_auto_rollback(
    spec: ec.EndpointSpec,
) -> None:
    cfg = ec.guardrails(spec, bake_seconds=300, alarm_names=["acc"])
    assert cfg["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] == {
        "Type": "ALL_AT_ONCE",
        "WaitIntervalInSeconds": 300,
    }
    assert "bake 300 s" in ec.guardrail_summary(cfg) and "acc" in ec.guardrail_summary(cfg)


def test_given_no_alarms_then_no_auto_rollback_section_and_bad_inputs_are_refused() -> None:
    assert "AutoRollbackConfiguration" not in ec.guardrails(
        ec.EndpointSpec(), bake_seconds=0, alarm_names=[]
    )
    with pytest.raises(ValueError):
        ec.guardrails(ec.EndpointSpec(), bake_seconds=4000, alarm_names=[])
    with pytest.raises(ValueError):
        ec.EndpointSpec(endpoint_type="Lambda")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ec.EndpointSpec(endpoint_type="Serverless", serverless_memory_mb=1000)


# -- names -------------------------------------------------------------------------------------
def test_names_are_deterministic_and_within_aws_limits() -> None:
    at = datetime(2026, 1, 5, 10, 15, tzinfo=UTC)
    run = names.deploy_execution_name(12345, at)
    assert run == names.deploy_execution_name(12345, at) == "v12345-20260105T101500"
    model = names.model_name("a" * 21, 12345, run)
    config = names.endpoint_config_name("a" * 21 + "-" + "b" * 16, 12345, run)
    assert len(model) <= 63 and len(config) <= 63
    assert (
        names.endpoint_config_name("feecast-staging", 3, "v3-20260105T101500")
        == "feecast-staging-v3-20260105T101500"
    )
    assert (
        names.package_version("arn:aws:sagemaker:eu-west-1:1:model-package/feecast-models/7") == 7
    )


@pytest.mark.parametrize(
    "raw",
    [
        "2026-01-05T10:15:00Z",
        "1767608100000",
        1767608100000.0,
        1767608100,
        "2026-01-05T10:15:00+00:00",
    ],
)
def test_event_times_in_iso_or_epoch_forms_are_understood(raw: object) -> None:
    assert parse_optional_instant(raw) == datetime(2026, 1, 5, 10, 15, tzinfo=UTC)  # type: ignore[arg-type]


def test_given_a_package_event_without_detail_times_then_the_envelope_time_dates_it() -> None:
    """The handlers pass the envelope's `time` as the parser read it (a datetime)."""
    event = json.loads((ROOT / "events" / "deploy-package-approved.json").read_text())
    for name in ("LastModifiedTime", "CreationTime"):
        del event["detail"][name]
    event["time"] = "2026-01-05T11:15:00+01:00"
    change = PackageStateChange.model_validate(event)
    assert change.detail.changed_at(change.time) == datetime(2026, 1, 5, 10, 15, tzinfo=UTC)
    assert change.detail.version == 3


# -- rollback target ---------------------------------------------------------------------------
def _rec(version: int) -> DeploymentRecord:
    return DeploymentRecord(
        stage="production",
        package_arn=f"arn:pkg/{version}",
        version=version,
        deployed_at=f"2026-01-0{version}T00:00:00Z",
        execution=f"v{version}-x",
    )


def test_given_history_when_rolling_back_then_the_newest_other_approved_package_is_chosen() -> None:
    history = [_rec(4), _rec(3), _rec(2), _rec(1)]
    rejected = {"arn:pkg/3"}
    target = rollback_target(history, "arn:pkg/4", lambda arn: arn not in rejected)
    assert target.package_arn == "arn:pkg/2"


def test_given_only_the_current_package_when_rolling_back_then_nothing_to_roll_back_to() -> None:
    with pytest.raises(NothingToRollBackTo):
        rollback_target([_rec(1), _rec(1)], "arn:pkg/1", lambda _: True)


# -- smoke test checks -------------------------------------------------------------------------
QS = ["0.05", "0.5", "0.95"]


def _answer(length: int = 30, **override: object) -> str:
    mean = np.linspace(100, 130, length)
    quantiles = {"0.05": (mean - 10).tolist(), "0.5": mean.tolist(), "0.95": (mean + 10).tolist()}
    pred: dict[str, object] = {"mean": mean.tolist(), "quantiles": quantiles}
    pred.update(override)
    return json.dumps({"predictions": [pred]})


def test_given_a_good_answer_then_the_smoke_check_passes() -> None:
    forecast = smoke.check_forecast(_answer(), prediction_length=30, quantiles=QS)
    assert len(forecast) == 30


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_answer(29), "29 points"),
        (_answer(quantiles={"0.5": [1.0] * 30}), "missing"),
        (
            _answer(quantiles={"0.05": [200.0] * 30, "0.5": [100.0] * 30, "0.95": [300.0] * 30}),
            "exceeds",
        ),
        (_answer(mean=[float("nan")] * 30).replace("NaN", "NaN"), "non-finite"),
        ('{"nope": []}', "not a DeepAR response"),
        ('{"predictions": []}', "expected 1 forecast"),
    ],
)
def test_given_a_bad_answer_then_the_smoke_check_says_what_is_wrong(
    body: str, message: str
) -> None:
    with pytest.raises(smoke.SmokeTestFailed, match=message):
        smoke.check_forecast(body, prediction_length=30, quantiles=QS)


def test_synthetic_context_is_deterministic_positive_and_ends_before_now() -> None:
    end = datetime(2026, 1, 5, 10, 15, 30, tzinfo=UTC)
    a, b = smoke.synthetic_context(end, 120), smoke.synthetic_context(end, 120)
    assert a == b and len(a) == 120 and np.all(a.values > 0)
    assert a.end == datetime(2026, 1, 5, 10, 15, tzinfo=UTC)
