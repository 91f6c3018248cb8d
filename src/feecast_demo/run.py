"""What a demo run found out: phases, models, losses, forecasts, markers (plain data).

The scenario fills a `DemoRun` from the twin's records and AWS APIs as it goes; the report
writer turns it into summary.json, summary.md and the pictures. Nothing here touches the twin,
so the report can be tested (and re-drawn) from a run built in memory.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

#: Phase states. "waiting" = stopped for a person (--no-approve).
PENDING, RUNNING, OK, FAILED, SKIPPED, WAITING = (
    "pending",
    "running",
    "ok",
    "failed",
    "skipped",
    "waiting",
)


@dataclass
class Phase:
    key: str
    title: str
    status: str = PENDING
    sim_start: datetime | None = None
    sim_end: datetime | None = None
    wall_start: float | None = None  # seconds since the run began
    wall_end: float | None = None
    detail: str = ""
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def sim_duration(self) -> timedelta | None:
        if self.sim_start is None or self.sim_end is None:
            return None
        return self.sim_end - self.sim_start

    @property
    def wall_duration(self) -> float | None:
        if self.wall_start is None or self.wall_end is None:
            return None
        return self.wall_end - self.wall_start


@dataclass
class ModelInfo:
    """One model package the run produced, and what happened to it."""

    version: int
    package_arn: str
    trigger: str = ""  # what started its build: manual, alarm, ...
    build_execution: str = ""
    loss: float | None = None  # mean wQL over the build's backtest windows
    baseline_loss: float | None = None  # the naive forecast on the same windows
    robust_loss: float | None = None  # the robust baseline on the same windows
    windows: int | None = None  # backtest windows
    ratio_to_naive: float | None = None
    naive_ci: tuple[float, float] | None = None  # 95% interval of the ratio
    windows_won: float | None = None  # share of windows with a lower loss than naive
    ratio_to_robust: float | None = None
    robust_ci: tuple[float, float] | None = None
    naive_verdict: str = ""  # "beats naive", "barely beats naive", ... (the evaluation's words)
    alarm_threshold: float | None = None  # the threshold its backtest gave
    status: str = ""  # ModelApprovalStatus
    registered_at: datetime | None = None
    approved_at: datetime | None = None
    staging_at: datetime | None = None
    production_at: datetime | None = None
    monitoring_loss: float | None = None  # mean of its hourly production losses


@dataclass
class ForecastBand:
    """One 30-minute forecast of a model: the median and a central interval."""

    version: int
    start: datetime  # the first forecast minute
    median: list[float]
    lower: list[float]
    upper: list[float]
    interval: str = "90%"  # e.g. "90%" for 0.05..0.95
    source: str = ""  # "evaluation" (held-out window) or "production"


@dataclass
class LossPoint:
    time: datetime
    stage: str
    loss: float | None
    baseline: float | None = None
    threshold: float | None = None


@dataclass
class Marker:
    time: datetime
    kind: str  # drift, alarm, build-start, build-end, staging, production
    label: str = ""


@dataclass
class DemoRun:
    options: dict[str, Any] = field(default_factory=dict)
    phases: list[Phase] = field(default_factory=list)
    models: list[ModelInfo] = field(default_factory=list)
    thresholds: list[tuple[datetime, float, str]] = field(default_factory=list)
    series_start: datetime | None = None
    series: list[float] = field(default_factory=list)  # actual avg fee per minute, NaN = none
    forecasts: list[ForecastBand] = field(default_factory=list)
    losses: list[LossPoint] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    builds: list[dict[str, Any]] = field(default_factory=list)  # build executions seen
    started_wall: float = field(default_factory=time.monotonic)
    started_at: datetime | None = None  # real time the run began
    sim_started: datetime | None = None
    sim_ended: datetime | None = None
    wall_seconds: float | None = None
    report_dir: str | None = None

    # -------------------------------------------------------------- phases
    def add_phase(self, key: str, title: str) -> Phase:
        phase = Phase(key, title)
        self.phases.append(phase)
        return phase

    def phase(self, key: str) -> Phase:
        for phase in self.phases:
            if phase.key == key:
                return phase
        raise KeyError(f"no phase {key!r}")

    def wall(self) -> float:
        return time.monotonic() - self.started_wall

    @property
    def failed_phase(self) -> Phase | None:
        for phase in self.phases:
            if phase.status in (FAILED, WAITING):
                return phase
        for phase in self.phases:
            if phase.status != OK and phase.status != SKIPPED:
                return phase
        return None

    @property
    def ok(self) -> bool:
        return bool(self.phases) and all(p.status in (OK, SKIPPED) for p in self.phases)

    def model(self, version: int) -> ModelInfo | None:
        for m in self.models:
            if m.version == version:
                return m
        return None

    def series_points(self) -> list[tuple[datetime, float]]:
        if self.series_start is None:
            return []
        return [
            (self.series_start + timedelta(minutes=i), v)
            for i, v in enumerate(self.series)
            if v is not None and not math.isnan(v)
        ]

    # -------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        out = _plain(asdict(self))
        out.pop("started_wall", None)
        out["ok"] = self.ok
        failed = self.failed_phase
        out["failed_phase"] = failed.key if failed else None
        for raw, phase in zip(out["phases"], self.phases, strict=True):
            sim = phase.sim_duration
            raw["sim_duration_seconds"] = sim.total_seconds() if sim is not None else None
            raw["wall_duration_seconds"] = phase.wall_duration
        out["thresholds"] = [
            {"time": _plain(t), "value": v, "why": why} for t, v, why in self.thresholds
        ]
        out["rebuilds"] = sum(1 for b in self.builds if b.get("trigger") == "alarm")
        return out


def _plain(value: Any) -> Any:
    """JSON-friendly: datetimes as ISO text, NaN as null."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
