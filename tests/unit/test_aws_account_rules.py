"""What AWS would refuse or keep billing and neither moto nor the linters see (issue 16).

Each test names the AWS rule it relies on; docs/aws-first-run.md lists the same rules with
the check `feecast doctor` makes where only AWS can show them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from feecast.adapters.notify import MAX_SUBJECT, clean_subject

from feecast_twin.intrinsics import Resolver, load_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_yaml((ROOT / "template.yaml").read_text())
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
DEFAULTS = {name: p.get("Default") for name, p in TEMPLATE["Parameters"].items()}


def resolver(partition: str = "aws", region: str = "eu-west-1") -> Resolver:
    return Resolver(
        parameters=DEFAULTS,
        pseudo={
            "AWS::Region": region,
            "AWS::AccountId": "123456789012",
            "AWS::Partition": partition,
            "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
        },
        mappings=TEMPLATE.get("Mappings", {}),
        conditions=TEMPLATE.get("Conditions", {}),
        ref=lambda lid: lid,
        get_att=lambda lid, attribute: f"{lid}.{attribute}",
    )


# -- defect 1: guardrails read their alarms with the endpoint's execution role -----------------
def test_the_execution_role_may_describe_every_rollback_alarm() -> None:
    """deployment-guardrails-configuration.html: "Ensure that your IAM execution role has
    permission to perform the cloudwatch:DescribeAlarms action on the auto-rollback alarms"."""
    r = resolver()
    env = RESOURCES["DeployEndpointFunction"]["Properties"]["Environment"]["Variables"]
    alarms = [a for a in r.resolve(env["PRODUCTION_ALARM_NAMES"]).split(",") if a]
    assert alarms, "guarded updates name at least one rollback alarm"
    role_statements = [
        r.resolve(statement)
        for policy in RESOURCES["SageMakerExecutionRole"]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    granted = {
        resource
        for st in role_statements
        if "cloudwatch:DescribeAlarms"
        in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
        for resource in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
    }
    for alarm in alarms:
        assert f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{alarm}" in granted, alarm
    # ... and the models the deploy function creates run as that role.
    assert "SAGEMAKER_ROLE_ARN" in env


# -- defect 11: the dashboard link is the console's host in each partition ---------------------
@pytest.mark.parametrize(
    ("partition", "region", "host"),
    [
        ("aws", "eu-west-1", "console.aws.amazon.com"),
        ("aws-cn", "cn-north-1", "console.amazonaws.cn"),
        ("aws-us-gov", "us-gov-west-1", "console.amazonaws-us-gov.com"),
    ],
)
def test_the_dashboard_url_uses_the_console_host_of_the_partition(
    partition: str, region: str, host: str
) -> None:
    url = resolver(partition, region).resolve(
        TEMPLATE["Outputs"]["MonitoringDashboardUrl"]["Value"]
    )
    assert url.startswith(f"https://{host}/cloudwatch/home?region={region}#dashboards:name=")
    assert "amazonaws.com/" not in url.replace(host, "")  # not the API domain (AWS::URLSuffix)


# -- defect 12: SNS subjects are shorter than 100 characters -----------------------------------
def test_subjects_are_cut_below_100_characters_on_one_line() -> None:
    """API_Publish: Subject "must be less than 100 characters long", no line breaks."""
    assert MAX_SUBJECT == 99
    long = "feecast: endpoint " + "x" * 200 + " FAILED"
    cut = clean_subject(long)
    assert len(cut) == 99 and cut.endswith("...")
    assert clean_subject("a\nb\tc\x00d") == "a b c d"
    exact = "f" * 99
    assert clean_subject(exact) == exact
    assert len(clean_subject("f" * 100)) == 99


def test_the_state_machines_publish_subjects_below_100_characters() -> None:
    for path in (ROOT / "statemachines").glob("*.asl.json"):
        for name, state in _states(json.loads(path.read_text())):
            subject = (state.get("Parameters") or {}).get("Subject")
            if subject is not None:
                assert len(subject) < 100 and "\n" not in subject, (path.name, name)


def _states(definition: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, state in definition["States"].items():
        out.append((name, state))
        for branch in state.get("Branches", []):
            out += _states(branch)
        if "ItemProcessor" in state:
            out += _states(state["ItemProcessor"])
    return out


# -- defect 15: CreateModelPackage's resources and condition -----------------------------------
def test_create_model_package_is_granted_on_both_resource_types_and_pending_only() -> None:
    """Service Authorization Reference (list_amazonsagemaker.html, CreateModelPackage): resource
    types model-package and model-package-group (both optional), condition key
    sagemaker:ModelApprovalStatus. A new version's ARN (model-package/<group>/<n>) does not
    exist before the call: only a wildcard under the group can name it."""
    r = resolver()
    statements = [
        r.resolve(st)
        for item in RESOURCES["RegisterModelFunction"]["Properties"]["Policies"]
        if "Statement" in item
        for st in item["Statement"]
    ]
    (grant,) = [st for st in statements if st["Action"] == "sagemaker:CreateModelPackage"]
    prefix = "arn:aws:sagemaker:eu-west-1:123456789012"
    assert sorted(grant["Resource"]) == sorted(
        [f"{prefix}:model-package/feecast-models/*", f"{prefix}:model-package-group/feecast-models"]
    )
    assert grant["Condition"] == {
        "StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}
    }
    # feecast.build.register_model always sends PendingManualApproval (test_build_register.py).
