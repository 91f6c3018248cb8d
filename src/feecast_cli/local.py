"""`feecast local ...`: the local twin (see docs/local-twin.md); delegates to feecast_twin.cli."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "local",
        help="run feecast on the local twin (no AWS account, no Docker)",
        add_help=False,
    )
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace, _context: object) -> int:
    from feecast_twin.cli import main as twin_main

    return int(twin_main(args.rest) or 0)
