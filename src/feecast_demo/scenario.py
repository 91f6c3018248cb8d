"""The demo scenario: the whole feecast lifecycle on the twin, phase by phase.

Everything a person would do goes through the operator commands, in-process against the twin
(the twin is moto in this process, so the CLI's boto3 calls land on it): `feecast ingest
synthetic` + `feecast ingest replay` for the history, `feecast build`, the registry approval
(`feecast approve --package VERSION`, the same UpdateModelPackage call a person makes from the
AWS CLI or Studio), `feecast approve ID` for production. Everything else happens by
itself, driven only by the twin's clock: the collector polls the synthetic feed every minute,
endpoints go InService, hourly monitoring publishes the loss, the alarm fires, the retraining
function starts one build.

Each phase checks what it expects from AWS APIs and the twin's records (not from printed
text) and says what it found; the first phase that fails ends the run.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from feecast.feature_schema import AVG_FEE

from feecast_cli.status import as_utc
from feecast_demo.feed import SyntheticFeed
from feecast_demo.run import (
    FAILED,
    OK,
    RUNNING,
    WAITING,
    DemoRun,
    ForecastBand,
    LossPoint,
    Marker,
    ModelInfo,
)
from feecast_demo.timeline import Timeline

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
TARGET = AVG_FEE


@dataclass
class DemoOptions:
    history_days: float = 3.0
    drift_at: float = 3.0  # hours after production
    seed: int = 7
    approve: bool = True  # False: stop and wait for a person (--no-approve)
    out: Path = Path("demo-report")
    fast: bool = False
    epochs: int | None = None  # default 20, --fast 8
    train_days: int | None = 1  # SSM target history_days for every build (None: keep 14)
    rate: float = 0.5  # synthetic transactions per second
    fee_multiplier: float = 4.0  # the regime change: fees x this per hour ...
    drift_steps: int = 3  # ... for this many hours, then they hold
    alarm_hours: float = 8.0  # longest wait for the alarm after the drift
    recovery_hours: float = 3.0  # hours of monitoring the new model
    step_minutes: int = 5  # clock step while monitoring (the collector still runs every minute)
    start: datetime = datetime(2026, 1, 5, tzinfo=UTC)
    verbose: bool = False
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    human_port: int = 0  # --no-approve: port of the served twin (0: any free one)

    @property
    def training_epochs(self) -> int:
        return self.epochs if self.epochs is not None else (8 if self.fast else 20)


class PhaseFailed(RuntimeError):
    """A phase did not see what it expects; the message says what was seen."""


class StoppedForPerson(RuntimeError):
    """--no-approve and nobody decided."""


class Scenario:
    PHASES = (
        ("stack", "Deploy the stack on the twin"),
        ("history", "Ingest the history (synthetic transactions, `feecast ingest replay`)"),
        ("build", "Build the first model (`feecast build`)"),
        ("staging", "A person approves the model package -> staging, smoke test"),
        ("production", "A person approves the promotion (`feecast approve`) -> production"),
        ("monitoring", "Hourly monitoring while fees behave"),
        ("alarm", "Fees change regime -> the accuracy alarm"),
        ("rebuild", "The alarm starts exactly one rebuild"),
        ("redeploy", "The new model is approved -> staging -> production"),
        ("recovery", "The loss is back under the threshold"),
    )

    def __init__(self, options: DemoOptions, out: TextIO | None = None) -> None:
        self.o = options
        self.out = out or sys.stdout
        self.run = DemoRun(options=_options_dict(options))
        for key, title in self.PHASES:
            self.run.add_phase(key, title)
        self.twin: Any = None
        self.timeline: Timeline | None = None
        self.feed: SyntheticFeed | None = None
        self.workdir = Path(tempfile.mkdtemp(prefix="feecast-demo-"))
        self.production_at: datetime | None = None
        self.drift_at: datetime | None = None
        self.alarm_at: datetime | None = None
        self.approved_at: dict[int, datetime] = {}
        self._server_url: str | None = None

    # ================================================================== driver
    def execute(self, *, close: bool = True) -> DemoRun:
        """Run every phase (stopping at the first failure); with close=False the twin stays
        deployed for the caller to inspect (tests assert from its records), then call close()."""
        self.run.started_at = datetime.now(UTC)
        self._say(
            f"feecast demo: {self.o.history_days:g} days of history, drift {self.o.drift_at:g} h "
            f"after production, seed {self.o.seed}, {self.o.training_epochs} epoch(s)"
        )
        try:
            for key, _title in self.PHASES:
                if not self._phase(key, getattr(self, f"_phase_{key}")):
                    break
        except KeyboardInterrupt:
            self._say("interrupted: writing the report of what happened so far")
        finally:
            try:
                if self.twin is not None and self.twin.stack is not None:
                    self._collect()
            except Exception as exc:
                self._say(f"could not collect the run's data: {type(exc).__name__}: {exc}")
                if self.o.verbose:
                    traceback.print_exc()
            if close:
                self.close()
        self.run.wall_seconds = self.run.wall()
        return self.run

    def _phase(self, key: str, fn: Callable[[], str]) -> bool:
        phase = self.run.phase(key)
        phase.status = RUNNING
        phase.sim_start = self._now()
        phase.wall_start = self.run.wall()
        self._note("phase", f"== {phase.title}")
        try:
            phase.detail = fn()
            phase.status = OK
        except PhaseFailed as exc:
            phase.status, phase.detail = FAILED, str(exc)
        except StoppedForPerson as exc:
            phase.status, phase.detail = WAITING, str(exc)
        except Exception as exc:
            phase.status, phase.detail = FAILED, f"{type(exc).__name__}: {exc}"
            if self.o.verbose:
                traceback.print_exc()
        phase.sim_end = self._now()
        phase.wall_end = self.run.wall()
        self._note("phase", f"-- {phase.status.upper()}: {phase.detail}")
        return phase.status == OK

    # ================================================================== phases
    def _phase_stack(self) -> str:
        from feecast_twin.core import Twin

        self.feed = SyntheticFeed(
            seed=self.o.seed,
            rate_per_second=self.o.rate,
            lookback_seconds=(self.o.step_minutes + 2) * 60,
        ).start()
        overrides = {
            "IngestSourceUrl": self.feed.url,
            "IngestPollsPerRun": "1",
            "IngestPollIntervalSeconds": "0",
            # The demo lives in hours: the accuracy alarm fires on the first hour above the
            # threshold (the template's default is 2 in a row).
            "AccuracyAlarmBreaches": "1",
            **self.o.parameter_overrides,
        }
        self.twin = Twin(parameter_overrides=overrides, start=self.o.start)
        self.twin.deploy()
        self.run.sim_started = self._now()
        self.run.phase("stack").sim_start = self.run.sim_started
        self.timeline = Timeline(
            self.twin, out=self.out, verbose=self.o.verbose, wall=self.run.wall
        )
        self.timeline.start()
        if self.twin.missing_components:
            raise PhaseFailed(
                f"the twin is incomplete: missing components {self.twin.missing_components}"
            )
        # Listed, not fatal: a later phase fails if the lifecycle needed one of them.
        not_emulated = [f"{lid} ({rtype})" for lid, rtype in self.twin.unknown_resources]
        if not_emulated:
            self._note("warning", "not emulated by the twin: " + ", ".join(not_emulated))
        # An operator tunes the training in SSM (no redeploy): few epochs keep the demo short.
        name = "/feecast/hyperparameters"
        ssm = self.twin.client("ssm")
        hyper = json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])
        hyper.update(epochs=self.o.training_epochs, early_stopping_patience=self.o.training_epochs)
        self._note(
            "operator",
            f"$ aws ssm put-parameter --name {name} --overwrite (epochs={self.o.training_epochs})",
        )
        ssm.put_parameter(Name=name, Value=json.dumps(hyper), Type="String", Overwrite=True)
        if self.o.train_days:
            # Builds read the last `history_days` of minutes: one day lets a rebuild learn
            # a regime a few hours old.
            name = "/feecast/target"
            target = json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])
            target["history_days"] = self.o.train_days
            self._note(
                "operator",
                f"$ aws ssm put-parameter --name {name} --overwrite (history_days={self.o.train_days})",
            )
            ssm.put_parameter(Name=name, Value=json.dumps(target), Type="String", Overwrite=True)
            # The backtest must fit in that history: hold out half of it (12 hours: 24
            # windows, where the template's two weeks give 336). Models trained for seconds on
            # half a day rarely beat naive, so the gate is loosened to let the lifecycle go on:
            # the report says plainly how each model compares (summary.md, "Models"). The alarm
            # keeps the template's complete 6-hour pool (and fires on the first hour above the
            # threshold: AccuracyAlarmBreaches=1 at deploy).
            name = "/feecast/validation"
            validation = json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])
            validation.update(
                backtest_days=self.o.train_days / 2,
                naive_margin=-2.0,
                production_tolerance=1.0,
            )
            self._note(
                "operator",
                f"$ aws ssm put-parameter --name {name} --overwrite "
                f"(backtest_days={validation['backtest_days']:g}, naive_margin=-2, "
                "production_tolerance=1: the demo's models train for seconds on half a day)",
            )
            ssm.put_parameter(
                Name=name, Value=json.dumps(validation), Type="String", Overwrite=True
            )
        self._threshold("template default")
        return (
            f"{len(self.twin.stack.physical)} resources on moto"
            + (f" ({len(not_emulated)} not emulated)" if not_emulated else "")
            + f"; the collector polls the synthetic feed at {self.feed.url}"
        )

    def _phase_history(self) -> str:
        assert self.twin is not None
        start = self._now() - timedelta(days=self.o.history_days)
        path = self.workdir / "history.jsonl"
        self._cli(
            "ingest",
            "synthetic",
            str(path),
            "--start",
            _z(start),
            "--days",
            f"{self.o.history_days:g}",
            "--rate",
            f"{self.o.rate:g}",
            "--seed",
            str(self.o.seed),
        )
        lines = sum(1 for _ in path.open())
        _, text = self._cli("ingest", "replay", str(path), "--flush", "--json")
        report = _json_or_none(text) or {}
        # The offline store writes its Parquet files as time passes (it lags ingestion).
        self.twin.advance(MINUTE)
        series = self._minutes(start, start + timedelta(days=self.o.history_days))
        expected = len(series)
        if series.observed_count < 0.9 * expected:
            raise PhaseFailed(
                f"only {series.observed_count} of {expected} minutes reached the feature store "
                f"from {lines} transactions (replay said {report})"
            )
        return (
            f"{lines} synthetic transactions -> {series.observed_count}/{expected} minutes in "
            f"the feature store (replay closed {report.get('minutes_closed', '?')} minutes in "
            f"{report.get('seconds', '?')} s)"
        )

    def _phase_build(self) -> str:
        _, text = self._cli("build", "--json")
        start = _json_or_none(text) or {}
        arn = start.get("execution_arn")
        if not arn:
            raise PhaseFailed(f"`feecast build` did not start a build: {text.strip()[:300]}")
        desc = self._wait_execution(arn, limit=timedelta(hours=3))
        if desc["status"] != "SUCCEEDED":
            raise PhaseFailed(
                f"build {desc['status']}: {desc.get('error')} {desc.get('cause', '')[:300]}"
            )
        model = self._package_of_build(arn)
        if model is None:
            raise PhaseFailed(
                "the build succeeded but registered no model package (gate rejected?)"
            )
        return (
            f"model package v{model.version} PendingManualApproval: backtest of "
            f"{model.windows} windows, loss {_f(model.loss)} vs naive {_f(model.baseline_loss)}: "
            f"{model.naive_verdict or 'not compared'} (alarm threshold {_f(model.alarm_threshold)})"
        )

    def _phase_staging(self) -> str:
        return self._approve_package_and_stage(1)

    def _phase_production(self) -> str:
        return self._promote(1)

    def _phase_monitoring(self) -> str:
        assert self.production_at is not None and self.feed is not None
        # On the hour: monitoring scores [H-60, H-30) at each hour H, so each step of the climb
        # lands at the start of a scored window.
        drift = self.production_at + timedelta(hours=self.o.drift_at)
        self.drift_at = drift.replace(minute=0, second=0, microsecond=0)
        if self.drift_at < drift:
            self.drift_at += HOUR
        self.feed.set_regime_change(self.drift_at, self.o.fee_multiplier, self.o.drift_steps)
        self._advance_to(self.drift_at)
        losses = self._losses("production")
        if not losses:
            raise PhaseFailed(
                f"no WeightedQuantileLoss published for production in {self.o.drift_at:g} h"
            )
        alarm = self._alarm_state("production")
        if alarm == "ALARM":
            raise PhaseFailed("the production alarm went off before the fees changed")
        return (
            f"{len(losses)} hourly losses: "
            + ", ".join(_f(v) for _, v in losses)
            + f"; alarm {alarm}"
        )

    def _phase_alarm(self) -> str:
        assert self.drift_at is not None
        self._note(
            "drift",
            f"from {self.drift_at:%H:%M} fees climb x{self.o.fee_multiplier:g} per hour for "
            f"{self.o.drift_steps} hours, then hold (synthetic regime change)",
        )
        deadline = self.drift_at + timedelta(hours=self.o.alarm_hours)
        fired = self._advance_until(lambda: self._alarm_state("production") == "ALARM", deadline)
        if not fired:
            losses = self._losses("production")
            raise PhaseFailed(
                f"no ALARM within {self.o.alarm_hours:g} h of the drift; production losses "
                + ", ".join(_f(v) for _, v in losses[-6:])
            )
        self.alarm_at = self._now()
        hours = (self.alarm_at - self.drift_at).total_seconds() / 3600
        return f"feecast-production-accuracy ALARM {hours:.1f} h after the drift"

    def _phase_rebuild(self) -> str:
        assert self.alarm_at is not None
        started = self._await(lambda: self._builds(trigger="alarm"), timedelta(minutes=30))
        builds = self._builds(trigger="alarm")
        if not started or not builds:
            raise PhaseFailed("the alarm started no build")
        if len(builds) != 1:
            raise PhaseFailed(
                f"the alarm started {len(builds)} builds: {[b['name'] for b in builds]}"
            )
        desc = self._wait_execution(builds[0]["arn"], limit=timedelta(hours=3))
        if desc["status"] != "SUCCEEDED":
            raise PhaseFailed(
                f"rebuild {desc['status']}: {desc.get('error')} {desc.get('cause', '')[:300]}"
            )
        model = self._package_of_build(builds[0]["arn"])
        if model is None:
            raise PhaseFailed("the rebuild registered no model package (the gate rejected it?)")
        again = self._builds(trigger="alarm")
        if len(again) != 1:
            raise PhaseFailed(f"{len(again)} alarm builds after the rebuild ended")
        return (
            f"one build ({builds[0]['name']}) -> v{model.version}: loss {_f(model.loss)} vs naive "
            f"{_f(model.baseline_loss)}"
        )

    def _phase_redeploy(self) -> str:
        version = max(m.version for m in self.run.models)
        staged = self._approve_package_and_stage(version)
        promoted = self._promote(version)
        return f"{staged}; {promoted}"

    def _phase_recovery(self) -> str:
        assert self.production_at is not None and self.drift_at is not None
        since = self.production_at
        # The alarm may fire before the fees stop climbing (3 breaches can include one before
        # the drift): score the new model from the first hour after the climb has settled.
        settled = max(since, self.drift_at + timedelta(hours=self.o.drift_steps)) + HOUR
        deadline = settled + timedelta(hours=self.o.recovery_hours)

        def recovered() -> bool:
            after = [(t, v) for t, v in self._losses("production") if t >= settled]
            threshold = self._threshold_value()
            return bool(after) and threshold is not None and after[-1][1] <= threshold

        ok = self._advance_until(recovered, deadline)
        # Keep monitoring to the end of the window: the picture shows the recovery holding.
        self._advance_to(deadline)
        after = [(t, v) for t, v in self._losses("production") if t > since]
        threshold = self._threshold_value()
        alarm_builds = self._builds(trigger="alarm")
        if len(alarm_builds) != 1:
            raise PhaseFailed(
                f"{len(alarm_builds)} builds started by the alarm (expected exactly one)"
            )
        if not ok:
            raise PhaseFailed(
                f"the new model's hourly losses {[_f(v) for _, v in after]} stay above the "
                f"threshold {_f(threshold)}"
            )
        return (
            f"v{self._serving('production')} hourly losses "
            + ", ".join(_f(v) for _, v in after)
            + f" vs threshold {_f(threshold)}; alarm {self._alarm_state('production')}; "
            "still exactly one alarm build"
        )

    # ================================================================== approvals
    def _approve_package_and_stage(self, version: int) -> str:
        model = self.run.model(version)
        if model is None:
            raise PhaseFailed(f"no model package v{version} to approve")
        if self.o.approve:
            # What a person runs (or clicks in the Studio model registry).
            self._cli(
                "approve",
                "--package",
                str(version),
                "--comment",
                "approved in the demo",
            )
        else:
            self._wait_for_person(
                f"model package v{version} waits in the registry. Approve it:",
                [
                    f"feecast --endpoint-url {{url}} --region {self.twin.region} approve --package {version}"
                ],
                lambda: self._package_status(model.package_arn) != "PendingManualApproval",
            )
            if self._package_status(model.package_arn) != "Approved":
                raise PhaseFailed(
                    f"model package v{version} was {self._package_status(model.package_arn)}"
                )
        self.approved_at[version] = self._now()
        model.approved_at = self._now()
        model.status = "Approved"
        waiting = self._await(lambda: self._pending_approval(version), timedelta(hours=2))
        if not waiting:
            deploys = self._executions("ModelDeployStateMachine")
            raise PhaseFailed(
                f"no production approval requested for v{version} within 2 h; deploy executions: "
                + ", ".join(f"{d['name']}={d['status']}" for d in deploys[-3:])
            )
        model.staging_at = self._deployed_at("staging", version) or self._now()
        self._threshold(f"v{version} approved")
        endpoint = self._endpoint_status("staging")
        return f"staging {endpoint} with v{version}, smoke test passed, approval {waiting.approval_id} waits"

    def _promote(self, version: int) -> str:
        pending = self._pending_approval(version)
        if pending is None:
            raise PhaseFailed(f"no pending production approval for v{version}")
        if self.o.approve:
            code, text = self._cli("approve", pending.approval_id, "--comment", "looks good (demo)")
            if code != 0:
                raise PhaseFailed(
                    f"`feecast approve {pending.approval_id}` exited {code}: {text.strip()[:300]}"
                )
        else:
            self._wait_for_person(
                f"model v{version} is on staging and waits for a person. Promote it:",
                [
                    f"feecast --endpoint-url {{url}} --region {self.twin.region} approve {pending.approval_id}",
                    f"(or reject: feecast --endpoint-url {{url}} --region {self.twin.region} reject {pending.approval_id})",
                ],
                lambda: self._pending_approval(version) is None,
            )
        done = self._await(lambda: self._serving("production") == version, timedelta(hours=2))
        if not done:
            raise PhaseFailed(
                f"production does not serve v{version} 2 h after the approval (serves "
                f"v{self._serving('production')}; endpoint {self._endpoint_status('production')})"
            )
        self._await(lambda: not self._running("ModelDeployStateMachine"), timedelta(hours=1))
        self.production_at = self._deployed_at("production", version) or self._now()
        model = self.run.model(version)
        if model is not None:
            model.production_at = self.production_at
        self._threshold(f"v{version} in production")
        return f"production {self._endpoint_status('production')} with v{version}"

    def _wait_for_person(self, what: str, commands: list[str], done: Callable[[], bool]) -> None:
        """--no-approve: serve the twin on 127.0.0.1, print the commands, run the clock till done."""
        url = self._serve()
        self._say("")
        self._say(f">>> {what}")
        for command in commands:
            self._say(f">>>   {command.format(url=url)}")
        self._say(
            ">>> (any credentials work: AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing)"
        )
        self._say(
            ">>> the demo keeps the twin's clock running (a minute per second) until you decide; Ctrl-C stops"
        )
        self._say("")
        try:
            while not done():
                self.twin.advance(MINUTE)
                time.sleep(1.0)
        except KeyboardInterrupt:
            raise StoppedForPerson("stopped while waiting for a person's decision") from None

    def _serve(self) -> str:
        if self._server_url is None:
            from feecast_twin.cli import free_port

            # The twin's own front door on a port a person can type (the twin stops it).
            self._server_url = self.twin.serve_on("127.0.0.1", self.o.human_port or free_port())
        return self._server_url

    # ================================================================== the operator's tools
    def _cli(self, *argv: str) -> tuple[int, str]:
        """Run `feecast ...` in this process (on the twin); its output goes to the timeline."""
        from feecast_cli.main import main as cli_main

        self._note("operator", "$ feecast " + " ".join(shlex.quote(a) for a in argv))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = int(cli_main(list(argv)) or 0)
            except SystemExit as exc:
                code = int(exc.code or 0) if not isinstance(exc.code, str) else 2
        text = out.getvalue()
        shown = text.strip().splitlines()
        for line in shown[:6] if not _json_or_none(text) else [_one_line(text)]:
            self._note("", f"  {line}")
        if code != 0:
            raise PhaseFailed(
                f"`feecast {' '.join(argv)}` exited {code}: {err.getvalue().strip()[:400]}"
            )
        return code, text

    # ================================================================== clock helpers
    def _now(self) -> datetime:
        return self.twin.clock.now() if self.twin is not None else datetime.now(UTC)

    def _advance_to(self, when: datetime) -> None:
        step = timedelta(minutes=self.o.step_minutes)
        while self._now() < when:
            self.twin.advance(min(step, when - self._now()))

    def _advance_until(self, predicate: Callable[[], Any], deadline: datetime) -> Any:
        step = timedelta(minutes=self.o.step_minutes)
        while True:
            result = predicate()
            if result or self._now() >= deadline:
                return result
            self.twin.advance(min(step, deadline - self._now()))

    def _await(self, predicate: Callable[[], Any], limit: timedelta) -> Any:
        """Minute by minute (deployments react within minutes) until predicate() or the limit."""
        deadline = self._now() + limit
        while True:
            self.twin.settle()
            result = predicate()
            if result or self._now() >= deadline:
                return result
            self.twin.advance(MINUTE)

    def _wait_execution(self, arn: str, limit: timedelta) -> dict[str, Any]:
        sfn = self.twin.client("stepfunctions")
        finished = self._await(
            lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", limit
        )
        desc = sfn.describe_execution(executionArn=arn)
        if not finished:
            raise PhaseFailed(f"{arn.rsplit(':', 1)[-1]} still RUNNING after {limit}")
        return dict(desc)

    # ================================================================== reading the twin
    def _minutes(self, start: datetime, end: datetime) -> Any:
        from feecast.adapters.feature_history import read_minutes

        return read_minutes(self.twin.outputs["FeatureGroupName"], start, end, TARGET)

    def _executions(self, logical_id: str) -> list[dict[str, Any]]:
        sfn = self.twin.client("stepfunctions")
        arn = self.twin.physical_id(logical_id)
        out = []
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
            for ex in page["executions"]:
                out.append(
                    {
                        "name": ex["name"],
                        "arn": ex["executionArn"],
                        "status": ex["status"],
                        "start": as_utc(ex.get("startDate")),
                        "stop": as_utc(ex.get("stopDate")),
                        "trigger": ex["name"].split("-", 1)[0],
                    }
                )
        return sorted(out, key=lambda e: e["start"] or datetime.min.replace(tzinfo=UTC))

    def _builds(self, trigger: str | None = None) -> list[dict[str, Any]]:
        builds = self._executions("ModelBuildStateMachine")
        return [b for b in builds if trigger is None or b["trigger"] == trigger]

    def _running(self, logical_id: str) -> list[dict[str, Any]]:
        return [e for e in self._executions(logical_id) if e["status"] == "RUNNING"]

    def _packages(self) -> list[dict[str, Any]]:
        sm = self.twin.client("sagemaker")
        group = self.twin.outputs["ModelPackageGroupName"]
        found = sm.list_model_packages(ModelPackageGroupName=group, MaxResults=100)
        return [
            sm.describe_model_package(ModelPackageName=p["ModelPackageArn"])
            for p in found.get("ModelPackageSummaryList", [])
        ]

    def _package_status(self, arn: str) -> str:
        return str(
            self.twin.client("sagemaker").describe_model_package(ModelPackageName=arn)[
                "ModelApprovalStatus"
            ]
        )

    def _package_of_build(self, execution_arn: str) -> ModelInfo | None:
        for package in self._packages():
            meta = package.get("CustomerMetadataProperties") or {}
            generated = (package.get("MetadataProperties") or {}).get("GeneratedBy")
            if execution_arn not in (meta.get("execution_arn"), generated):
                continue
            model = _model_info(package)
            if self.run.model(model.version) is None:
                self.run.models.append(model)
                self.run.models.sort(key=lambda m: m.version)
            return self.run.model(model.version)
        return None

    def _pending_approval(self, version: int) -> Any:
        from feecast.adapters.state_table import StateTable
        from feecast.deploy import approvals

        for pending in approvals.list_pending(StateTable(self.twin.outputs["StateTableName"])):
            if pending.version == version:
                return pending
        return None

    def _serving(self, stage: str) -> int | None:
        from feecast.adapters.state_table import StateTable
        from feecast.deploy import outcome

        current = outcome.current(StateTable(self.twin.outputs["StateTableName"]), stage)
        return current.version if current else None

    def _deployed_at(self, stage: str, version: int) -> datetime | None:
        from feecast.adapters.state_table import StateTable
        from feecast.deploy import outcome

        for record in outcome.history(StateTable(self.twin.outputs["StateTableName"]), stage):
            if record.version == version:
                return as_utc(record.deployed_at)
        return None

    def _endpoint_status(self, stage: str) -> str:
        name = self.twin.outputs[f"{stage.capitalize()}EndpointName"]
        try:
            return str(
                self.twin.client("sagemaker").describe_endpoint(EndpointName=name)["EndpointStatus"]
            )
        except Exception:
            return "absent"

    def _alarm_state(self, stage: str) -> str | None:
        name = f"feecast-{stage}-accuracy"
        alarms = self.twin.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
        return alarms[0]["StateValue"] if alarms else None

    def _losses(
        self, stage: str, metric: str = "WeightedQuantileLoss"
    ) -> list[tuple[datetime, float]]:
        endpoint = self.twin.outputs[f"{stage.capitalize()}EndpointName"]
        return self.twin.metric_data("feecast", metric, {"Stage": stage, "EndpointName": endpoint})

    def _threshold_value(self) -> float | None:
        try:
            raw = self.twin.client("ssm").get_parameter(Name="/feecast/validation")
            return float(json.loads(raw["Parameter"]["Value"])["threshold"])
        except Exception:
            return None

    def _threshold(self, why: str) -> None:
        value = self._threshold_value()
        if value is None:
            return
        if not self.run.thresholds or abs(self.run.thresholds[-1][1] - value) > 1e-12:
            if self.run.thresholds:
                self._note(
                    "threshold",
                    f"threshold {self.run.thresholds[-1][1]:.4f} -> {value:.4f} ({why})",
                )
            self.run.thresholds.append((self._now(), value, why))

    # ================================================================== the report's data
    def _collect(self) -> None:
        run = self.run
        run.sim_ended = self._now()
        if self.timeline is not None:
            self.timeline.flush()
        # The whole fee series, as the feature store has it.
        start = self.o.start - timedelta(days=self.o.history_days)
        try:
            series = self._minutes(start, run.sim_ended)
            run.series_start = series.start
            run.series = [float(v) for v in series.values]
        except Exception as exc:
            self._say(f"(fee series not read: {exc})")
        for stage in ("staging", "production"):
            baseline = dict(self._losses(stage, "BaselineWeightedQuantileLoss"))
            thresholds = dict(self._losses(stage, "Threshold"))
            for when, value in self._losses(stage):
                run.losses.append(
                    LossPoint(when, stage, value, baseline.get(when), thresholds.get(when))
                )
        run.builds = self._builds()
        for build in run.builds:
            if build["start"]:
                run.markers.append(Marker(build["start"], "build-start", build["trigger"]))
        for record in self.twin.records_of("alarm"):
            if record.get("state") == "ALARM" and str(record.get("name", "")).endswith(
                "production-accuracy"
            ):
                run.markers.append(Marker(record.time, "alarm", "ALARM"))
        if self.drift_at is not None:
            run.markers.append(
                Marker(
                    self.drift_at,
                    "drift",
                    f"fees x{self.o.fee_multiplier:g}/h for {self.o.drift_steps} h",
                )
            )
        from feecast.adapters.state_table import StateTable
        from feecast.deploy import outcome

        table = StateTable(self.twin.outputs["StateTableName"])
        for stage in ("staging", "production"):
            for record in outcome.history(table, stage):
                when = as_utc(record.deployed_at)
                if when is not None:
                    run.markers.append(Marker(when, stage, f"v{record.version}"))
                    model = run.model(record.version)
                    if model is not None and stage == "production" and model.production_at is None:
                        model.production_at = when
        for package in self._packages():
            info = _model_info(package)
            known = run.model(info.version)
            if known is None:
                run.models.append(info)
            else:
                known.status = info.status
        run.models.sort(key=lambda m: m.version)
        run.forecasts = self._stored_forecasts()
        from feecast_demo.report import fill_monitoring_losses

        fill_monitoring_losses(run)

    def _stored_forecasts(self) -> list[ForecastBand]:
        """The forecasts the hourly monitoring stored (FORECAST#<endpoint>), one band each."""
        ddb = self.twin.client("dynamodb")
        endpoint = self.twin.outputs["ProductionEndpointName"]
        out = []
        kwargs: dict[str, Any] = {
            "TableName": self.twin.outputs["StateTableName"],
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"FORECAST#{endpoint}"}},
        }
        items = ddb.query(**kwargs).get("Items", [])
        for item in items:
            try:
                origin = as_utc(item["sk"]["S"].removeprefix("ORIGIN#"))
                forecast = json.loads(item["forecast"]["S"])
                quantiles = forecast.get("quantiles") or {}
                levels = sorted(quantiles, key=float)
                config = item.get("endpoint_config_name", {}).get("S", "")
                match = re.search(r"-v(\d+)-", config)
                if origin is None or not levels or not match:
                    continue
                median = quantiles.get("0.5") or forecast.get("mean")
                lo, hi = levels[0], levels[-1]
                width = round((float(hi) - float(lo)) * 100)
                out.append(
                    ForecastBand(
                        version=int(match.group(1)),
                        start=origin,
                        median=[float(v) for v in median],
                        lower=[float(v) for v in quantiles[lo]],
                        upper=[float(v) for v in quantiles[hi]],
                        interval=f"{width}%",
                        source="production",
                    )
                )
            except (KeyError, ValueError, TypeError):
                continue
        return sorted(out, key=lambda b: b.start)

    # ================================================================== output
    def _say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _note(self, tag: str, text: str) -> None:
        if self.timeline is not None:
            self.timeline.note(tag, text)
        else:
            self._say(f"{'':17}{tag:<9} {text}")

    def close(self) -> None:
        if self.timeline is not None:
            self.timeline.stop()
        if self.twin is not None:
            with contextlib.suppress(Exception):
                self.twin.close()
        if self.feed is not None:
            self.feed.stop()
        # The history file (MBs per run) is the scenario's own scratch: the report is in `out`.
        shutil.rmtree(self.workdir, ignore_errors=True)


# ====================================================================== small helpers
def _model_info(package: dict[str, Any]) -> ModelInfo:
    meta = package.get("CustomerMetadataProperties") or {}
    arn = package["ModelPackageArn"]
    return ModelInfo(
        version=int(package.get("ModelPackageVersion") or arn.rsplit("/", 1)[-1]),
        package_arn=arn,
        trigger=str(meta.get("trigger", "")),
        build_execution=str(meta.get("execution_arn", "")).rsplit(":", 1)[-1],
        loss=_float(meta.get("mean_wql")),
        baseline_loss=_float(meta.get("baseline_wql")),
        robust_loss=_float(meta.get("robust_wql")),
        windows=int(meta["backtest_windows"])
        if meta.get("backtest_windows", "").isdigit()
        else None,
        ratio_to_naive=_float(meta.get("ratio_to_naive")),
        naive_ci=_pair(meta.get("ratio_to_naive_ci95_low"), meta.get("ratio_to_naive_ci95_high")),
        windows_won=_float(meta.get("windows_won_vs_naive")),
        ratio_to_robust=_float(meta.get("ratio_to_robust")),
        robust_ci=_pair(
            meta.get("ratio_to_robust_ci95_low"), meta.get("ratio_to_robust_ci95_high")
        ),
        naive_verdict=str(meta.get("naive_verdict", "")),
        alarm_threshold=_float(meta.get("alarm_threshold")),
        status=str(package.get("ModelApprovalStatus", "")),
        registered_at=as_utc(package.get("CreationTime")),
    )


def _pair(low: Any, high: Any) -> tuple[float, float] | None:
    a, b = _float(low), _float(high)
    return None if a is None or b is None else (a, b)


def _float(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def _one_line(text: str, limit: int = 160) -> str:
    data = _json_or_none(text)
    flat = json.dumps(data, separators=(", ", "=")) if data is not None else " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _options_dict(options: DemoOptions) -> dict[str, Any]:
    out = asdict(options)
    out["out"] = str(options.out)
    out["start"] = options.start.isoformat()
    out["epochs"] = options.training_epochs
    return out


__all__ = ["DemoOptions", "PhaseFailed", "Scenario"]
