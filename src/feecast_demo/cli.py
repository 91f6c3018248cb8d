"""`feecast local demo`: options, then the scenario, the report, and an honest exit code.

    feecast local demo [--history-days 3] [--drift-at 3] [--seed 7] [--out demo-report]
                       [--fast] [--no-approve] [--verbose]

Exit 0 only when every phase happened as expected; otherwise 1 and the failing phase.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def add_demo_parser(subparsers: Any) -> argparse.ArgumentParser:
    demo = subparsers.add_parser(
        "demo",
        help="run the whole lifecycle on the twin, show it, write a report (make demo)",
        description=(
            "Ingest synthetic history -> build -> a person approves -> staging -> a person "
            "approves -> production -> hourly monitoring -> a fee regime change -> the alarm -> "
            "exactly one rebuild -> approvals -> production -> the loss back under the threshold. "
            "All on the local twin, with the clock running fast."
        ),
    )
    demo.add_argument(
        "--history-days", type=float, default=3.0, help="days of synthetic history (default 3)"
    )
    demo.add_argument(
        "--drift-at",
        type=float,
        default=3.0,
        help="hours after production when fees change regime (default 3)",
    )
    demo.add_argument(
        "--seed", type=int, default=7, help="seed of the synthetic transactions (default 7)"
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("demo-report"),
        help="report folder (default ./demo-report)",
    )
    demo.add_argument("--fast", action="store_true", help="fewer training epochs (8 instead of 20)")
    demo.add_argument("--epochs", type=int, default=None, help="training epochs (overrides --fast)")
    demo.add_argument(
        "--no-approve",
        dest="approve",
        action="store_false",
        help="stop at each approval and wait for a person (prints the commands to run)",
    )
    demo.add_argument(
        "--rate", type=float, default=0.5, help="synthetic transactions per second (default 0.5)"
    )
    demo.add_argument(
        "--fee-multiplier",
        type=float,
        default=4.0,
        help="the regime change: fees x this per hour (default 4)",
    )
    demo.add_argument(
        "--drift-steps",
        type=int,
        default=3,
        help="hours the fees keep climbing, then they hold (default 3)",
    )
    demo.add_argument(
        "--recovery-hours",
        type=float,
        default=3.0,
        help="hours the new model is monitored (default 3)",
    )
    demo.add_argument(
        "--start", default=None, help="twin clock start, ISO 8601 UTC (default 2026-01-05T00:00Z)"
    )
    demo.add_argument("--port", type=int, default=0, help="--no-approve: port to serve the twin on")
    demo.add_argument("--verbose", action="store_true", help="show every twin record")
    demo.add_argument(
        "--json",
        action="store_true",
        help="the timeline on stderr; at the end, the report's summary.json on stdout",
    )
    demo.set_defaults(func=run_demo)
    return demo


def run_demo(args: argparse.Namespace) -> int:
    from feecast_demo.report import write_report
    from feecast_demo.scenario import DemoOptions, Scenario

    options = DemoOptions(
        history_days=args.history_days,
        drift_at=args.drift_at,
        seed=args.seed,
        approve=args.approve,
        out=args.out,
        fast=args.fast,
        epochs=args.epochs,
        rate=args.rate,
        fee_multiplier=args.fee_multiplier,
        drift_steps=args.drift_steps,
        recovery_hours=args.recovery_hours,
        verbose=args.verbose,
        human_port=args.port,
    )
    if args.start:
        start = datetime.fromisoformat(args.start.replace("Z", "+00:00"))
        options.start = start if start.tzinfo else start.replace(tzinfo=UTC)
    problems = _check(options)
    if problems:
        for problem in problems:
            print(f"feecast local demo: {problem}", file=sys.stderr)
        return 2
    if not args.verbose:
        _quiet_libraries()
    # The timeline goes to the terminal; everything else the twin's handlers and libraries
    # print (JSON logs, warnings) goes to <out>/twin.log, for when something needs a closer look.
    options.out.mkdir(parents=True, exist_ok=True)
    # With --json, stdout carries the summary alone; the timeline moves to stderr.
    terminal = sys.stderr if getattr(args, "json", False) else sys.stdout
    log_path = options.out / "twin.log"
    with log_path.open("w", encoding="utf-8") as log:
        if args.verbose:
            run = Scenario(options, out=terminal).execute()
        else:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                run = Scenario(options, out=terminal).execute()
    paths = write_report(run, options.out)
    print(file=terminal)
    for phase in run.phases:
        print(f"  {phase.status.upper():<8} {phase.title}", file=terminal)
    print(file=terminal)
    print(
        f"Report: {options.out.resolve()}/summary.md   (the twin's own logs: {log_path})",
        file=terminal,
    )
    for name in ("forecast.png", "monitoring.png"):
        if name in paths:
            print(f"        {paths[name].resolve()}", file=terminal)
    if terminal is not sys.stdout and "summary.json" in paths:
        sys.stdout.write(paths["summary.json"].read_text())
    minutes, seconds = divmod(int(run.wall_seconds or 0), 60)
    if run.ok:
        print(f"Every phase happened as expected ({minutes} min {seconds} s).", file=terminal)
        return 0
    failed = run.failed_phase
    print(
        f"The demo stopped at phase '{failed.key if failed else '?'}': "
        f"{failed.detail if failed else 'unknown'} ({minutes} min {seconds} s)",
        file=sys.stderr,
    )
    return 1


def _quiet_libraries() -> None:
    """moto's Step Functions interpreter logs every failed state and unsupported integration
    at WARNING/ERROR; the timeline already says what failed, once and readably."""
    import logging

    for name in ("moto", "moto.stepfunctions", "lightning", "lightning.pytorch", "gluonts"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _check(options: Any) -> list[str]:
    problems = []
    if options.history_days < 1:
        problems.append(
            "--history-days must be at least 1 (DeepAR needs a few hundred minutes and a daily cycle)"
        )
    if options.drift_at < 1:
        problems.append("--drift-at must be at least 1 hour (monitoring needs an hour to score)")
    if options.rate <= 0:
        problems.append("--rate must be positive")
    if options.fee_multiplier <= 1:
        problems.append("--fee-multiplier must be above 1 (the fees climb)")
    if options.drift_steps < 1:
        problems.append("--drift-steps must be at least 1")
    if options.epochs is not None and options.epochs < 1:
        problems.append("--epochs must be at least 1")
    return problems
