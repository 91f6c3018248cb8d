"""What feecast costs on AWS per month, itemised per service, from template.yaml's defaults.

Pure Python, no AWS calls. `load_config()` reads the stack as `sam deploy` would create it (the
Parameters' defaults, or overrides like `--parameter-overrides`, and the resources: function
memory and timeouts, schedules, keys, alarms, tables). `estimate()` turns it into a monthly bill
with the workload assumptions in `Assumptions` and the eu-west-1 list prices of bench/cost_prices.py. The AWS free tier is NOT counted anywhere: the figures are what an account
that has used its free tier up pays.

    python -m bench.cost_docs                 # the itemised table for the defaults
    python -m bench.cost_docs --write-docs    # rewrite the generated tables of docs/cost.md
    python -m bench.cost_docs --check-docs    # exit 1 when docs/cost.md differs from the model

The workload is the seed system's (docs/cost.md): one series, one record per minute, hourly
monitoring of a staging and a production endpoint, a model build about once a week.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.cost_prices import price
from feecast_twin.intrinsics import load_yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

HOURS_PER_MONTH = 730.0  # AWS's own convention for monthly estimates
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
MINUTES_PER_MONTH = HOURS_PER_MONTH * 60
GOAL_USD = 60.0
SEED_USD = 480.0  # the original system's stated running cost (seed-system.md)


# ------------------------------------------------------------------------------ the stack
@dataclass(frozen=True)
class StackConfig:
    """What template.yaml deploys (defaults, or the given parameter overrides)."""

    parameters: dict[str, str]
    endpoint_type: str
    endpoint_instance_type: str
    instance_count: int  # ProductionInstanceCount: every provisioned endpoint (staging too)
    serverless_memory_mb: int
    teardown_staging: bool
    training_instance_type: str
    transform_instance_type: str
    spot_training: bool
    training_max_runtime_s: int
    scheduled_builds_per_month: float  # 0 when BuildScheduleState is DISABLED
    log_retention_days: int
    ingest_enabled: bool
    polls_per_run: int
    poll_interval_s: float
    collector_memory_mb: int
    collector_timeout_s: int
    memory_mb: dict[str, int]  # every function's MemorySize (Globals applied)
    lambda_tracing: bool
    state_machine_tracing: bool
    monitored_stages: tuple[str, ...]  # logical ids of the hourly monitoring schedules
    staging_schedules: tuple[str, ...]
    customer_managed_keys: int
    secrets: int
    template_alarms: int
    # CloudWatch bills an alarm per metric it reads: a metric math alarm over two metrics is two.
    alarm_metrics: int
    dashboards: int
    build_states: tuple[str, ...]
    deploy_states: tuple[str, ...]


def _bool(value: str) -> bool:
    return str(value).lower() == "true"


def _rate_per_month(expression: str) -> float:
    """Runs a month of a Scheduler rate() expression (cron: hourly only, what this stack uses)."""
    match = re.fullmatch(
        r"rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)", expression.strip()
    )
    if match:
        n, unit = int(match[1]), match[2].rstrip("s")
        hours = {"minute": n / 60, "hour": n, "day": 24 * n}[unit]
        return HOURS_PER_MONTH / hours
    if expression.strip() == "cron(0 * * * ? *)":
        return HOURS_PER_MONTH
    raise ValueError(f"cannot count the runs of schedule {expression!r}")


def _happy_path(definition: Mapping[str, Any], prefer: Mapping[str, str]) -> tuple[str, ...]:
    """States a successful execution enters, following Next and, at a Choice, `prefer`."""
    states = definition["States"]
    path: list[str] = []
    name: str | None = definition["StartAt"]
    while name is not None:
        if name not in states or name in path:
            raise ValueError(f"state {name!r} is missing or loops")
        path.append(name)
        state = states[name]
        if state["Type"] == "Choice":
            name = prefer.get(name, state.get("Default"))
        elif state.get("End") or state["Type"] in ("Succeed", "Fail"):
            name = None
        else:
            name = state["Next"]
    return tuple(path)


@functools.lru_cache(maxsize=8)
def _parsed(template: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    """template.yaml parsed once per version of the file (sensitivity reads it ~25 times)."""
    parsed: dict[str, Any] = load_yaml(template.read_text())
    return parsed


def load_config(
    template: Path = TEMPLATE, overrides: Mapping[str, str] | None = None
) -> StackConfig:
    """The stack template.yaml deploys with its defaults (and `overrides`, as sam deploy takes)."""
    stat = template.stat()
    doc = _parsed(template.resolve(), stat.st_mtime_ns, stat.st_size)  # read-only below
    declared = doc["Parameters"]
    params = {name: str(spec.get("Default", "")) for name, spec in declared.items()}
    for name, value in (overrides or {}).items():
        if name not in declared:
            raise KeyError(f"template.yaml has no parameter {name!r}")
        allowed = declared[name].get("AllowedValues")
        if allowed is not None and str(value) not in [str(a) for a in allowed]:
            raise ValueError(f"{name}={value!r} is not one of {allowed}")
        params[name] = str(value)

    resources = doc["Resources"]
    globals_fn = doc.get("Globals", {}).get("Function", {})
    memory: dict[str, int] = {}
    timeout: dict[str, int] = {}
    for logical_id, res in resources.items():
        if res["Type"] == "AWS::Serverless::Function":
            props = res.get("Properties", {})
            memory[logical_id] = int(props.get("MemorySize", globals_fn.get("MemorySize", 128)))
            timeout[logical_id] = int(props.get("Timeout", globals_fn.get("Timeout", 3)))
    collector = resources["CollectTransactionsFunction"]["Properties"]
    every_minute = collector["Events"]["EveryMinute"]["Properties"]
    if _rate_per_month(every_minute["ScheduleExpression"]) != MINUTES_PER_MONTH:
        raise ValueError("the collector is expected to run every minute")

    schedules = [
        lid
        for lid, res in resources.items()
        if res["Type"] == "AWS::Scheduler::Schedule"
        and res["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": ["MonitorEndpointFunction", "Arn"]}
    ]
    for lid in schedules:
        if _rate_per_month(resources[lid]["Properties"]["ScheduleExpression"]) != HOURS_PER_MONTH:
            raise ValueError(f"{lid} is expected to run hourly")
    # StartBuildFunction's BuildSchedule event takes both from these parameters.
    scheduled_builds = (
        _rate_per_month(params["BuildScheduleExpression"])
        if params["BuildScheduleState"] == "ENABLED"
        else 0.0
    )
    teardown = _bool(params["TeardownStagingAfterPromotion"])
    machines = {
        lid: json.loads((template.parent / res["Properties"]["DefinitionUri"]).read_text())
        for lid, res in resources.items()
        if res["Type"] == "AWS::Serverless::StateMachine"
    }
    sm_tracing = all(
        res["Properties"].get("Tracing", {}).get("Enabled", False)
        for res in resources.values()
        if res["Type"] == "AWS::Serverless::StateMachine"
    )

    def count(kind: str) -> int:
        return sum(1 for res in resources.values() if res["Type"] == kind)

    return StackConfig(
        parameters=params,
        endpoint_type=params["EndpointType"],
        endpoint_instance_type=params["EndpointInstanceType"],
        instance_count=int(params["ProductionInstanceCount"]),
        serverless_memory_mb=int(params["ServerlessMemorySizeInMB"]),
        teardown_staging=teardown,
        training_instance_type=params["TrainingInstanceType"],
        transform_instance_type=params["TransformInstanceType"],
        spot_training=_bool(params["UseSpotTraining"]),
        training_max_runtime_s=int(params["TrainingMaxRuntimeSeconds"]),
        scheduled_builds_per_month=scheduled_builds,
        log_retention_days=int(params["LogRetentionDays"]),
        ingest_enabled=params["IngestScheduleState"] == "ENABLED",
        polls_per_run=int(params["IngestPollsPerRun"]),
        poll_interval_s=float(params["IngestPollIntervalSeconds"]),
        collector_memory_mb=memory["CollectTransactionsFunction"],
        collector_timeout_s=timeout["CollectTransactionsFunction"],
        memory_mb=memory,
        lambda_tracing=str(globals_fn.get("Tracing", "PassThrough")) == "Active",
        state_machine_tracing=sm_tracing,
        monitored_stages=tuple(sorted(schedules)),
        staging_schedules=tuple(sorted(s for s in schedules if s.startswith("Staging"))),
        customer_managed_keys=count("AWS::KMS::Key"),
        secrets=count("AWS::SecretsManager::Secret"),
        template_alarms=count("AWS::CloudWatch::Alarm"),
        alarm_metrics=sum(
            max(1, sum(1 for q in res["Properties"].get("Metrics", []) if "MetricStat" in q))
            for res in resources.values()
            if res["Type"] == "AWS::CloudWatch::Alarm"
        ),
        dashboards=count("AWS::CloudWatch::Dashboard"),
        build_states=_happy_path(
            machines["ModelBuildStateMachine"],
            {"Is The Model Good Enough?": "Register The Model"},
        ),
        deploy_states=_happy_path(
            machines["ModelDeployStateMachine"],
            {
                "Is This A Rollback?": "Update The Threshold",
                "Did The Person Approve?": "Note The Approval",
                "Tear Down Staging?": "Tear Down Staging" if teardown else "Deployment Succeeded",
            },
        ),
    )


# --------------------------------------------------------------------------- assumptions
@dataclass(frozen=True)
class Assumptions:
    """The workload and the durations the template does not state. Each field's `why` is in
    ASSUMPTION_NOTES (docs/cost.md prints them)."""

    builds_per_month: float = 4.0
    packages_approved: float = 1.0
    poll_latency_s: float = 0.6
    poll_processing_s: float = 0.15
    close_s: float = 0.2
    collector_reserve_s: float = 15.0
    polled_minutes_per_poll: float = 1.5
    open_item_kb: float = 5.0
    closed_item_kb: float = 9.0
    ingest_ttl_days: float = 7.0
    monitor_run_s: float = 8.0
    monitor_online_reads: float = 90.0
    monitor_s3_gets: float = 150.0
    monitor_state_writes_kb: float = 9.0
    serverless_inference_s: float = 2.0
    serverless_cold_start_s: float = 30.0
    serverless_payload_kb: float = 100.0
    endpoint_update_h: float = 0.25
    approval_wait_h: float = 4.0
    training_billable_s: float = 1200.0
    spot_saving: float = 0.70
    transform_billable_s: float = 420.0
    transforms_per_build: float = 2.0
    prepare_s: float = 60.0
    evaluate_s: float = 10.0
    build_step_s: float = 3.0
    build_s3_gets: float = 2000.0
    deploy_invocations: float = 16.0
    deploy_step_s: float = 2.0
    smoke_test_s: float = 20.0
    offline_files_per_day: float = 150.0
    artifacts_mb_per_build: float = 20.0
    collector_log_kb: float = 2.5
    monitor_log_kb: float = 6.0
    other_log_kb: float = 2.0
    kms_requests: float = 10000.0
    notifications_per_build: float = 2.0
    event_metrics: float = 12.0


ASSUMPTION_NOTES: dict[str, str] = {
    "builds_per_month": "model builds a month without the (disabled) schedule: about one a week, "
    "from the accuracy alarm or `feecast build` (the retraining frequency)",
    "packages_approved": "share of builds whose package a person approves (each starts a deployment)",
    "poll_latency_s": "one HTTPS GET of blockchain.info's ~100 latest transactions from eu-west-1",
    "poll_processing_s": "validate, BatchGetItem and a conditional UpdateItem per touched minute "
    "(the twin replays ~13,700 tx/s, docs/ingest.md: CPU is negligible, calls dominate)",
    "close_s": "close one minute: UpdateItem, PutRecord, mark written",
    "collector_reserve_s": "the pipeline stops polling when less than this is left (RunPlan)",
    "polled_minutes_per_poll": "event-time minutes one poll's ~100 transactions span",
    "open_item_kb": "average size of an open minute's IngestTable item (grows to ~9 KB)",
    "closed_item_kb": "final size of a minute's item (400 transactions' 16-hex keys, and their "
    "fees as 8-byte integers for the median)",
    "ingest_ttl_days": "IngestTable items expire this long after their last count",
    "monitor_run_s": "one hourly monitoring run incl. its cold start (INIT billed since "
    "2025-08-01): a day of offline Parquet, the online minutes, one forecast",
    "monitor_online_reads": "online-store minutes one monitoring run reads (BatchGetRecord)",
    "monitor_s3_gets": "offline-store Parquet objects one monitoring run reads (a day)",
    "monitor_state_writes_kb": "StateTable/IdempotencyTable KB written per monitoring run "
    "(forecast, the window's score, idempotency)",
    "serverless_inference_s": "billed compute of one DeepAR request on a serverless endpoint",
    "serverless_cold_start_s": "cold start of a serverless endpoint (every hourly request is one): "
    "not billed by SageMaker, but the waiting monitor function is",
    "serverless_payload_kb": "request + response of one forecast",
    "endpoint_update_h": "hours a blue/green update runs two fleets (creation + 600 s bake)",
    "approval_wait_h": "hours a staged model waits for the person's approval (timeout: 24 h)",
    "training_billable_s": "billable seconds of one DeepAR training (182 epochs, ~20k minutes)",
    "spot_saving": "managed spot discount on training (AWS: up to 90%)",
    "transform_billable_s": "billable seconds of one batch transform: instance start-up plus "
    "144 backtest origins at ~0.4 s each",
    "transforms_per_build": "batch transforms per build: the candidate's backtest, and the same "
    "origins forecast by the model in production",
    "prepare_s": "Prepare The Data: 14 days of offline Parquet, one GetObject per file",
    "evaluate_s": "Evaluate The Model: naive and robust baselines and the bootstraps over 144 "
    "windows",
    "build_step_s": "each other build function (start, register, notify)",
    "build_s3_gets": "offline-store objects Prepare The Data reads",
    "deploy_invocations": "small function invocations of one deployment (threshold, deploy, "
    "waiters, endpoint events, approval link, record, teardown, monitoring activation)",
    "deploy_step_s": "duration of each of those",
    "smoke_test_s": "the staging smoke test (cold endpoint included)",
    "offline_files_per_day": "Parquet objects Feature Store writes a day to the offline store",
    "artifacts_mb_per_build": "training data, checkpoints, model, forecasts, evaluation (S3)",
    "collector_log_kb": "log bytes one collector run writes (START/END/REPORT, the run report, "
    "the EMF metrics blob)",
    "monitor_log_kb": "log bytes one monitoring run writes",
    "other_log_kb": "log bytes of any other invocation",
    "kms_requests": "requests to the two customer managed keys a month (log groups' data keys, "
    "encrypted notifications)",
    "notifications_per_build": "SNS messages per build (registered/rejected, deployment outcome)",
    "event_metrics": "EMF metrics published only on events (builds, deployments, retraining), "
    "each billed for the hours it is published",
}


def collector_run_seconds(
    polls: int,
    interval_s: float,
    timeout_s: float,
    latency_s: float,
    processing_s: float,
    close_s: float,
    reserve_s: float = 15.0,
) -> tuple[int, float]:
    """(polls made, billed seconds) of one collector run, as feecast.ingest.pipeline.run_ingest
    schedules them: poll i starts at i x interval after the start (sleeping in between), a poll
    is skipped when less than `reserve_s` would be left, then one minute is closed."""
    busy = latency_s + processing_s
    if interval_s <= 0:  # no schedule: the polls run back to back, no reserve check
        made, last_start = polls, (polls - 1) * busy
    else:
        made = 1
        while made < polls and timeout_s - made * interval_s >= reserve_s:
            made += 1
        # a poll starts on its slot, or when the previous one is done if that is later
        last_start = max((made - 1) * interval_s, (made - 1) * busy)
    return made, min(float(timeout_s), last_start + busy + close_s)


# ------------------------------------------------------------------------------ the bill
@dataclass(frozen=True)
class Line:
    service: str
    item: str
    quantity: float
    unit: str
    price_key: str
    usd: float


@dataclass
class Estimate:
    config: StackConfig
    assumptions: Assumptions
    lines: list[Line] = field(default_factory=list)
    facts: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    def by_service(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for line in self.lines:
            out[line.service] = out.get(line.service, 0.0) + line.usd
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def add(self, service: str, item: str, quantity: float, unit: str, price_key: str) -> None:
        self.lines.append(
            Line(service, item, quantity, unit, price_key, quantity * price(price_key))
        )


def _gb_s(seconds: float, memory_mb: float) -> float:
    return seconds * memory_mb / 1024


def estimate(
    overrides: Mapping[str, str] | None = None,
    *,
    assumptions: Assumptions | None = None,
    config: StackConfig | None = None,
    template: Path = TEMPLATE,
) -> Estimate:
    """The monthly bill of the stack (template.yaml + overrides, or `config`) on this workload."""
    cfg = config if config is not None else load_config(template, overrides)
    a = assumptions or Assumptions()
    est = Estimate(cfg, a)
    mem = cfg.memory_mb
    serverless = cfg.endpoint_type == "Serverless"

    builds = a.builds_per_month + cfg.scheduled_builds_per_month
    deploys = builds * a.packages_approved
    staging_schedules = len(cfg.staging_schedules)
    other_schedules = len(cfg.monitored_stages) - staging_schedules
    # Staging exists all month, or (teardown) from its deployment to the person's approval.
    staging_hours = (
        min(HOURS_PER_MONTH, deploys * (a.approval_wait_h + a.endpoint_update_h))
        if cfg.teardown_staging
        else HOURS_PER_MONTH
    )
    monitoring_runs = other_schedules * HOURS_PER_MONTH + staging_schedules * staging_hours
    endpoint_hours = {"production": HOURS_PER_MONTH * other_schedules, "staging": staging_hours}
    est.facts.update(
        builds=builds,
        deploys=deploys,
        staging_hours=staging_hours,
        monitoring_runs=monitoring_runs,
    )

    # -- SageMaker endpoints
    if serverless:
        requests = monitoring_runs + deploys  # one forecast per monitoring run, one smoke test
        est.add(
            "SageMaker endpoints",
            "serverless inference compute",
            _gb_s(requests * a.serverless_inference_s, cfg.serverless_memory_mb),
            "GB-s",
            "sm_serverless_gb_s",
        )
        est.add(
            "SageMaker endpoints",
            "serverless data processed",
            requests * a.serverless_payload_kb / 1024 / 1024,
            "GB",
            "sm_serverless_data_gb",
        )
    else:
        key = f"sm_hosting:{cfg.endpoint_instance_type}"
        for stage, hours in endpoint_hours.items():
            est.add(
                "SageMaker endpoints",
                f"{stage}: {cfg.instance_count} x {cfg.endpoint_instance_type}",
                hours * cfg.instance_count,
                "instance-h",
                key,
            )
        est.add(
            "SageMaker endpoints",
            "blue/green updates (two fleets during a deployment)",
            deploys * 2 * a.endpoint_update_h * cfg.instance_count,
            "instance-h",
            key,
        )

    # -- SageMaker training and batch transform (per build)
    train_s = min(a.training_billable_s, cfg.training_max_runtime_s)
    spot = (1 - a.spot_saving) if cfg.spot_training else 1.0
    est.add(
        "SageMaker training",
        f"DeepAR on {cfg.training_instance_type}"
        + (f", spot (-{a.spot_saving:.0%})" if cfg.spot_training else ""),
        builds * train_s / 3600 * spot,
        "instance-h",
        f"sm_training:{cfg.training_instance_type}",
    )
    est.add(
        "SageMaker batch transform",
        f"backtest forecasts (candidate and production) on {cfg.transform_instance_type}",
        builds * a.transforms_per_build * a.transform_billable_s / 3600,
        "instance-h",
        f"sm_transform:{cfg.transform_instance_type}",
    )

    # -- Lambda
    collector_runs = MINUTES_PER_MONTH if cfg.ingest_enabled else 0.0
    polls, run_s = collector_run_seconds(
        cfg.polls_per_run,
        cfg.poll_interval_s,
        cfg.collector_timeout_s,
        a.poll_latency_s,
        a.poll_processing_s,
        a.close_s,
        a.collector_reserve_s,
    )
    est.facts.update(collector_polls=polls, collector_run_s=run_s)
    monitor_s = a.monitor_run_s + (a.serverless_cold_start_s if serverless else 0.0)
    small = mem.get("StartBuildFunction", 512)
    lambda_parts = [
        ("collector (every minute)", collector_runs, run_s, cfg.collector_memory_mb),
        (
            "monitoring (hourly per stage)",
            monitoring_runs,
            monitor_s,
            mem["MonitorEndpointFunction"],
        ),
        ("build: prepare data", builds, a.prepare_s, mem["PrepareDataFunction"]),
        ("build: evaluate", builds, a.evaluate_s, mem["EvaluateModelFunction"]),
        ("build: other steps", builds * 3, a.build_step_s, small),
        (
            "deploy: smoke test",
            deploys,
            a.smoke_test_s + (a.serverless_cold_start_s if serverless else 0.0),
            mem["SmokeTestFunction"],
        ),
        ("deploy: other steps", deploys * a.deploy_invocations, a.deploy_step_s, small),
    ]
    invocations = 0.0
    for label, runs, seconds, memory_mb in lambda_parts:
        est.add(
            "Lambda",
            f"{label}: {runs:,.0f} x {seconds:g} s x {memory_mb} MB",
            _gb_s(runs * seconds, memory_mb),
            "GB-s",
            "lambda_gb_s",
        )
        invocations += runs
    est.add("Lambda", "requests", invocations, "requests", "lambda_request")
    est.facts["lambda_invocations"] = invocations

    # -- Step Functions
    transitions = builds * len(cfg.build_states) + deploys * len(cfg.deploy_states)
    est.add(
        "Step Functions",
        f"standard transitions ({len(cfg.build_states)} per build, "
        f"{len(cfg.deploy_states)} per deployment)",
        transitions,
        "transitions",
        "sfn_transition",
    )

    # -- DynamoDB (IngestTable: the hot path; StateTable, IdempotencyTable: a few items an hour)
    touched = collector_runs * polls * a.polled_minutes_per_poll
    ingest_wru = touched * math.ceil(a.open_item_kb) + collector_runs * 2 * math.ceil(
        a.closed_item_kb
    )
    ingest_rru = touched * math.ceil(a.open_item_kb / 4)
    state_wru = monitoring_runs * math.ceil(a.monitor_state_writes_kb) + (builds + deploys) * 20
    est.add(
        "DynamoDB",
        "IngestTable writes (conditional counts, close, mark written)",
        ingest_wru,
        "WRU",
        "ddb_wru",
    )
    est.add("DynamoDB", "IngestTable strongly consistent reads", ingest_rru, "RRU", "ddb_rru")
    est.add(
        "DynamoDB",
        "StateTable + IdempotencyTable writes (forecasts, idempotency, locks)",
        state_wru,
        "WRU",
        "ddb_wru",
    )
    est.add("DynamoDB", "StateTable + IdempotencyTable reads", state_wru / 2, "RRU", "ddb_rru")
    ingest_gb = (a.ingest_ttl_days * 1440 if cfg.ingest_enabled else 0) * a.closed_item_kb / 1024**2
    est.add(
        "DynamoDB",
        "storage (IngestTable, 7 days of minutes)",
        ingest_gb,
        "GB-month",
        "ddb_gb_month",
    )
    est.add(
        "DynamoDB",
        "point-in-time recovery (IngestTable, StateTable)",
        ingest_gb + 0.01,
        "GB-month",
        "ddb_pitr_gb_month",
    )

    # -- SageMaker Feature Store (online store; the offline store is S3 below)
    records = collector_runs  # one record a minute
    est.add(
        "SageMaker Feature Store",
        "PutRecord (1 record a minute, < 1 KB)",
        records,
        "WRU",
        "fs_write_unit",
    )
    est.add(
        "SageMaker Feature Store",
        "online reads (monitoring, builds, smoke tests)",
        monitoring_runs * a.monitor_online_reads + (builds + deploys) * 200,
        "RRU",
        "fs_read_unit",
    )
    est.add(
        "SageMaker Feature Store",
        "online storage (a year of minutes)",
        MINUTES_PER_MONTH * 12 * 0.5 / 1024**2,
        "GB-month",
        "fs_online_gb_month",
    )

    # -- S3 (artifact bucket: offline store, build artifacts; access-log bucket)
    est.add(
        "S3",
        "offline store writes (Parquet objects)",
        a.offline_files_per_day * 30.4,
        "PUT",
        "s3_put",
    )
    est.add(
        "S3",
        "reads (monitoring a day of Parquet each run, builds 14 days)",
        monitoring_runs * a.monitor_s3_gets + builds * a.build_s3_gets,
        "GET",
        "s3_get",
    )
    est.add("S3", "build artifacts writes", builds * 40, "PUT", "s3_put")
    est.add(
        "S3",
        "storage after a year (offline store, 12 months of artifacts, access logs)",
        (MINUTES_PER_MONTH * 12 * 1.0 / 1024**2)
        + builds * 12 * a.artifacts_mb_per_build / 1024
        + 1.0,
        "GB-month",
        "s3_gb_month",
    )

    # -- CloudWatch
    stage_hours = other_schedules * HOURS_PER_MONTH + staging_schedules * staging_hours
    ingest_metrics = 6 if cfg.ingest_enabled else 0  # TransactionsPolled ... SourceErrors
    # Per stage: WeightedQuantileLoss, BaselineWeightedQuantileLoss, Threshold (PutMetricData) and
    # MonitoringRuns, MissingActualMinutes, MonitoringForecastFailures (EMF): billed while published.
    metric_months = ingest_metrics + 6 * stage_hours / HOURS_PER_MONTH
    metric_months += a.event_metrics * (builds + deploys) / HOURS_PER_MONTH
    est.add(
        "CloudWatch",
        "custom metrics (6 ingest + 6 per monitored stage + event metrics)",
        metric_months,
        "metric-months",
        "cw_metric_month",
    )
    est.add(
        "CloudWatch",
        f"alarms ({cfg.template_alarms}, reading {cfg.alarm_metrics} metrics)",
        cfg.alarm_metrics,
        "alarm metrics",
        "cw_alarm_month",
    )
    est.add("CloudWatch", "lifecycle dashboard", cfg.dashboards, "dashboards", "cw_dashboard_month")
    est.add(
        "CloudWatch",
        "PutMetricData (one per monitoring run)",
        monitoring_runs,
        "requests",
        "cw_put_metric_request",
    )
    other_invocations = invocations - collector_runs - monitoring_runs
    log_gb = (
        collector_runs * a.collector_log_kb
        + monitoring_runs * a.monitor_log_kb
        + other_invocations * a.other_log_kb
    ) / 1024**2
    est.add(
        "CloudWatch",
        "log ingestion (functions; state machines log errors only)",
        log_gb,
        "GB",
        "cw_logs_ingest_gb",
    )
    est.add(
        "CloudWatch",
        f"log storage ({cfg.log_retention_days} days kept)",
        log_gb * cfg.log_retention_days / 30.4,
        "GB-month",
        "cw_logs_store_gb_month",
    )

    # -- KMS, Secrets Manager, SNS, SQS, EventBridge, API Gateway, X-Ray, SSM
    est.add(
        "KMS",
        f"customer managed keys ({cfg.customer_managed_keys})",
        cfg.customer_managed_keys,
        "keys",
        "kms_key_month",
    )
    est.add("KMS", "requests", a.kms_requests, "requests", "kms_request")
    est.add("Secrets Manager", "approval link key", cfg.secrets, "secrets", "secret_month")
    est.add(
        "Secrets Manager",
        "GetSecretValue (sign + verify per deployment)",
        deploys * 3,
        "calls",
        "secret_call",
    )
    notes = builds * a.notifications_per_build + 10
    est.add("SNS", "publishes (builds, deployments, alarms)", notes, "publishes", "sns_publish")
    est.add("SNS", "e-mail deliveries (one subscriber)", notes, "e-mails", "sns_email")
    est.add(
        "SQS", "dead-letter queues (empty unless something fails)", 0, "requests", "sqs_request"
    )
    est.add(
        "EventBridge",
        "Scheduler invocations (collector, monitoring, build schedule)",
        collector_runs + monitoring_runs + cfg.scheduled_builds_per_month,
        "invocations",
        "scheduler_invocation",
    )
    est.add(
        "EventBridge",
        "rules on AWS service events (approvals, endpoints, alarms)",
        deploys * 10,
        "events",
        "eventbridge_aws_event",
    )
    est.add(
        "API Gateway",
        "approval links (HTTP API: show + decide)",
        deploys * 2,
        "requests",
        "http_api_request",
    )
    traces = (invocations if cfg.lambda_tracing else 0.0) + (
        builds + deploys if cfg.state_machine_tracing else 0.0
    )
    est.add(
        "X-Ray", "traces recorded (all sampled: under 1 request/s)", traces, "traces", "xray_trace"
    )
    est.add(
        "SSM Parameter Store", "3 standard parameters", 3, "parameters", "ssm_standard_parameter"
    )
    return est


# --------------------------------------------------------------------------- sensitivity
@dataclass(frozen=True)
class Scenario:
    name: str
    overrides: dict[str, str] = field(default_factory=dict)
    assumption_changes: dict[str, float] = field(default_factory=dict)
    config_changes: dict[str, Any] = field(default_factory=dict)
    trade_off: str = ""


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("defaults (template.yaml)"),
    Scenario(
        "Serverless, 1024 MB",
        {"EndpointType": "Serverless", "ServerlessMemorySizeInMB": "1024"},
        trade_off="slower inference; DeepAR's memory need not measured",
    ),
    Scenario(
        "Serverless + teardown",
        {"EndpointType": "Serverless", "TeardownStagingAfterPromotion": "true"},
        trade_off="no staging endpoint between deployments (staging monitoring stops too)",
    ),
    Scenario(
        "EndpointType=Provisioned",
        {"EndpointType": "Provisioned"},
        trade_off="no cold starts; two always-on ml.m5.large instances (staging and production)",
    ),
    Scenario(
        "Provisioned + teardown",
        {"EndpointType": "Provisioned", "TeardownStagingAfterPromotion": "true"},
        trade_off="one always-on instance; no staging endpoint between deployments",
    ),
    Scenario(
        "Provisioned ml.c5.large",
        {"EndpointType": "Provisioned", "EndpointInstanceType": "ml.c5.large"},
        trade_off="4 GiB instead of 8 GiB of memory",
    ),
    Scenario(
        "Provisioned ml.c5.large + teardown",
        {
            "EndpointType": "Provisioned",
            "EndpointInstanceType": "ml.c5.large",
            "TeardownStagingAfterPromotion": "true",
        },
    ),
    Scenario(
        "Provisioned ml.m5.xlarge",
        {"EndpointType": "Provisioned", "EndpointInstanceType": "ml.m5.xlarge"},
    ),
    Scenario(
        "Provisioned, ProductionInstanceCount=2",
        {"EndpointType": "Provisioned", "ProductionInstanceCount": "2"},
        trade_off="canary traffic shifting; applies to staging too",
    ),
    Scenario(
        "IngestPollsPerRun=1",
        {"IngestPollsPerRun": "1"},
        trade_off="one sample of ~100 transactions a minute: misses most of them above ~2 tx/s",
    ),
    Scenario("IngestPollsPerRun=2", {"IngestPollsPerRun": "2"}),
    Scenario(
        "IngestPollIntervalSeconds=6",
        {"IngestPollIntervalSeconds": "6"},
        trade_off="4 polls in 18 s: the minute's second half is not sampled",
    ),
    Scenario(
        "collector MemorySize 128 MB",
        config_changes={"collector_memory_mb": 128},
        trade_off="less CPU for validation; not measured",
    ),
    Scenario("collector MemorySize 512 MB", config_changes={"collector_memory_mb": 512}),
    Scenario("1 build a month", assumption_changes={"builds_per_month": 1.0}),
    Scenario("daily builds (30 a month)", assumption_changes={"builds_per_month": 30.0}),
    Scenario("training without spot", {"UseSpotTraining": "false"}),
    Scenario("LogRetentionDays=365", {"LogRetentionDays": "365"}),
    Scenario("LogRetentionDays=7", {"LogRetentionDays": "7"}),
    Scenario(
        "X-Ray tracing off",
        config_changes={"lambda_tracing": False, "state_machine_tracing": False},
        trade_off="no traces (needs a template change: Globals Tracing)",
    ),
)


def run_scenario(scenario: Scenario, template: Path = TEMPLATE) -> Estimate:
    cfg = load_config(template, scenario.overrides)
    if scenario.config_changes:
        cfg = replace(cfg, **scenario.config_changes)
    assumptions = replace(Assumptions(), **scenario.assumption_changes)
    return estimate(config=cfg, assumptions=assumptions)


def sensitivity(template: Path = TEMPLATE) -> list[dict[str, Any]]:
    base = run_scenario(SCENARIOS[0], template).total
    rows = []
    for scenario in SCENARIOS:
        est = run_scenario(scenario, template)
        rows.append(
            {
                "scenario": scenario.name,
                "total_usd": round(est.total, 2),
                "delta_usd": round(est.total - base, 2),
                "under_goal": est.total < GOAL_USD,
                "trade_off": scenario.trade_off,
            }
        )
    return rows


# ------------------------------------------------------------------- the seed system
@dataclass(frozen=True)
class SeedItem:
    component: str
    quantity: float
    unit: str
    price_key: str
    feecast: str

    @property
    def usd(self) -> float:
        return self.quantity * price(self.price_key)


SEED_ITEMS: tuple[SeedItem, ...] = (
    SeedItem(
        "Fargate poller (0.25 vCPU, ARM64, 1 task, 730 h)",
        0.25 * HOURS_PER_MONTH,
        "vCPU-h",
        "fargate_arm_vcpu_h",
        "CollectTransactionsFunction, 1 run a minute",
    ),
    SeedItem(
        "Fargate poller memory (0.5 GB)",
        0.5 * HOURS_PER_MONTH,
        "GB-h",
        "fargate_arm_gb_h",
        "(same)",
    ),
    SeedItem(
        "Fargate public IPv4 address",
        HOURS_PER_MONTH,
        "address-h",
        "public_ipv4_h",
        "none (Lambda outside a VPC)",
    ),
    SeedItem(
        "EventBridge custom bus (a poll a second)",
        SECONDS_PER_MONTH,
        "events",
        "eventbridge_custom_event",
        "none (the collector deduplicates in DynamoDB)",
    ),
    SeedItem(
        "Kinesis streams (2 x 1 shard, in and out of Flink)",
        2 * HOURS_PER_MONTH,
        "shard-h",
        "kinesis_shard_h",
        "none (minutes close in the IngestTable)",
    ),
    SeedItem(
        "Managed Flink (1 KPU + 1 orchestration KPU)",
        2 * HOURS_PER_MONTH,
        "KPU-h",
        "flink_kpu_h",
        "none (watermark + close in feecast.ingest.pipeline)",
    ),
    SeedItem(
        "Managed Flink running storage (50 GB per KPU)",
        50,
        "GB-month",
        "flink_storage_gb_month",
        "none",
    ),
    SeedItem(
        "Two always-on ml.m5.large endpoints (staging, production)",
        2 * HOURS_PER_MONTH,
        "instance-h",
        "sm_hosting:ml.m5.large",
        "two serverless endpoints by default (EndpointType=Provisioned: the same instances)",
    ),
)
