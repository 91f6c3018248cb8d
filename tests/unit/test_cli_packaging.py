"""`pip install 'feecast[cli]'` gives a working operator CLI without PyTorch, moto or pandas;
the commands that need the local twin say which extra to install."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from feecast_cli.main import TWIN_ONLY, build_parser

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
HEAVY = {"torch", "gluonts", "moto", "pandas", "pyarrow", "awslambdaric", "aws-sam-translator"}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_cli_extra_and_the_base_pull_nothing_heavy() -> None:
    extras = PROJECT["optional-dependencies"]
    cli = _names(PROJECT["dependencies"]) | _names(extras["cli"])
    assert not cli & HEAVY, cli & HEAVY
    assert HEAVY - {"torch"} <= _names(extras["twin"])  # torch comes with gluonts[torch]
    assert "feecast[cli,twin]" in extras["dev"]


# Runs the CLI in a fresh interpreter in which the twin's packages cannot be imported.
_WITHOUT_TWIN = """
import sys
from importlib.abc import MetaPathFinder

BLOCKED = set(sys.argv[1].split(","))

class NotInstalled(MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
from feecast_cli.main import main

try:
    code = main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code
sys.exit(code)
"""


def _without_twin(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_TWIN, ",".join(sorted(TWIN_ONLY)), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def _commands() -> list[list[str]]:
    """Every command and subcommand of the parser, as argv prefixes."""
    found: list[list[str]] = []

    def walk(parser: object, prefix: list[str]) -> None:
        for action in getattr(parser, "_actions", []):
            for name, sub in (getattr(action, "choices", None) or {}).items():
                if hasattr(sub, "_actions"):
                    found.append([*prefix, name])
                    walk(sub, [*prefix, name])

    walk(build_parser(), [])
    return found


def test_every_command_answers_help_without_the_twin_installed() -> None:
    commands = _commands()
    assert ["status"] in commands and ["local", "serve"] in commands
    for command in [[], *commands]:
        result = _without_twin(*command, "--help")
        assert result.returncode == 0, (command, result.stderr[-2000:])
        assert "usage: feecast" in result.stdout


@pytest.mark.parametrize("argv", [["local", "serve", "--port", "0"], ["local", "demo"]])
def test_a_twin_command_without_the_twin_says_which_extra_to_install(argv: list[str]) -> None:
    result = _without_twin(*argv)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "pip install 'feecast[twin]'" in result.stderr
    assert "Traceback" not in result.stderr
