"""`make lint`'s cfn-lint step sees what CloudFormation receives (scripts/transform_template.py).

cfn-lint 1 validates SAM templates against SAM's schemas and skips the transform, so a Lambda
runtime that does not exist, a timeout over Lambda's 900 s or a broken state machine definition
pass `sam validate --lint`. Here a copy of the template carrying all three is rejected by the
transform + cfn-lint step, and the real template passes it. Runs the SAM CLI's environment
(.tools/sam: samtranslator, cfn-lint), which `make test` installs first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAM_PYTHON = ROOT / ".tools" / "sam" / "bin" / "python"
CFN_LINT = ROOT / ".tools" / "sam" / "bin" / "cfn-lint"
REGION = "eu-west-1"

pytestmark = pytest.mark.skipif(
    not SAM_PYTHON.exists(), reason="the SAM CLI environment (.tools/sam) is not installed"
)


def lint(template: Path, output: Path) -> subprocess.CompletedProcess[str]:
    """The two commands of `make lint`, on any template."""
    env = {**os.environ, "AWS_DEFAULT_REGION": REGION}
    script = str(ROOT / "scripts" / "transform_template.py")
    transform = subprocess.run(
        [SAM_PYTHON, script, "--template", template, "--output", output, "--region", REGION],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if transform.returncode != 0:
        return transform
    return subprocess.run(
        [CFN_LINT, "--regions", REGION, "--ignore-checks", "W1020", "--", output],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_the_real_template_passes_and_its_state_machines_are_inlined(tmp_path):
    output = tmp_path / "template.json"
    result = lint(ROOT / "template.yaml", output)
    assert result.returncode == 0, result.stdout + result.stderr
    resources = json.loads(output.read_text())["Resources"]
    machines = [r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert len(machines) == 2
    for machine in machines:
        # One literal string that cfn-lint parses and validates (not an S3 location).
        definition = json.loads(machine["Properties"]["DefinitionString"])
        assert definition["States"]
    functions = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    assert functions and all(f["Properties"]["Code"]["S3Bucket"] for f in functions)


@pytest.fixture
def broken_copy(tmp_path: Path) -> Path:
    """template.yaml + statemachines/ with python2.7, a 1000 s timeout and an unknown state type."""
    text = (ROOT / "template.yaml").read_text()
    assert text.count("    Runtime: python3.12\n") == 1  # Globals
    text = text.replace("    Runtime: python3.12\n", "    Runtime: python2.7\n")
    assert "      Timeout: 900\n" in text
    text = text.replace("      Timeout: 900\n", "      Timeout: 1000\n", 1)
    (tmp_path / "template.yaml").write_text(text)
    shutil.copytree(ROOT / "statemachines", tmp_path / "statemachines")
    for folder in ("functions", "layers"):  # CodeUri / ContentUri must exist
        (tmp_path / folder).symlink_to(ROOT / folder)
    path = tmp_path / "statemachines" / "model_build.asl.json"
    definition = json.loads(path.read_text())
    first = definition["StartAt"]
    definition["States"][first]["Type"] = "Taskk"
    path.write_text(json.dumps(definition, indent=2))
    return tmp_path / "template.yaml"


def test_a_bad_runtime_timeout_and_state_definition_are_each_rejected(broken_copy, tmp_path):
    result = lint(broken_copy, tmp_path / "out" / "template.json")
    report = result.stdout + result.stderr
    assert result.returncode != 0
    assert "python2.7" in report  # E2533: deprecated runtime
    assert "1000 is greater than the maximum of 900" in report  # E3717
    assert "'Taskk' is not one of" in report  # E3601: the state machine definition


def test_a_missing_definition_file_is_a_clear_error(tmp_path):
    text = (ROOT / "template.yaml").read_text()
    (tmp_path / "template.yaml").write_text(text)
    for folder in ("functions", "layers"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    result = lint(tmp_path / "template.yaml", tmp_path / "template.json")
    assert result.returncode == 1
    assert "DefinitionUri statemachines/model_build.asl.json is not a file" in result.stderr
