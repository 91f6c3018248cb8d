"""scripts/check_lambda_sizes.py adds each function's layers and refuses more than 250 MiB."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location(
    "check_lambda_sizes", ROOT / "scripts" / "check_lambda_sizes.py"
)
assert spec and spec.loader
sizes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sizes)

TEMPLATE = """
Globals:
  Function:
    Layers: [!Ref Shared]
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: Shared}
  Small:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: Small}
  Parquet:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: Parquet}
  Alone:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: Alone, Layers: [!Ref Parquet]}
"""


def _build(tmp_path: Path, layer_bytes: int, function_bytes: int) -> Path:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    for name, size in (
        ("Shared", layer_bytes),
        ("Parquet", 7),
        ("Small", function_bytes),
        ("Alone", function_bytes),
    ):
        (tmp_path / name).mkdir()
        with open(tmp_path / name / "blob", "wb") as blob:
            blob.truncate(size)
    return tmp_path


def test_given_a_function_then_its_size_adds_the_global_layers_and_its_own(tmp_path):
    """SAM adds a function's Layers to the Globals' (list properties are additive)."""
    measured = sizes.function_sizes(_build(tmp_path, layer_bytes=1000, function_bytes=10))
    assert measured == {"Small": 1010, "Alone": 1017}


def test_given_a_function_over_the_limit_with_its_layer_then_the_check_fails(tmp_path, capsys):
    build = _build(tmp_path, layer_bytes=sizes.LIMIT - 5, function_bytes=10)
    assert sizes.main([str(build)]) == 1
    assert "TOO BIG" in capsys.readouterr().out


def test_given_functions_within_the_limit_then_the_check_passes(tmp_path):
    assert sizes.main([str(_build(tmp_path, layer_bytes=100, function_bytes=10))]) == 0
