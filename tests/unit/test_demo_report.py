"""The demo's report writer, from a run built in memory (no twin, no training)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from feecast_demo.report import monitoring_means, plainly, summary_markdown, write_report
from feecast_demo.run import FAILED, OK, DemoRun, ForecastBand, LossPoint, Marker, ModelInfo

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _band(version: int, start: datetime, level: float, rng: np.random.Generator) -> ForecastBand:
    median = list(level * (1 + 0.05 * rng.standard_normal(30)))
    return ForecastBand(
        version=version,
        start=start,
        median=median,
        lower=[v * 0.6 for v in median],
        upper=[v * 1.6 for v in median],
        source="production",
    )


def synthetic_run(history_days: int = 2, hours: int = 12) -> DemoRun:
    """A run as the scenario would fill it: drift at hour 4, alarm at 7, v2 in production at 9."""
    rng = np.random.default_rng(7)
    run = DemoRun(options={"history_days": history_days, "seed": 7})
    run.sim_started = T0
    production = T0 + timedelta(days=history_days, hours=1)
    drift = production + timedelta(hours=4)
    alarm = production + timedelta(hours=7)
    v2_prod = production + timedelta(hours=9)
    run.sim_ended = production + timedelta(hours=hours)
    minutes = int((run.sim_ended - T0).total_seconds() // 60)
    times = [T0 + timedelta(minutes=i) for i in range(minutes)]
    base = np.array([30 + 10 * math.sin(2 * math.pi * i / 1440) for i in range(minutes)])
    base[[i for i, t in enumerate(times) if t >= drift]] *= 3
    run.series_start = T0
    run.series = list(base * np.exp(0.2 * rng.standard_normal(minutes)))
    run.series[100] = float("nan")  # a minute without transactions
    for key, title, start, end in (
        ("ingest-history", "Ingest history", T0, T0 + timedelta(days=history_days)),
        ("build", "First build", run.sim_started + timedelta(days=history_days), production),
        ("monitoring", "Monitoring", production, run.sim_ended),
    ):
        phase = run.add_phase(key, title)
        phase.status, phase.sim_start, phase.sim_end = OK, start, end
        phase.wall_start, phase.wall_end, phase.detail = 1.0, 61.0, f"{title} | done"
    run.models = [
        ModelInfo(
            1,
            "arn:aws:sagemaker:eu-west-1:1:model-package/feecast-models/1",
            "manual",
            loss=0.21,
            baseline_loss=0.23,
            windows=336,
            ratio_to_naive=0.913,
            naive_ci=(0.85, 0.99),
            windows_won=0.7,
            ratio_to_robust=1.08,
            robust_ci=(1.01, 1.15),
            alarm_threshold=0.24,
            status="Approved",
            production_at=production,
        ),
        ModelInfo(
            2,
            "arn:aws:sagemaker:eu-west-1:1:model-package/feecast-models/2",
            "alarm",
            loss=0.19,
            baseline_loss=0.22,
            windows=336,
            ratio_to_naive=0.86,
            naive_ci=(0.8, 0.93),
            windows_won=0.74,
            alarm_threshold=0.225,
            status="Approved",
            production_at=v2_prod,
        ),
    ]
    run.thresholds = [(T0, 0.24, "template default"), (production, 0.225, "v1 better")]
    for h in range(1, hours + 1):
        when = production + timedelta(hours=h)
        bad = drift < when <= v2_prod + timedelta(minutes=30)
        run.losses.append(
            LossPoint(when, "production", 0.45 if bad else 0.2, 0.3 if bad else 0.22, 0.225)
        )
        version = 2 if when > v2_prod else 1
        level = float(np.nanmean(run.series[-60:])) if version == 2 else 35.0
        run.forecasts.append(_band(version, when, level, rng))
    run.markers = [
        Marker(drift, "drift", "fees x3"),
        Marker(alarm, "alarm", "ALARM"),
        Marker(production, "production", "v1"),
        Marker(v2_prod, "production", "v2"),
    ]
    run.builds = [
        {
            "name": "manual-demo-1",
            "trigger": "manual",
            "status": "SUCCEEDED",
            "start": production - timedelta(minutes=50),
            "stop": production - timedelta(minutes=20),
        },
        {
            "name": "alarm-x",
            "trigger": "alarm",
            "status": "SUCCEEDED",
            "start": alarm,
            "stop": alarm + timedelta(minutes=40),
        },
    ]
    run.wall_seconds = 183.0
    return run


def test_given_a_finished_run_when_written_then_every_file_is_there(tmp_path: Path) -> None:
    run = synthetic_run()

    paths = write_report(run, tmp_path / "report")

    assert set(paths) == {"summary.json", "summary.md", "forecast.png", "monitoring.png"}
    for name in ("forecast.png", "monitoring.png"):
        assert paths[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert paths[name].stat().st_size > 20_000  # a drawn picture, not an empty canvas
    data = json.loads(paths["summary.json"].read_text())
    assert data["ok"] is True and data["failed_phase"] is None
    assert data["rebuilds"] == 1
    assert [m["version"] for m in data["models"]] == [1, 2]
    assert data["phases"][0]["sim_duration_seconds"] == 2 * 86400
    assert data["series"][100] is None  # NaN is written as null, the JSON stays valid
    md = paths["summary.md"].read_text()
    assert "Every phase happened as expected" in md
    assert "![" in md and "forecast.png" in md
    assert "\\|" in md  # a | inside a cell is escaped
    # The backtest, with intervals, and plain words when a model barely beats naive.
    assert "| v1 | manual | 336 | 0.210 | 0.913 (0.85-0.99) | 70% | 1.080 (1.01-1.15) |" in md
    assert "v1 barely beats the naive forecast: 9% lower loss, interval up to 0.99" in md
    assert "the cheap baseline does better" in md
    assert "v2 beats the naive forecast by 14% (interval 0.80-0.93)" in md


def test_given_a_failed_phase_then_the_summary_names_it() -> None:
    run = synthetic_run()
    run.phases[1].status, run.phases[1].detail = FAILED, "no model package registered"

    md = summary_markdown(run)

    assert not run.ok
    assert run.failed_phase is run.phases[1]
    assert "Stopped at phase `build`: no model package registered" in md


def test_given_no_data_then_pictures_are_skipped_and_said_so(tmp_path: Path) -> None:
    run = DemoRun()

    paths = write_report(run, tmp_path)

    assert set(paths) == {"summary.json", "summary.md"}
    assert "not drawn: no data" in (tmp_path / "summary.md").read_text()
    assert json.loads((tmp_path / "summary.json").read_text())["ok"] is False


def test_monitoring_means_split_by_the_model_serving() -> None:
    run = synthetic_run(hours=12)

    means = monitoring_means(run)

    assert set(means) == {1, 2}
    assert means[2] < means[1]
    assert means[2] == pytest.approx(
        np.mean([p.loss for p in run.losses if p.time > run.models[1].production_at])
    )


def test_plainly_says_when_a_model_is_no_better_than_naive() -> None:
    model = ModelInfo(3, "arn:x/3", ratio_to_naive=0.97, naive_ci=(0.9, 1.04))
    assert plainly(model) == (
        "v3 is no better than the naive forecast: its loss is 0.97 x naive's and the 95% "
        "interval 0.90-1.04 includes 1."
    )


def test_demo_json_puts_the_summary_alone_on_stdout_and_the_timeline_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`feecast local demo --json`: the plumbing around the scenario (which needs the twin)."""
    from types import SimpleNamespace

    import feecast_demo.report
    import feecast_demo.scenario
    from feecast_cli.main import main

    class FakeScenario:
        def __init__(self, options: object, out: object) -> None:
            self.out = out

        def execute(self) -> object:
            print("00:00  the timeline", file=self.out)  # type: ignore[arg-type]
            phase = SimpleNamespace(status="ok", title="Everything")
            return SimpleNamespace(phases=[phase], wall_seconds=61, ok=True, failed_phase=None)

    def fake_report(run: object, out: Path) -> dict[str, Path]:
        (out / "summary.json").write_text('{"ok": true}\n')
        return {"summary.json": out / "summary.json"}

    monkeypatch.setattr(feecast_demo.scenario, "Scenario", FakeScenario)
    monkeypatch.setattr(feecast_demo.report, "write_report", fake_report)
    monkeypatch.setattr("feecast_demo.cli._quiet_libraries", lambda: None)

    assert main(["local", "demo", "--json", "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"ok": True}
    assert "the timeline" in err and "Every phase happened as expected" in err
