"""template.yaml keeps the promises docs/conventions.md makes: one hop from a resource to its code.

Pure checks on the parsed template (no moto): runtime, encryption, SSM defaults that the config
models accept, every function's folder and handler, every state machine's substitutions.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from feecast.config import DEFAULT_PARAMETERS, PARAMETER_MODELS, parse_parameter

from feecast_twin.intrinsics import load_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_yaml((ROOT / "template.yaml").read_text())
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]


def _of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in RESOURCES.items() if res["Type"] == kind}


def _snake(pascal: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", pascal).lower()


FUNCTIONS = _of_type("AWS::Serverless::Function")
STATE_MACHINES = _of_type("AWS::Serverless::StateMachine")


def test_globals_run_a_current_python_with_tracing_and_json_logs():
    function_globals = TEMPLATE["Globals"]["Function"]
    major, minor = (int(p) for p in function_globals["Runtime"].removeprefix("python").split("."))
    assert (major, minor) >= (3, 12)
    assert function_globals["Tracing"] == "Active"
    assert function_globals["LoggingConfig"]["LogFormat"] == "JSON"


@pytest.mark.parametrize("logical_id", ["SharedLayer", "ParquetLayer"])
def test_layers_are_built_for_the_lambda_platform_by_their_makefile(logical_id):
    """sam build's python workflow installs wheels for the build machine (macOS, ARM): the
    layers' Makefiles ask pip for the Lambda platform instead (issue 16, defect 14)."""
    layer = RESOURCES[logical_id]
    runtime = TEMPLATE["Globals"]["Function"]["Runtime"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Properties"]["CompatibleRuntimes"] == [runtime]
    assert (
        layer["Properties"]["CompatibleArchitectures"]
        == TEMPLATE["Globals"]["Function"]["Architectures"]
    )
    content = ROOT / layer["Properties"]["ContentUri"]
    assert (content / "requirements.txt").is_file()
    makefile = (content / "Makefile").read_text()
    assert f"build-{logical_id}:" in makefile
    for flag in (
        "--only-binary=:all:",
        "--platform manylinux2014_x86_64",
        f"--python-version {runtime.removeprefix('python')}",
        "--implementation cp",
    ):
        assert flag in makefile, flag
    if logical_id == "SharedLayer":
        assert (content / "feecast" / "__init__.py").is_file()
        assert "botocore" in makefile  # removed: the runtime's boto3 keeps its own botocore


def test_no_function_installs_binaries_of_its_own():
    """Every third-party package comes from a layer built for the platform: a function's own
    requirements.txt would be built for the build machine by sam's python workflow."""
    for name, res in RESOURCES.items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        requirements = ROOT / res["Properties"]["CodeUri"] / "requirements.txt"
        if requirements.exists():
            lines = [
                line.strip()
                for line in requirements.read_text().splitlines()
                if line.strip() and not line.strip().startswith("#")
            ]
            assert lines == [], (name, lines)


def test_the_parquet_readers_use_the_parquet_layer_and_nothing_else_does():
    readers = {"PrepareDataFunction", "MonitorEndpointFunction", "SmokeTestFunction"}
    for name, res in RESOURCES.items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        # SAM adds a function's Layers to the Globals' ones.
        layers = [*TEMPLATE["Globals"]["Function"]["Layers"], *res["Properties"].get("Layers", [])]
        refs = {ref["Ref"] for ref in layers}
        assert len(refs) == len(layers), (name, layers)  # each once (cfn-lint E3037)
        assert refs == ({"SharedLayer", "ParquetLayer"} if name in readers else {"SharedLayer"})


def test_the_artifact_bucket_is_encrypted_and_never_public():
    bucket = RESOURCES["ArtifactBucket"]["Properties"]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())


@pytest.mark.parametrize("suffix", sorted(PARAMETER_MODELS))
def test_ssm_parameter_defaults_are_valid_and_match_the_config_models(suffix):
    [parameter] = [
        res["Properties"]
        for res in _of_type("AWS::SSM::Parameter").values()
        if res["Properties"]["Name"] == {"Fn::Sub": f"/${{ProjectName}}/{suffix}"}
    ]
    model = PARAMETER_MODELS[suffix]
    from_template = parse_parameter(f"/feecast/{suffix}", parameter["Value"], model)
    assert from_template == parse_parameter(f"/feecast/{suffix}", DEFAULT_PARAMETERS[suffix], model)


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_each_function_lives_in_its_named_folder_with_a_lambda_handler(logical_id):
    assert logical_id.endswith("Function")
    code_uri = FUNCTIONS[logical_id]["Properties"]["CodeUri"]
    folder = ROOT / code_uri
    assert folder == ROOT / "functions" / _snake(logical_id.removesuffix("Function")), code_uri
    handler = FUNCTIONS[logical_id]["Properties"].get("Handler", "app.lambda_handler")
    module, func = handler.split(".")
    source = (folder / f"{module}.py").read_text()
    defined = {n.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)}
    assert func in defined


@pytest.mark.parametrize("logical_id", sorted(STATE_MACHINES))
def test_each_state_machine_file_and_its_substitutions_agree(logical_id):
    props = STATE_MACHINES[logical_id]["Properties"]
    path = ROOT / props["DefinitionUri"]
    assert (
        path
        == ROOT / "statemachines" / f"{_snake(logical_id.removesuffix('StateMachine'))}.asl.json"
    )
    text = path.read_text()
    used = set(re.findall(r"\$\{(\w+)\}", text))
    given = set(props.get("DefinitionSubstitutions", {}))
    assert used == given, f"used but not given: {used - given}; given but unused: {given - used}"
    for name in given:
        # <LogicalId>Arn, <Name>Seconds, ... or the template Parameter the value comes from.
        named_by_suffix = re.fullmatch(r"\w+(Arn|Seconds|Name|Image|Uri|Type|Count|Url)", name)
        assert named_by_suffix or name in TEMPLATE["Parameters"], name


def _states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state, including those inside Parallel branches and Map iterators."""
    found: dict[str, dict[str, Any]] = {}
    for name, state in definition["States"].items():
        found[name] = state
        for branch in state.get("Branches", []):
            found.update(_states(branch))
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                found.update(_states(state[key]))
    return found


@pytest.mark.parametrize("logical_id", sorted(STATE_MACHINES))
def test_states_read_like_a_runbook_and_tasks_retry_and_catch(logical_id):
    definition = json.loads(
        (ROOT / STATE_MACHINES[logical_id]["Properties"]["DefinitionUri"]).read_text()
    )
    assert definition.get("QueryLanguage", "JSONPath") == "JSONPath"
    for name, state in _states(definition).items():
        assert " " in name and name[0].isupper(), f"state {name!r} is not a readable phrase"
        if state["Type"] != "Task":
            continue
        if state["Resource"].startswith("arn:aws:states:::sns:publish"):
            # A notification has nowhere better to report its own failure: it retries.
            assert state.get("Retry"), f"notification {name!r} has no Retry"
            continue
        assert state.get("Catch"), f"task {name!r} has no Catch"
        if "lambda" in state["Resource"]:
            assert state.get("Retry"), f"lambda task {name!r} has no Retry"
