"""`feecast build`: start a model build (or join the running one) and optionally wait for it.

Starts through feecast.build.start_build.start_build, exactly like the schedule and the retraining
alarm, so the same guards apply: one execution per dedup key, never two builds at once.
Works against AWS (default credentials) and the twin (--endpoint-url).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from feecast_cli.context import CliError, Context
from feecast_cli.progress import Progress

_FINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "build",
        help="start a model build (joins a running build instead of starting a second one)",
        description=(
            "Start the ModelBuild state machine through the same guard as the schedule and the "
            "retraining alarm. The dedup key defaults to the current minute, so pressing twice "
            "starts one build."
        ),
    )
    parser.add_argument(
        "--dedup-key",
        default=None,
        help="identifies this request (default: <trigger>-<the server's UTC minute>); reuse it to "
        "avoid a second build",
    )
    parser.add_argument(
        "--trigger", default="manual", help="recorded trigger name (default: %(default)s)"
    )
    parser.add_argument(
        "--wait", action="store_true", help="wait for the execution to finish and print its outcome"
    )
    parser.add_argument(
        "--timeout", type=float, default=7200, help="seconds --wait waits (default: %(default)s)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace, context: Context) -> int:
    from feecast.adapters import clients
    from feecast.adapters.state_table import StateTable
    from feecast.adapters.stepfunctions import StepFunctionsExecutions
    from feecast.build.settings import StartBuildSettings
    from feecast.build.start_build import TableBuildBackend, start_build

    settings = StartBuildSettings(
        model_build_state_machine_arn=context.output("ModelBuildStateMachineArn"),
        state_table=context.output("StateTableName"),
    )
    # The server's minute (AWS's, or the twin's clock), not this machine's: two operators with
    # skewed clocks, or a twin whose clock runs elsewhere in time, still share one key.
    now = context.server_now()
    dedup_key = args.dedup_key or f"{args.trigger}-{now:%Y-%m-%dT%H:%MZ}"
    clients.use_session(context.session, context.endpoint_url)
    backend = TableBuildBackend(
        settings, state=StateTable(settings.state_table), executions=StepFunctionsExecutions()
    )
    try:
        outcome = start_build(args.trigger, dedup_key, settings, backend=backend, now=now)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    result: dict[str, Any] = {**outcome.model_dump(), "dedup_key": dedup_key, "execution": None}
    if args.wait:
        result["execution"] = _wait(context, outcome.execution_arn, args.timeout)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print(f"{outcome.status}: {outcome.message}")
        print(f"execution: {outcome.execution_arn}")
        if args.wait:
            done = result["execution"]
            print(f"status: {done['status']} after {done['seconds']:.0f} s")
            if done.get("why"):
                print(f"why: {done['why']}")
    if args.wait and result["execution"]["status"] != "SUCCEEDED":
        return 1
    return 0


def _wait(
    context: Context, execution_arn: str, timeout: float, poll_seconds: float = 2.0
) -> dict[str, Any]:
    """Poll the execution until it ends, reporting each new step on stderr."""
    from feecast_cli.status import current_step, failure_summary

    sfn = context.client("stepfunctions")
    progress = Progress("build")
    deadline = time.monotonic() + timeout
    while True:
        description = sfn.describe_execution(executionArn=execution_arn)
        status = description["status"]
        if status in _FINAL:
            progress.done(status)
            out = {k: description.get(k) for k in ("status", "error", "cause", "stopDate")}
            out["why"] = failure_summary(out["error"], out["cause"])
            out["seconds"] = round(progress.elapsed, 1)
            return out
        progress.update(current_step(sfn, execution_arn) or status)
        if time.monotonic() > deadline:
            raise CliError(f"{execution_arn} still {status} after {timeout:.0f} s")
        progress.pause(poll_seconds)
