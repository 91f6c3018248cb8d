"""`feecast`: the operator CLI, the same commands against AWS and against the local twin.

Each command group lives in its own module exposing `register(subparsers)`; the handler a
subcommand sets with `set_defaults(func=...)` receives (args, Context) and returns an exit code.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from botocore.exceptions import EndpointConnectionError

from feecast_cli.context import CliError, Context

# What only `pip install 'feecast[twin]'` brings (the local twin and the local DeepAR): a command
# that needs one says which extra to install instead of a traceback.
TWIN_ONLY = frozenset(
    {"moto", "torch", "gluonts", "pandas", "pyarrow", "awslambdaric", "samtranslator", "regex"}
    | {"time_machine", "lightning", "werkzeug", "flask"}
)


def _command_modules() -> list[object]:
    # Imported here so `feecast --help` stays fast and a broken group names itself.
    from feecast_cli import commands

    return list(commands.MODULES)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="feecast",
        description="Operate feecast on AWS (default credentials) or on the local twin.",
    )
    parser.add_argument(
        "--stack-name",
        default=os.environ.get("FEECAST_STACK_NAME", "feecast"),
        help="CloudFormation stack (default: %(default)s, or $FEECAST_STACK_NAME)",
    )
    parser.add_argument("--region", default=None, help="AWS region (default: your AWS config)")
    parser.add_argument("--profile", default=None, help="AWS profile")
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("FEECAST_ENDPOINT_URL"),
        help="talk to this endpoint instead of AWS, e.g. the twin's `feecast local serve`",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _command_modules():
        module.register(subparsers)  # type: ignore[attr-defined]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # The library logs JSON for CloudWatch; an operator reading a terminal wants only problems.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    parser = build_parser()
    args = parser.parse_args(argv)
    context = Context(
        stack_name=args.stack_name,
        region=args.region,
        profile=args.profile,
        endpoint_url=args.endpoint_url,
    )
    try:
        return int(args.func(args, context) or 0)
    except CliError as exc:
        print(f"feecast: {exc}", file=sys.stderr)
        return 2
    except EndpointConnectionError as exc:
        hint = " (is `feecast local serve` running?)" if args.endpoint_url else ""
        print(f"feecast: {exc}{hint}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in TWIN_ONLY:
            raise
        print(
            f"feecast: this command needs the local twin's packages ({exc.name} is missing): "
            "pip install 'feecast[twin]'",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
