"""The twin's commands (mounted by feecast_cli as `feecast local serve | send-event`).

feecast local send-event events/model-package-approved.json
    deploys a twin, puts the event on its bus, waits for what it started, prints JSON:
    the rules matched, the targets run, how each ended. Exit code 1 when a target failed.
feecast local serve [--port 4599]
    deploys a twin and serves its AWS endpoint on 127.0.0.1 (the same front door its own processes use):
    `aws --endpoint-url http://127.0.0.1:4599 stepfunctions list-state-machines` works and
    the twin reacts (handlers, EventBridge, schedules on the running clock). Ctrl-C stops.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Not moto's 5000: the AirPlay receiver holds it on recent macOS. Nor LocalStack's 4566 (and
# its 4510-4559): an operator may run both.
DEFAULT_PORT = 4599

if TYPE_CHECKING:
    from feecast_twin.core import Twin


def _parameters(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"feecast local: --parameter-overrides wants KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--template", default=None, help="template (default: the repository's)")
    parser.add_argument(
        "--parameter-overrides",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="template parameters, like sam deploy",
    )
    parser.add_argument("--stack-name", default="feecast")
    parser.add_argument(
        "--start", default=None, help="twin clock start, ISO 8601 UTC (default 2026-01-05T00:00Z)"
    )


def _twin(args: argparse.Namespace) -> Twin:
    from feecast_twin.core import Twin  # moto: imported when a command runs, not for --help

    start = datetime.fromisoformat(args.start.replace("Z", "+00:00")) if args.start else None
    return Twin(
        template=args.template,
        parameter_overrides=_parameters(args.parameter_overrides),
        start=start,
        stack_name=args.stack_name,
    )


def add_twin_commands(sub: Any) -> None:
    """`send-event` and `serve` on a subparsers object (feecast_cli's `local` group)."""
    send = sub.add_parser(
        "send-event",
        help="put one event on a new twin's bus and report what it started",
        description="Deploy a twin, put one EventBridge event (events/*.json) on its bus, wait "
        "for what it started and print JSON: the rules matched, the targets run, how each ended. "
        "Exit code 1 when a target failed.",
    )
    send.add_argument("file", help="an EventBridge event (events/*.json)")
    send.add_argument("--timeout", type=float, default=600, help="seconds to wait (default 600)")
    send.add_argument(
        "--json", action="store_true", help="accepted for uniformity: the report is always JSON"
    )
    _common(send)
    send.set_defaults(func=_send_event)

    serve = sub.add_parser(
        "serve",
        help="serve the twin on 127.0.0.1 for the AWS CLI, boto3 and `feecast --endpoint-url`",
        description="Deploy a twin and serve it on 127.0.0.1 until Ctrl-C; its clock keeps "
        "running and fires the schedules.",
    )
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="default: %(default)s (0: any free port)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="twin seconds per real second (default 1: real time; 60: a minute per second)",
    )
    serve.add_argument(
        "--json",
        action="store_true",
        help="print the endpoint, resources and outputs as one JSON line, then serve",
    )
    _common(serve)
    serve.set_defaults(func=_serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="feecast local", description="Run feecast on the local twin."
    )
    add_twin_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    return int(args.func(args) or 0)


# ---------------------------------------------------------------------- send-event
def _send_event(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        event = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        print(f"feecast local: cannot read event {path}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(event, dict) or "source" not in event or "detail-type" not in event:
        print(
            f"feecast local: {path} is not an EventBridge event (source, detail-type)",
            file=sys.stderr,
        )
        return 2
    with _twin(args) as twin:
        report = twin.send_event(event, timeout=args.timeout)
        out = report.to_dict()
        out["unknown_resources"] = [f"{lid} ({t})" for lid, t in twin.unknown_resources]
    print(json.dumps(out, indent=2, default=str))
    return 0 if report.ok else 1


# ---------------------------------------------------------------------- serve
@dataclass
class ServerHandle:
    """A running `serve`: the twin's endpoint on one more address, and the clock loop."""

    twin: Twin
    url: str
    _stop: threading.Event
    _clock_thread: threading.Thread

    def stop(self) -> None:
        self._stop.set()
        self._clock_thread.join(timeout=30)  # the endpoint itself stops with the twin


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def start_server(
    twin: Twin, host: str = "127.0.0.1", port: int = DEFAULT_PORT, speed: float = 1.0
) -> ServerHandle:
    """Serve a deployed twin over HTTP (through its front door, as its own processes reach it);
    its clock keeps running and fires schedules."""
    url = twin.serve_on(host, port)
    stop = threading.Event()

    def clock_loop() -> None:
        last = time.monotonic()
        while not stop.wait(1.0):
            now = time.monotonic()
            if speed > 1.0:  # the clock already ticks in real time; add the rest
                from datetime import timedelta

                twin.clock.jump(timedelta(seconds=(now - last) * (speed - 1.0)))
            last = now
            try:
                current = twin.clock.now()
                twin.schedules.fire_due(current)
                for component in twin.components:
                    component.on_tick(current)
            except Exception as exc:  # keep serving; say what went wrong
                print(f"feecast local serve: clock step failed: {exc}", file=sys.stderr)

    thread = threading.Thread(target=clock_loop, name="twin-serve-clock", daemon=True)
    thread.start()
    return ServerHandle(twin, url, stop, thread)


def _serve(args: argparse.Namespace) -> int:
    from feecast_twin.server import PortInUse  # werkzeug: the twin's packages, only when serving

    twin = _twin(args)
    twin.deploy()
    handle = None
    try:
        try:
            handle = start_server(twin, args.host, args.port, args.speed)
        except PortInUse as exc:
            print(f"feecast local serve: {exc}", file=sys.stderr)
            return 1
        _print_endpoint(twin, handle.url, as_json=getattr(args, "json", False))
        done = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):  # SIGINT too: it is ignored in `cmd &` jobs
            signal.signal(sig, lambda *_: done.set())
        try:
            while not done.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        print("feecast local serve: stopping", file=sys.stderr)
    finally:
        if handle is not None:
            handle.stop()
        twin.close()
    return 0


def _print_endpoint(twin: Twin, url: str, *, as_json: bool = False) -> None:
    assert twin.stack is not None
    if as_json:  # one line: a script reads it, then talks to `url`
        served = {
            "url": url,
            "region": twin.region,
            "account": twin.account_id,
            "clock": twin.clock.now().isoformat(),
            "resources": {
                lid: {"type": twin.stack.types.get(lid, ""), "physical_id": physical}
                for lid, physical in twin.stack.physical.items()
            },
            "not_emulated": {lid: rtype for lid, rtype in twin.unknown_resources},
            "outputs": dict(twin.outputs or {}),
        }
        print(json.dumps(served, default=str), flush=True)
        return
    print(f"feecast twin serving at {url}  (region {twin.region}, account {twin.account_id})")
    print(f"  aws --endpoint-url {url} --region {twin.region} stepfunctions list-state-machines")
    print(f"  feecast --endpoint-url {url} --region {twin.region} ...")
    print("  (any credentials work, e.g. AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing)")
    print(f"twin clock: {twin.clock.now().isoformat()}")
    print("resources:")
    for lid, physical in twin.stack.physical.items():
        print(f"  {lid:<40} {twin.stack.types.get(lid, '')[:34]:<34} {physical}")
    for lid, rtype in twin.unknown_resources:
        print(f"  {lid:<40} {rtype:<34} NOT EMULATED")
    if twin.outputs:
        print("outputs:")
        for key, value in twin.outputs.items():
            print(f"  {key:<40} {value}")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
