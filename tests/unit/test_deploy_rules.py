"""The deploy stage's EventBridge rules, read from template.yaml, against event variants.

Matching uses moto's EventBridge pattern matcher (a pure class: no mock, no AWS), the same code
the twin delivers events with. feecast.deploy.trigger must agree with the rules on every variant.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from feecast.deploy import trigger
from moto.events.models import EventPattern

from feecast_twin.intrinsics import load_yaml

ROOT = Path(__file__).resolve().parents[2]
GROUP = "feecast-models"


def _resolve(node: Any) -> Any:
    """!Sub "${ProjectName}-..." with the template's default parameter values."""
    if isinstance(node, dict):
        if set(node) == {"Fn::Sub"}:
            return (
                node["Fn::Sub"]
                .replace("${ProjectName}", "feecast")
                .replace("${StagingStageName}", "staging")
                .replace("${ProductionStageName}", "production")
            )
        return {k: _resolve(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v) for v in node]
    return node


@pytest.fixture(scope="module")
def rules() -> dict[str, dict[str, Any]]:
    template = load_yaml((ROOT / "template.yaml").read_text())
    out = {}
    for res in template["Resources"].values():
        for name, event in (res.get("Properties", {}).get("Events") or {}).items():
            if event["Type"] == "EventBridgeRule":
                out[name] = _resolve(event["Properties"]["Pattern"])
    return out


def _event(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "events" / f"deploy-{name}.json").read_text())


def _matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    return EventPattern(json.dumps(pattern), pattern).matches_event(event)


def _variant(base: str, **detail: Any) -> dict[str, Any]:
    event = copy.deepcopy(_event(base))
    for key, value in detail.items():
        if value is None:
            event["detail"].pop(key, None)
        else:
            event["detail"][key] = value
    return event


# (description, event, deploys?, rolls back?)
VARIANTS = [
    ("creation pending approval", _variant("package-created"), False, False),
    ("approval", _variant("package-approved"), True, False),
    (
        "created already approved (no UpdatedModelPackageFields)",
        _variant("package-created", ModelApprovalStatus="Approved"),
        True,
        False,
    ),
    (
        "approval with other fields changed too",
        _variant(
            "package-approved",
            UpdatedModelPackageFields=["ApprovalDescription", "ModelApprovalStatus"],
        ),
        True,
        False,
    ),
    (
        "ModelLifeCycle update of an approved package",
        _variant("package-lifecycle-update"),
        False,
        False,
    ),
    (
        "metadata update of an approved package",
        _variant("package-approved", UpdatedModelPackageFields=["CustomerMetadataProperties"]),
        False,
        False,
    ),
    ("rejection", _variant("package-rejected"), False, True),
    (
        "ModelLifeCycle update of a rejected package",
        _variant("package-rejected", UpdatedModelPackageFields=["ModelLifeCycle"]),
        False,
        False,
    ),
    (
        "approval in another group",
        _variant("package-approved", ModelPackageGroupName="other-models"),
        False,
        False,
    ),
]


@pytest.mark.parametrize(
    ("what", "event", "deploys", "rolls_back"), VARIANTS, ids=[v[0] for v in VARIANTS]
)
def test_given_a_package_event_when_matched_then_only_approvals_deploy_and_rejections_roll_back(
    rules: dict[str, dict[str, Any]],
    what: str,
    event: dict[str, Any],
    deploys: bool,
    rolls_back: bool,
) -> None:
    assert _matches(rules["ModelApprovalRule"], event) is deploys, what
    assert _matches(rules["PackageRejectedRule"], event) is rolls_back, what
    # The start functions decide the same way (defence in depth).
    assert trigger.classify(event["detail"], wanted_status="Approved", group=GROUP).act is deploys
    assert (
        trigger.classify(event["detail"], wanted_status="Rejected", group=GROUP).act is rolls_back
    )


def test_given_another_detail_type_when_matched_then_nothing_deploys(
    rules: dict[str, dict[str, Any]],
) -> None:
    event = _variant("package-approved")
    event["detail-type"] = "SageMaker Model State Change"
    assert not _matches(rules["ModelApprovalRule"], event)


@pytest.mark.parametrize(
    ("status", "endpoint", "resumes"),
    [
        ("IN_SERVICE", "feecast-staging", True),
        ("FAILED", "feecast-production", True),
        ("UPDATING", "feecast-staging", False),
        ("CREATING", "feecast-production", False),
        ("IN_SERVICE", "someone-elses-endpoint", False),
    ],
)
def test_given_an_endpoint_event_when_matched_then_only_final_states_of_our_endpoints_resume_waiters(
    rules: dict[str, dict[str, Any]], status: str, endpoint: str, resumes: bool
) -> None:
    event = _event("endpoint-in-service")
    event["detail"].update(EndpointStatus=status, EndpointName=endpoint)
    assert _matches(rules["EndpointStateRule"], event) is resumes
