"""The whole lifecycle on the twin (the CI version of `make demo`), checked from the twin itself.

Given a day of synthetic history, a person's approvals through the operator commands, and a
fee regime change an hour after production (fees x4 an hour for three hours),
when the twin's clock runs,
then: one manual build, model v1 approved -> staging -> production, hourly losses published,
the production alarm goes off after the drift, exactly one build starts from the alarm, model
v2 reaches production and the production loss comes back under the threshold. Every assertion
reads the twin's records, Step Functions executions, the model registry or CloudWatch data; the
demo's own verdicts and printed text are not trusted.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feecast_demo.scenario import DemoOptions, Scenario

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Scenario, Any, str]]:
    out = io.StringIO()
    options = DemoOptions(
        history_days=1,
        drift_at=1,
        drift_steps=3,  # x4 three times: a climb the half-day model has not seen
        recovery_hours=3,  # single-hour losses are noisy: give the new model a few hours
        out=Path(tmp_path_factory.mktemp("demo-report")),
    )
    scenario = Scenario(options, out=out)
    run = scenario.execute(close=False)
    try:
        yield scenario, run, out.getvalue()
    finally:
        scenario.close()


def _executions(twin: Any, machine: str) -> tuple[list[Any], dict[str, Any]]:
    started = [r for r in twin.records_of("execution-started") if r["state_machine"] == machine]
    ended = {
        r["execution_arn"]: r
        for r in twin.records_of("execution-ended")
        if r["state_machine"] == machine
    }
    return started, ended


def test_every_phase_happened(lifecycle: tuple[Scenario, Any, str]) -> None:
    _, run, printed = lifecycle
    failed = run.failed_phase
    assert run.ok, (
        f"phase {failed.key if failed else '?'}: {failed.detail if failed else ''}\n{printed[-4000:]}"
    )


def test_one_manual_build_then_exactly_one_rebuild_from_the_alarm(
    lifecycle: tuple[Scenario, Any, str],
) -> None:
    scenario, _, _ = lifecycle
    twin = scenario.twin
    started, ended = _executions(twin, "ModelBuildStateMachine")
    names = [r["name"] for r in started]
    assert [n.split("-", 1)[0] for n in names] == ["manual", "alarm"], names
    assert all(ended[r["execution_arn"]]["status"] == "SUCCEEDED" for r in started)
    # The rebuild started after the production (or staging) alarm went to ALARM, not before.
    alarms = [r for r in twin.records_of("alarm") if r["state"] == "ALARM"]
    assert alarms, "no alarm went to ALARM"
    assert started[1].time >= min(a.time for a in alarms)
    # Every ALARM delivery reached the retraining function; only one of them started a build.
    assert {a["name"] for a in alarms} >= {"feecast-production-accuracy"}


def test_both_models_were_approved_and_served_by_production(
    lifecycle: tuple[Scenario, Any, str],
) -> None:
    scenario, _, _ = lifecycle
    twin = scenario.twin
    sm = twin.client("sagemaker")
    packages = sm.list_model_packages(ModelPackageGroupName="feecast-models")[
        "ModelPackageSummaryList"
    ]
    assert sorted(p["ModelApprovalStatus"] for p in packages) == ["Approved", "Approved"]
    started, ended = _executions(twin, "ModelDeployStateMachine")
    assert [r["name"].split("-", 1)[0] for r in started] == ["v1", "v2"]
    assert all(ended[r["execution_arn"]]["status"] == "SUCCEEDED" for r in started)
    production = [r for r in twin.records_of("endpoint") if r["name"] == "feecast-production"]
    assert production[-1]["status"] == "InService"
    config = sm.describe_endpoint(EndpointName="feecast-production")["EndpointConfigName"]
    assert "-v2-" in config  # the production endpoint runs the rebuilt model


def test_the_loss_went_over_the_threshold_after_the_drift_and_came_back(
    lifecycle: tuple[Scenario, Any, str],
) -> None:
    scenario, _, _ = lifecycle
    twin = scenario.twin
    dims = {"Stage": "production", "EndpointName": "feecast-production"}
    losses = twin.metric_data("feecast", "WeightedQuantileLoss", dims)
    thresholds = dict(twin.metric_data("feecast", "Threshold", dims))
    drift = scenario.drift_at
    assert drift is not None
    over = [(t, v) for t, v in losses if t > drift and v > thresholds[t]]
    assert len(over) >= 2, f"losses after the drift {losses}"
    v2_live = scenario.production_at
    assert v2_live is not None and v2_live > over[0][0]  # v2 came after the breaches began
    after = [(t, v) for t, v in losses if t > v2_live]
    assert after, "no monitoring hour after v2 reached production"
    last_time, last_loss = after[-1]
    assert last_loss <= thresholds[last_time]
    assert twin.clock.now() > last_time >= datetime(2026, 1, 5, tzinfo=UTC)


def test_the_report_was_written_with_both_pictures(lifecycle: tuple[Scenario, Any, str]) -> None:
    from feecast_demo.report import write_report

    scenario, run, _ = lifecycle
    paths = write_report(run, scenario.o.out)
    assert {"summary.json", "summary.md", "forecast.png", "monitoring.png"} <= set(paths)
    assert len(run.forecasts) >= 2 and {b.version for b in run.forecasts} == {1, 2}


def test_status_and_logs_tell_the_same_story(
    lifecycle: tuple[Scenario, Any, str], capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from feecast_cli.main import main

    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    production = {e["stage"]: e for e in status["endpoints"]}["production"]
    assert production["status"] == "InService" and production["model_version"] == 2
    assert production["last_loss"] is not None
    # Each approved model brings its own threshold (its backtest's): v2's, not a ratchet.
    sm = lifecycle[0].twin.client("sagemaker")
    v2 = sm.describe_model_package(ModelPackageName=production["model_package"])
    own = float(v2["CustomerMetadataProperties"]["alarm_threshold"])
    assert status["threshold"]["value"] == pytest.approx(own)
    assert status["threshold"]["value"] != status["threshold"]["previous"]
    assert status["running"] == [] and status["pending_approvals"] == []

    assert main(["logs", "--json", "--limit", "0"]) == 0
    events = json.loads(capsys.readouterr().out)
    builds = [e for e in events if e["event"] == "build started"]
    assert [b["subject"].split("-", 1)[0] for b in builds] == ["manual", "alarm"]
    assert [e["subject"] for e in events if e["event"] == "production serves"] == ["v1", "v2"]
