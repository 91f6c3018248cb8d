"""The command groups of `feecast`, in the order `feecast --help` lists them.

Add a group by writing feecast_cli/<group>.py with `register(subparsers)` and listing it here.
"""

from __future__ import annotations

from importlib import import_module

_GROUPS = ["local", "ingest", "deploy", "build", "status", "backtest", "doctor", "teardown"]

MODULES = [import_module(f"feecast_cli.{name}") for name in _GROUPS]
