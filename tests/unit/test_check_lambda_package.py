"""scripts/check_lambda_package.py: binaries built for Lambda's x86_64 Linux, links resolved,
one SDK (issue 16, defects 13 and 14). Real shared objects from the venv (Linux x86_64 wheels)
stand in for a build; a Mach-O / aarch64 file is made by changing their header."""

from __future__ import annotations

import importlib.util
import shutil
import struct
import sys
from pathlib import Path

import numpy

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
spec = importlib.util.spec_from_file_location(
    "check_lambda_package", ROOT / "scripts" / "check_lambda_package.py"
)
assert spec and spec.loader
package = importlib.util.module_from_spec(spec)
spec.loader.exec_module(package)

NUMPY = Path(numpy.__file__).parent
CORE = next((NUMPY / "_core").glob("_multiarray_umath*.so"))
OPENBLAS = next((NUMPY.parent / "numpy.libs").glob("libscipy_openblas*.so"))


def test_a_linux_x86_64_extension_lists_what_it_links() -> None:
    needed = package.elf_needed(CORE)
    assert OPENBLAS.name in needed and "libc.so.6" in needed


def test_a_function_with_its_libraries_passes_and_without_them_fails(tmp_path: Path) -> None:
    function, layer = tmp_path / "Function", tmp_path / "Layer" / "python" / "numpy.libs"
    (function / "numpy").mkdir(parents=True)
    shutil.copy(CORE, function / "numpy" / CORE.name)
    shutil.copytree(OPENBLAS.parent, layer)  # openblas needs gfortran and quadmath, all there
    assert package.check_binaries([function, tmp_path / "Layer"]) == []
    (problem,) = package.check_binaries([function])
    assert f"needs {OPENBLAS.name}" in problem


def test_binaries_for_another_platform_are_refused(tmp_path: Path) -> None:
    arm = tmp_path / "arm" / "core.so"
    arm.parent.mkdir()
    data = bytearray(CORE.read_bytes()[:4096])
    struct.pack_into("<H", data, 18, 183)  # EM_AARCH64
    arm.write_bytes(bytes(data))
    mac = tmp_path / "arm" / "_rust.cpython-312-darwin.so"
    mac.write_bytes(b"\xcf\xfa\xed\xfe" + b"\0" * 60)
    problems = package.check_binaries([tmp_path / "arm"])
    assert any("machine 183" in p for p in problems)
    assert any("Mach-O" in p for p in problems)


def test_a_second_botocore_in_a_layer_is_refused(tmp_path: Path) -> None:
    (tmp_path / "Layer" / "python" / "botocore").mkdir(parents=True)
    (problem,) = package.check_one_sdk([tmp_path / "Layer"])
    assert "the runtime provides botocore" in problem
