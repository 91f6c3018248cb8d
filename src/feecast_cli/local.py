"""`feecast local serve | send-event | demo`: the local twin (docs/local-twin.md).

serve and send-event are the twin's own commands (feecast_twin.cli); demo is a user of the twin
(feecast_demo). Their modules are imported when a command runs: `feecast --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from typing import Any

# The twin's own packages (`pip install 'feecast[twin]'`), checked before a command starts, so a
# missing one is named up front (feecast_cli.main says which extra) rather than mid-run.
TWIN_PACKAGES = ("moto", "werkzeug", "samtranslator", "awslambdaric", "regex", "gluonts", "torch")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "local",
        help="run feecast on the local twin (no AWS account, no Docker)",
        description="Run feecast on the local twin: AWS emulated on this machine.",
    )
    commands = parser.add_subparsers(dest="local_command", metavar="COMMAND")
    from feecast_demo.cli import add_demo_parser
    from feecast_twin.cli import add_twin_commands

    add_twin_commands(commands)
    add_demo_parser(commands)
    for action in commands.choices.values():
        handler = action.get_default("func")
        action.set_defaults(func=_without_context(handler))
    parser.set_defaults(func=usage(parser))


def usage(parser: argparse.ArgumentParser) -> Any:
    """A group run without its command: its help (which lists the commands) and exit 2."""

    def run(_args: argparse.Namespace, _context: object) -> int:
        parser.print_help(sys.stderr)
        return 2

    return run


def _without_context(handler: Any) -> Any:
    """The twin's and the demo's handlers take the parsed arguments only."""

    def run(args: argparse.Namespace, _context: object) -> int:
        for name in TWIN_PACKAGES:
            if importlib.util.find_spec(name) is None:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return int(handler(args) or 0)

    return run
