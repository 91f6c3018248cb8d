"""events/README.md maps every sample event to the function (or state machine) it is for."""

from __future__ import annotations

import json
import re
from pathlib import Path

from feecast_twin.intrinsics import load_yaml

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
CALLABLE = {"AWS::Serverless::Function", "AWS::Serverless::StateMachine"}


def _table() -> dict[str, str]:
    rows = re.findall(r"^\| ([\w.-]+\.json) \| (\w+) \|", (EVENTS / "README.md").read_text(), re.M)
    return dict(rows)


def test_every_sample_event_is_in_the_table_once_and_nothing_else_is() -> None:
    files = sorted(p.name for p in EVENTS.glob("*.json"))
    rows = re.findall(r"^\| ([\w.-]+\.json) \|", (EVENTS / "README.md").read_text(), re.M)
    assert sorted(rows) == files


def test_each_row_names_a_function_or_state_machine_of_the_template() -> None:
    resources = load_yaml((ROOT / "template.yaml").read_text())["Resources"]
    for name, target in _table().items():
        assert resources.get(target, {}).get("Type") in CALLABLE, f"{name}: {target}?"


def test_eventbridge_samples_go_to_functions_a_rule_of_theirs_could_feed() -> None:
    """An envelope's source says which kind of function takes it (a wrong row fails here)."""
    consumers = {
        "aws.sagemaker": {
            "StartDeployFunction",
            "OnPackageRejectedFunction",
            "ResumeEndpointWaiterFunction",
            "ActivateMonitoringFunction",
        },
        "aws.cloudwatch": {"RetrainOnAlarmFunction"},
    }
    for name, target in _table().items():
        event = json.loads((EVENTS / name).read_text())
        if isinstance(event, dict) and "detail-type" in event:
            assert target in consumers[event["source"]], f"{name} -> {target}"


def test_the_readme_says_which_make_targets_install_the_sam_cli() -> None:
    """`make demo` needs only .venv; the SAM CLI comes with `make setup` / `make test` / `make build`."""
    makefile = (ROOT / "Makefile").read_text()
    prerequisites = {
        target: deps for target, deps in re.findall(r"^([a-z-]+):([^#\n]*)", makefile, re.M)
    }
    assert "$(SAM)" not in prerequisites["demo"]
    assert "$(SAM)" in prerequisites["build"] and "$(SAM)" in prerequisites["setup"]
    readme = (ROOT / "README.md").read_text()
    for sentence in re.split(r"(?<=[.;])\s", readme.replace("\n", " ")):
        if "SAM CLI" in sentence and "install" in sentence:
            assert "`make demo` installs" not in sentence, sentence
    assert "(`make demo` needs nothing more)" in readme.replace("\n", " ")
