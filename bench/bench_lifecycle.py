"""The whole lifecycle on the twin: wall time per phase, the twin's overhead, simulated time.

The scenario is `make demo`'s (feecast_demo.scenario with the default DemoOptions: three
days of history, two real trainings of the local DeepAR, two approvals each, hourly monitoring,
the regime change, the alarm, one rebuild, recovery), run in a fresh process like `make demo`
(imports included), without the report pictures. On AWS the same scenario takes as long as the
simulated span (hours of monitoring, plus real training and endpoint creation), so one headline
is the ratio wall / simulated.

Twin overhead (issue 14): the share of the scenario's wall time in which no SageMaker training
or batch transform job was running, i.e. (wall - time in training and transform) / wall, for
the whole scenario (goal <= 0.5) and per phase. The jobs' times are wall-clock seconds as the
twin observed them: the child process subscribes to the twin's records (`twin.subscribe`) and
stamps each "training-job" / "transform-job" record with the real monotonic clock the demo's
phases are timed with (`DemoRun.wall()`) when it is recorded. A job runs from its first record
(created, InProgress) to its terminal one (Completed, Failed or Stopped); overlapping jobs count
once. The records' own `time` is no use here: it is the twin's clock, which jumps on every
`advance()` the scenario makes while it waits for a build. A job's span includes the twin's
moving of the job's data to and from its S3 (a few milliseconds for the demo's channels) and
the container process's start; `job_seconds` in the details keeps every record's stamp.

Goals: the full scenario in under 90 s on 2 cores (issue 10); twin overhead <= 0.5 (issue 14).
The process CPU time and the load average are reported beside the wall time: on a shared
machine the wall time also measures the neighbours. A failed phase is reported with its
reason, the tail of the demo's timeline and of the scenario's log (`why`).

    python -m bench lifecycle                     # the benchmark
    python -m bench.bench_lifecycle --child OUT   # (internal) one run, its facts as JSON in OUT
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.common import load, measurement, result

GOAL_S = 90.0
OVERHEAD_GOAL = 0.5
#: The scenario process is killed after this many seconds (a hung run must still report).
TIMEOUT_S = float(os.environ.get("FEECAST_BENCH_LIFECYCLE_TIMEOUT", "1800"))
JOB_KINDS = {"training-job": "training", "transform-job": "transform"}
TERMINAL = {"Completed", "Failed", "Stopped"}


def main() -> dict[str, Any]:
    load_before = load()
    with tempfile.TemporaryDirectory(prefix="feecast-bench-lifecycle-") as tmp:
        out = Path(tmp) / "run.json"
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.bench_lifecycle", "--child", str(out)],
            cwd=Path(__file__).resolve().parent.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own group: a timeout ends the twin's processes too
        )
        try:
            _, stderr = proc.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            _, stderr = proc.communicate()
            raise RuntimeError(
                f"the scenario process did not finish in {TIMEOUT_S:g} s"
                + _tails(Path(tmp), stderr)
            ) from None
        process_s = time.perf_counter() - started
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(
                f"the scenario process exited {proc.returncode}" + _tails(Path(tmp), stderr)
            )
        run = json.loads(out.read_text())
    if not run["ok"] and stderr.strip():  # what the twin's processes printed (Lambda workers...)
        run["stderr_tail"] = _tail(stderr)
    return report(run, process_s, load_before)


def _tails(folder: Path, stderr: str) -> str:
    """What a crashed or hung scenario process left: its timeline, log and stderr (tails)."""
    parts = []
    for name, label in (("timeline.txt", "timeline"), ("scenario.log", "scenario log")):
        path = folder / name
        if path.exists() and path.stat().st_size:
            parts.append(f"\n--- {label} (tail) ---\n{_tail(path.read_text())}")
    if stderr.strip():
        parts.append(f"\n--- stderr (tail) ---\n{_tail(stderr)}")
    return "".join(parts)


def _tail(text: str, lines: int = 25, chars: int = 3000) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])[-chars:]


def report(run: dict[str, Any], process_s: float, load_before: dict[str, float]) -> dict[str, Any]:
    """The benchmark's result from the child's facts (pure: unit-tested with made-up facts)."""
    phases = run["phases"]
    wall = run["wall_seconds"]
    sim = run["sim_seconds"]
    jobs = run["jobs"]
    trainings = [j for j in jobs if j["kind"] == "training"]
    intervals = [(j["start"], j["end"]) for j in jobs]
    in_jobs = covered(intervals, 0.0, wall)
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
        measurement(
            "twin_overhead",
            overhead(wall, in_jobs),
            at_most=OVERHEAD_GOAL,
            note=f"{wall - in_jobs:.1f} s of {wall:.1f} s outside training/transform",
        ),
        measurement(
            "training_and_transform",
            in_jobs,
            "s",
            note=f"{len(trainings)} training, {len(jobs) - len(trainings)} transform job(s)",
            digits=1,
        ),
        measurement("outside_jobs", wall - in_jobs, "s", digits=1),
        *_where_outside_jobs(run, phases),
        measurement("process_wall", process_s, "s", note="incl. interpreter start", digits=1),
        measurement("process_cpu", run["cpu_seconds"], "s", note="user+sys, all threads", digits=1),
    ]
    if sim:
        measurements += [
            measurement("simulated_span", sim / 3600, "h", digits=2),
            measurement("wall_per_simulated_hour", wall / (sim / 3600), "s/h", digits=2),
            measurement("speedup_vs_real_time", sim / wall, "x", digits=0),
        ]
    for phase in phases:
        if phase["wall_seconds"] is None:
            continue  # never started (an earlier phase failed)
        measurements.append(
            measurement(
                f"phase {phase['key']}",
                phase["wall_seconds"],
                "s",
                note=f"simulated {_span(phase['sim_seconds'])}; {phase['status']}",
                digits=1,
            )
        )
    for phase in phases:
        if not phase["wall_seconds"]:
            continue
        busy = covered(intervals, phase["wall_start"], phase["wall_end"])
        measurements.append(
            measurement(
                f"overhead {phase['key']}",
                overhead(phase["wall_seconds"], busy),
                note=f"{phase['wall_seconds'] - busy:.1f} s of {phase['wall_seconds']:.1f} s "
                f"outside training/transform",
            )
        )
    numbers = {"training": 0, "transform": 0}
    for job in jobs:
        numbers[job["kind"]] += 1
        algorithm = job.get("algorithm_seconds")
        measurements.append(
            measurement(
                f"{job['kind']} {numbers[job['kind']]}",
                job["end"] - job["start"],
                "s",
                note=f"{job['status']}"
                + (f", algorithm {algorithm:.1f} s ({job['epochs']} epochs)" if algorithm else "")
                + f" ({job['name']})",
                digits=1,
            )
        )
    out = result(
        "lifecycle",
        "Lifecycle: the demo scenario on the twin (wall vs simulated time, twin overhead)",
        measurements,
        {
            "phases": phases,
            "jobs": jobs,
            "options": run["options"],
            "lambda_invocations": run["lambda_invocations"],
            "lambda_seconds": run.get("lambda_seconds"),
            "failed_phase": run["failed_phase"],
            "load_before": load_before,
            "load_after": load(),
        },
    )
    if not run["ok"]:
        parts = [f"phase {run['failed_phase'] or '?'}"]
        for key, label in (
            ("timeline_tail", "timeline"),
            ("log_tail", "scenario log"),
            ("stderr_tail", "stderr"),
        ):
            if run.get(key):
                parts.append(f"--- {label} (tail) ---\n{run[key]}")
        out["why"] = "\n".join(parts)
    return out


def _where_outside_jobs(run: dict[str, Any], phases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Where the time outside the jobs goes: the history replay (the `history` phase: the CLI's
    replay, in this process) and the functions' invocations (mostly the collector, once per
    simulated minute). Older results without `lambda_seconds` report neither."""
    functions = run.get("lambda_seconds")
    if functions is None:
        return []
    history = next((p["wall_seconds"] for p in phases if p["key"] == "history"), None) or 0.0
    in_lambda = sum(f["seconds"] for f in functions.values())
    top = ", ".join(
        f"{name} {f['seconds']:.1f} s / {int(f['invocations'])}"
        for name, f in list(functions.items())[:3]
    )
    return [
        measurement("history_replay", history, "s", note="phase history", digits=1),
        measurement(
            "in_lambda_invocations",
            in_lambda,
            "s",
            note=f"{sum(int(f['invocations']) for f in functions.values())} invocations; {top}",
            digits=1,
        ),
    ]


def covered(intervals: Iterable[tuple[float, float]], start: float, end: float) -> float:
    """Seconds of [start, end] inside at least one of the intervals (overlaps count once)."""
    clipped = sorted((max(a, start), min(b, end)) for a, b in intervals if b > start and a < end)
    total, reach = 0.0, start
    for a, b in clipped:
        if b > reach:
            total += b - max(a, reach)
            reach = b
    return total


def overhead(wall: float, in_jobs: float) -> float:
    """(wall - time in training and transform) / wall."""
    return (wall - in_jobs) / wall if wall > 0 else 0.0


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


# ---------------------------------------------------------------------------- the child process
class JobClock:
    """Stamps the twin's job records with the scenario's real clock as they are recorded."""

    def __init__(self, wall: Any) -> None:
        self.wall = wall
        self.stamps: list[tuple[float, str, str, str, str | None]] = []
        self._lock = threading.Lock()

    def __call__(self, record: Any) -> None:  # twin.subscribe callback, on the recording thread
        kind = JOB_KINDS.get(record.kind)
        if kind is None:
            return
        stamp = (
            self.wall(),
            kind,
            str(record.get("name")),
            str(record.get("status")),
            record.get("secondary_status"),
        )
        with self._lock:
            self.stamps.append(stamp)

    def jobs(self, run_end: float) -> list[dict[str, Any]]:
        """One entry per job: its first and terminal stamp (run_end if it never ended)."""
        with self._lock:
            stamps = sorted(self.stamps, key=lambda s: s[0])
        found: dict[tuple[str, str], dict[str, Any]] = {}  # a build names both jobs alike
        for when, kind, name, status, secondary in stamps:
            job = found.setdefault(
                (kind, name),
                {
                    "kind": kind,
                    "name": name,
                    "start": when,
                    "end": None,
                    "status": status,
                    "job_seconds": [],
                },
            )
            job["job_seconds"].append([round(when, 3), secondary or status])
            if job["end"] is None:
                job["status"] = status
                if status in TERMINAL:
                    job["end"] = when
        for job in found.values():
            if job["end"] is None:
                job["end"], job["status"] = run_end, f"{job['status']} (unfinished)"
        return sorted(found.values(), key=lambda j: j["start"])


def child(out: Path) -> int:
    from feecast_demo.cli import _quiet_libraries
    from feecast_demo.scenario import DemoOptions, Scenario

    class TimedScenario(Scenario):
        """The demo's scenario, with the job clock subscribed as soon as the twin exists."""

        clock: JobClock

        def _phase_stack(self) -> str:
            try:
                return super()._phase_stack()
            finally:
                if self.twin is not None:
                    self.twin.subscribe(self.clock)

    _quiet_libraries()
    folder = out.parent
    timeline = folder / "timeline.txt"
    log = folder / "scenario.log"
    with tempfile.TemporaryDirectory(prefix="feecast-bench-demo-") as tmp:
        options = DemoOptions(out=Path(tmp))
        with (
            timeline.open("w") as terminal,
            log.open("w") as logfile,
            contextlib.redirect_stdout(logfile),
            contextlib.redirect_stderr(logfile),
        ):
            scenario = TimedScenario(options, out=terminal)
            scenario.clock = JobClock(scenario.run.wall)
            run = scenario.execute(close=False)
            try:
                jobs = scenario.clock.jobs(run.wall_seconds or scenario.run.wall())
                algorithm = _trainings(scenario.twin) if scenario.twin is not None else []
                invocations = list(scenario.twin.runtime.invocations) if scenario.twin else []
            finally:
                scenario.close()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        for job in jobs:  # the algorithm's own time, from the training job's log
            for entry in algorithm:
                if job["kind"] == "training" and entry["job"] == job["name"]:
                    job["algorithm_seconds"], job["epochs"] = entry["seconds"], entry["epochs"]
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
                    "wall_start": p.wall_start,
                    "wall_end": p.wall_end,
                    "wall_seconds": p.wall_duration,
                    "sim_seconds": p.sim_duration.total_seconds() if p.sim_duration else None,
                }
                for p in run.phases
            ],
            "jobs": jobs,
            "lambda_invocations": len(invocations),
            "lambda_seconds": lambda_seconds(invocations),
        }
        if not run.ok:
            facts["timeline_tail"] = _tail(timeline.read_text())
            facts["log_tail"] = _tail(log.read_text())
    out.write_text(json.dumps(facts, indent=2, default=str))
    return 0


def lambda_seconds(invocations: Iterable[Any]) -> dict[str, dict[str, float]]:
    """Per function: invocations and their summed wall time (the twin's Invoke, from the
    handover to a worker to its answer, cold starts included)."""
    out: dict[str, dict[str, float]] = {}
    for inv in invocations:
        entry = out.setdefault(inv.logical_id, {"invocations": 0, "seconds": 0.0})
        entry["invocations"] += 1
        entry["seconds"] += inv.duration_ms / 1000
    return dict(sorted(out.items(), key=lambda item: -item[1]["seconds"]))


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
