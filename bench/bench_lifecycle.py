"""The whole lifecycle on the twin: wall time per phase against the simulated time it covers.

The scenario is `make demo`'s (feecast_demo.scenario with the default DemoOptions: three
days of history, two real trainings of the local DeepAR, two approvals each, hourly monitoring,
the regime change, the alarm, one rebuild, recovery), run in a fresh process like `make demo`
(imports included), without the report pictures. On AWS the same scenario takes as long as the
simulated span (hours of monitoring, plus real training and endpoint creation), so the headline
is also the ratio wall / simulated.

Goal (issue 10): the full scenario in under 90 s on 2 cores. The process CPU time and the load
average are reported beside the wall time: on a shared machine the wall time also measures the
neighbours.

    python -m bench lifecycle                     # the benchmark
    python -m bench.bench_lifecycle --child OUT   # (internal) one run, its facts as JSON in OUT
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import load, measurement, result

GOAL_S = 90.0


def main() -> dict[str, Any]:
    load_before = load()
    with tempfile.TemporaryDirectory(prefix="feecast-bench-lifecycle-") as tmp:
        out = Path(tmp) / "run.json"
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "bench.bench_lifecycle", "--child", str(out)],
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
        )
        process_s = time.perf_counter() - started
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(
                f"the scenario process exited {proc.returncode}: {proc.stderr[-2000:]}"
            )
        run = json.loads(out.read_text())
    phases = run["phases"]
    wall = run["wall_seconds"]
    sim = run["sim_seconds"]
    trainings = run["trainings"]
    measurements = [
        measurement(
            "scenario_wall",
            wall,
            "s",
            below=GOAL_S,
            note=f"{len(trainings)} trainings; every phase OK: {run['ok']}",
            digits=1,
        ),
        measurement("every_phase_ok", run["ok"], equals=True),
        measurement("trainings", len(trainings), equals=2),
        measurement("process_wall", process_s, "s", note="incl. interpreter start", digits=1),
        measurement("process_cpu", run["cpu_seconds"], "s", note="user+sys, all threads", digits=1),
        measurement("simulated_span", sim / 3600, "h", digits=2),
        measurement("wall_per_simulated_hour", wall / (sim / 3600), "s/h", digits=2),
        measurement("speedup_vs_real_time", sim / wall, "x", digits=0),
    ]
    for phase in phases:
        measurements.append(
            measurement(
                f"phase {phase['key']}",
                phase["wall_seconds"],
                "s",
                note=f"simulated {_span(phase['sim_seconds'])}; {phase['status']}",
                digits=1,
            )
        )
    for i, job in enumerate(trainings, 1):
        measurements.append(
            measurement(
                f"training {i}",
                job["seconds"],
                "s",
                note=f"{job['epochs']} epochs ({job['job']})",
                digits=1,
            )
        )
    return result(
        "lifecycle",
        "Lifecycle: the demo scenario on the twin (wall vs simulated time)",
        measurements,
        {
            "phases": phases,
            "trainings": trainings,
            "options": run["options"],
            "lambda_invocations": run["lambda_invocations"],
            "failed_phase": run["failed_phase"],
            "load_before": load_before,
            "load_after": load(),
        },
    )


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


# ---------------------------------------------------------------------------- the child process
def child(out: Path) -> int:
    from feecast_demo.cli import _quiet_libraries
    from feecast_demo.scenario import DemoOptions, Scenario

    _quiet_libraries()
    with tempfile.TemporaryDirectory(prefix="feecast-bench-demo-") as tmp:
        options = DemoOptions(out=Path(tmp))
        timeline = Path(tmp) / "timeline.txt"
        with (
            timeline.open("w") as terminal,
            open(os.devnull, "w") as devnull,
            contextlib.redirect_stdout(devnull),
            contextlib.redirect_stderr(devnull),
        ):
            scenario = Scenario(options, out=terminal)
            run = scenario.execute(close=False)
            try:
                trainings = _trainings(scenario.twin) if scenario.twin is not None else []
                invocations = len(scenario.twin.runtime.invocations) if scenario.twin else 0
            finally:
                scenario.close()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        failed = run.failed_phase
        facts = {
            "ok": run.ok,
            "failed_phase": f"{failed.key}: {failed.detail}" if failed else None,
            "wall_seconds": run.wall_seconds,
            "sim_seconds": (run.sim_ended - run.sim_started).total_seconds()
            if run.sim_started and run.sim_ended
            else None,
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "options": run.options,
            "phases": [
                {
                    "key": p.key,
                    "status": p.status,
                    "wall_seconds": p.wall_duration,
                    "sim_seconds": p.sim_duration.total_seconds() if p.sim_duration else None,
                }
                for p in run.phases
            ],
            "trainings": trainings,
            "lambda_invocations": invocations,
        }
        if not run.ok:
            facts["timeline_tail"] = timeline.read_text()[-3000:]
    out.write_text(json.dumps(facts, indent=2, default=str))
    return 0


def _trainings(twin: Any) -> list[dict[str, Any]]:
    """Each training job's own wall time ("Training finished in X s after N epoch(s)")."""
    import re

    logs = twin.client("logs")
    found = []
    try:
        streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs")
    except Exception:
        return found
    for stream in streams.get("logStreams", []):
        events = logs.get_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"]
        )["events"]
        for event in events:
            match = re.search(r"Training finished in ([\d.]+)s after (\d+) epoch", event["message"])
            if match:
                found.append(
                    {
                        "job": stream["logStreamName"].split("/", 1)[0],
                        "seconds": float(match.group(1)),
                        "epochs": int(match.group(2)),
                        "time": event["timestamp"],
                    }
                )
    return sorted(found, key=lambda j: j["time"])


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        sys.exit(child(Path(sys.argv[2])))
    print(json.dumps(main(), indent=2))
