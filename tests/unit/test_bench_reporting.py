"""bench/: goals in both directions, the lifecycle's twin overhead, and a failed run saying why.

Pure and fast: made-up results and facts, no twin, no benchmark is run.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

# bench/ is a package at the repository root (`python -m bench`), not installed: import it from there.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import bench_lifecycle as lifecycle
from bench.common import measurement, result

bench_main = importlib.import_module("bench.__main__")


# ------------------------------------------------------------------------------- goals
@pytest.mark.parametrize(
    ("value", "goal", "ok"),
    [
        (0.34, {"at_least": 1 / 3}, True),
        (1 / 3, {"at_least": 1 / 3}, False),  # judged as reported: 0.333 < 0.3333...
        (0.2, {"at_least": 1 / 3}, False),
        (2.0, {"above": 2.0}, False),
        (2.5, {"above": 2.0}, True),
        (0.5, {"at_most": 0.5}, True),
        (0.5, {"below": 0.5}, False),
        (True, {"at_least": 0.0}, False),  # a yes/no is no number to compare
    ],
)
def test_a_goal_judges_the_value_in_its_direction(value: Any, goal: dict, ok: bool) -> None:
    assert measurement("m", value, **goal)["ok"] is ok


def test_a_goal_label_shows_the_limit_in_words_while_the_number_judges() -> None:
    m = measurement("ratio", 0.25, at_least=1 / 3, goal_label="1/3")
    assert (m["goal"], m["limit"], m["ok"]) == (">= 1/3", 1 / 3, False)
    assert measurement("t", 3.0, "s", below=90)["goal"] == "< 90 s"


# ------------------------------------------------------------------- lifecycle overhead
def test_covered_counts_overlapping_jobs_once_and_only_inside_the_window() -> None:
    jobs = [(1.0, 4.0), (3.0, 5.0), (8.0, 20.0)]
    assert lifecycle.covered(jobs, 0.0, 10.0) == pytest.approx(4.0 + 2.0)
    assert lifecycle.covered(jobs, 4.5, 9.0) == pytest.approx(0.5 + 1.0)
    assert lifecycle.covered([], 0.0, 10.0) == 0.0


def _record(kind: str, name: str, status: str, secondary: str | None = None) -> Any:
    fields = {"name": name, "status": status, "secondary_status": secondary}
    return SimpleNamespace(kind=kind, get=fields.get)


def test_the_job_clock_keeps_a_training_and_a_transform_of_the_same_name_apart() -> None:
    now = iter([1.0, 2.0, 10.0, 10.5, 12.0, 13.0])
    clock = lifecycle.JobClock(lambda: next(now))
    for record in [
        _record("training-job", "b1", "InProgress", "Starting"),
        _record("training-job", "b1", "InProgress", "Training"),
        _record("training-job", "b1", "Completed", "Completed"),
        _record("lambda", "x", "ok"),  # not a job: ignored, no stamp taken
        _record("transform-job", "b1", "InProgress"),
        _record("transform-job", "b1", "Completed"),
        _record("transform-job", "b2", "InProgress"),  # never ends
    ]:
        clock(record)
    jobs = clock.jobs(run_end=20.0)
    assert [(j["kind"], j["start"], j["end"], j["status"]) for j in jobs] == [
        ("training", 1.0, 10.0, "Completed"),
        ("transform", 10.5, 12.0, "Completed"),
        ("transform", 13.0, 20.0, "InProgress (unfinished)"),
    ]


def _facts(ok: bool = True) -> dict[str, Any]:
    phase = {"status": "ok", "sim_seconds": 60.0}
    return {
        "ok": ok,
        "failed_phase": None if ok else "monitoring: no loss published for production in 3 h",
        "wall_seconds": 100.0,
        "sim_seconds": 3600.0,
        "cpu_seconds": 80.0,
        "options": {},
        "lambda_invocations": 10,
        "phases": [
            {**phase, "key": "stack", "wall_start": 0.0, "wall_end": 10.0, "wall_seconds": 10.0},
            {**phase, "key": "build", "wall_start": 10.0, "wall_end": 60.0, "wall_seconds": 50.0},
            {**phase, "key": "rebuild", "wall_start": 60.0, "wall_end": 98.0, "wall_seconds": 38.0},
            {
                **phase,
                "key": "recovery",
                "wall_start": None,
                "wall_end": None,
                "wall_seconds": None,
            },
        ],
        "jobs": [
            {"kind": "training", "name": "b1", "start": 15.0, "end": 45.0, "status": "Completed"},
            {"kind": "transform", "name": "b1", "start": 45.0, "end": 50.0, "status": "Completed"},
            {"kind": "training", "name": "b2", "start": 55.0, "end": 75.0, "status": "Completed"},
        ],
        **({} if ok else {"timeline_tail": "03:41  phase  -- FAILED: no loss"}),
    }


def _by_name(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in out["measurements"]}


def test_the_twin_overhead_is_the_share_of_wall_time_outside_training_and_transform() -> None:
    out = lifecycle.report(_facts(), process_s=105.0, load_before={"1m": 0.5})
    rows = _by_name(out)
    assert rows["twin_overhead"]["value"] == pytest.approx(0.45)  # 55 s of 100 s in jobs
    assert rows["twin_overhead"]["goal"] == "<= 0.5" and rows["twin_overhead"]["ok"] is True
    assert "45.0 s of 100.0 s" in rows["twin_overhead"]["note"]
    assert rows["training_and_transform"]["value"] == pytest.approx(55.0)
    assert rows["overhead stack"]["value"] == pytest.approx(1.0)
    assert rows["overhead build"]["value"] == pytest.approx(10 / 50)  # 15..50 and 55..60
    assert rows["overhead rebuild"]["value"] == pytest.approx(23 / 38, abs=1e-3)  # 60..75
    assert "overhead recovery" not in rows  # a phase that never ran has no overhead
    assert rows["trainings"]["value"] == 2 and rows["trainings"]["ok"] is True
    assert [rows[n]["value"] for n in ("training 1", "transform 1", "training 2")] == [30, 5, 20]
    assert "why" not in out  # every phase passed; the only miss is the 90 s goal
    assert [line.split(",")[0] for line in bench_main.why_failed(out)] == [
        "lifecycle: scenario_wall = 100 s"
    ]


def test_the_lifecycle_says_how_much_of_the_time_outside_jobs_went_to_invocations() -> None:
    invocations = [
        SimpleNamespace(logical_id=logical_id, duration_ms=ms)
        for logical_id, ms in (("Collect", 80.0), ("Collect", 120.0), ("Monitor", 500.0))
    ]
    seconds = lifecycle.lambda_seconds(invocations)
    assert list(seconds) == ["Monitor", "Collect"]  # the costliest first
    assert seconds["Collect"] == {"invocations": 2, "seconds": pytest.approx(0.2)}
    facts = {**_facts(), "lambda_seconds": seconds}
    facts["phases"] = [*facts["phases"], {**facts["phases"][0], "key": "history"}]
    rows = _by_name(lifecycle.report(facts, process_s=105.0, load_before={"1m": 0.5}))
    assert rows["in_lambda_invocations"]["value"] == pytest.approx(0.7)
    assert rows["in_lambda_invocations"]["note"].startswith("3 invocations; Monitor 0.5 s / 1")
    assert rows["history_replay"]["value"] == pytest.approx(10.0)
    # Results recorded before the split have neither row.
    assert "in_lambda_invocations" not in _by_name(
        lifecycle.report(_facts(), process_s=105.0, load_before={"1m": 0.5})
    )


def test_a_failed_phase_makes_the_lifecycle_say_which_phase_and_show_the_timeline() -> None:
    out = lifecycle.report(_facts(ok=False), process_s=105.0, load_before={"1m": 0.5})
    assert out["ok"] is False
    lines = bench_main.why_failed(out)
    assert "lifecycle: every_phase_ok = False, goal = True: missed" in lines
    assert "lifecycle: why: phase monitoring: no loss published for production in 3 h" in lines
    assert any("FAILED: no loss" in line for line in lines)


# -------------------------------------------------------------------- a failed run says why
def test_a_missed_goal_names_the_benchmark_the_measurement_its_value_and_the_goal() -> None:
    out = result(
        "ingest_replay",
        "Ingest replay",
        [
            measurement(
                "twin_to_memory_tx_per_s",
                0.11,
                at_least=1 / 3,
                goal_label="1/3",
                note="twin 6,395 tx/s, in memory 57,522 tx/s",
            ),
            measurement("replay per day", 46.4, "s", below=120),
        ],
    )
    assert bench_main.why_failed(out) == [
        "ingest_replay: twin_to_memory_tx_per_s = 0.11, goal >= 1/3: missed "
        "(twin 6,395 tx/s, in memory 57,522 tx/s)"
    ]


def _crashed() -> dict[str, Any]:
    error = "RuntimeError: the scenario process exited 1\n--- stderr (tail) ---\nBoom"
    return {
        "name": "lifecycle",
        "title": "bench_lifecycle",
        "measurements": [],
        "ok": False,
        "details": {},
        "error": error,
        "traceback": f'Traceback (most recent call last):\n  File "x.py", line 1\n{error}\n',
    }


def test_a_crash_says_the_error_its_details_and_the_end_of_the_traceback() -> None:
    lines = bench_main.why_failed(_crashed(), traceback_lines=5)
    assert lines[0] == "lifecycle: crashed: RuntimeError: the scenario process exited 1"
    assert "    Boom" in lines
    assert any('File "x.py"' in line for line in lines)
    assert len([line for line in lines if "exited 1" in line]) == 1  # not again from the traceback
    # The summary at the end of the run: one line per finding.
    assert bench_main.why_failed(_crashed(), detail=False) == [lines[0]]


def test_a_failure_without_a_reason_is_still_reported() -> None:
    out = {"name": "x", "measurements": [], "ok": False}
    assert bench_main.why_failed(out) == [
        "x: failed, and said nothing about why (ok false, no missed goal)"
    ]


def test_the_run_prints_why_under_the_table_and_at_the_end_and_results_md_keeps_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(bench_main, "run_one", lambda name: {**_crashed(), "module": name})
    assert bench_main.main(["lifecycle", "--out", str(tmp_path)]) == 1
    printed = capsys.readouterr().out
    assert "why it failed:\nlifecycle: crashed: RuntimeError" in printed
    assert printed.rstrip().endswith(
        "crashed: lifecycle\nlifecycle: crashed: RuntimeError: the scenario process exited 1"
    )
    markdown = (tmp_path / "results.md").read_text()
    assert "Why it failed:" in markdown and "    Boom" in markdown


def test_the_replay_ceiling_is_memory_time_over_memory_time_plus_one_put_record_a_minute() -> None:
    from bench.bench_ingest_replay import Stream

    stream = Stream("demo", 0.5, 7, 0.0, lines=43_200, memory_s=(0.3, 0.5))
    stream.twin_report = SimpleNamespace(minutes_closed=1_440)
    # 0.4 s in memory; 1,440 PutRecords at 2 ms are 2.88 s more, whatever else the twin does.
    assert stream.ceiling(0.002) == pytest.approx(0.4 / (0.4 + 2.88))
    assert stream.memory_tx_s == pytest.approx(43_200 / 0.4)


def test_the_sdk_ceiling_is_memory_time_over_memory_time_plus_the_calls_answered_at_once() -> None:
    from bench.bench_ingest_replay import Stream

    stream = Stream("demo", 0.5, 7, 0.0, lines=43_200, memory_s=(0.3, 0.5), sdk_s=1.6)
    assert stream.sdk_ceiling == pytest.approx(0.4 / (0.4 + 1.6))


def test_the_sdk_recorder_keeps_each_call_with_its_answer_and_makes_them_again() -> None:
    import boto3
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import MockRawResponse

    from bench.bench_ingest_replay import SdkRecorder, calls_by_operation

    answers = [
        (200, b'{"Item": {"pk": {"S": "CURSOR"}, "last_closed": {"N": "60"}}}'),
        (400, b'{"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"}'),
    ]
    sent: list[bytes] = []

    def service(request: Any, **_: Any) -> Any:  # stands in for the twin
        status, body = answers[len(sent) % 2]
        sent.append(request.body)
        headers = {"content-type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, status, headers, MockRawResponse(body))  # type: ignore[arg-type]

    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="eu-west-1"
    )
    client = session.client("dynamodb")
    client.meta.events.register("before-send", service)
    recorder = SdkRecorder(client)
    key = {"pk": {"S": "CURSOR"}, "sk": {"S": "CLOSER"}}
    assert client.get_item(TableName="t", Key=key)["Item"]["last_closed"] == {"N": "60"}
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.update_item(
            TableName="t", Key=key, UpdateExpression="SET a = :a",
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeValues={":a": {"N": "1"}},
        )  # fmt: skip

    calls = recorder.calls
    assert [(c[0], c[1], c[3]["status_code"]) for c in calls] == [
        ("dynamodb", "GetItem", 200),
        ("dynamodb", "UpdateItem", 400),
    ]
    assert calls[0][2] == {"TableName": "t", "Key": key}
    assert calls_by_operation(calls) == {"dynamodb.GetItem": 1, "dynamodb.UpdateItem": 1}
    # Made again on clients of their own, answered from the recording in order: the refusal is
    # parsed and counted, and the service is not asked again.
    replayed = recorder.replay(calls)
    assert replayed.answers == [("GetItem", 200), ("UpdateItem", 400)]
    assert replayed.refused == 1
    assert replayed.seconds > 0
    assert len(sent) == 2
    # It refuses to time what would not be botocore alone: a call with no recorded answer, or
    # a moto mock still active (moto's stubber would answer before the recording does).
    with pytest.raises(
        RuntimeError, match=re.escape("without a recorded answer: ['dynamodb.GetItem']")
    ):
        recorder.replay([[*calls[0][:3], None]])
    from moto import mock_aws

    with mock_aws(), pytest.raises(RuntimeError, match="moto mock is still active"):
        recorder.replay(calls)
