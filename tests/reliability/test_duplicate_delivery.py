"""Duplicate delivery: every entry point fed by events, given the same event three times, has the
effect of one (issue 9). AWS delivers at least once: EventBridge redelivers an event with the
same id, producers put it again with a new id, SageMaker sends several events per change and
Scheduler may run a schedule twice for one scheduled time.

Each test delivers on the twin (the real template, rules, handlers and state machines) through
`redeliver` (conftest.py): after the first delivery it notes every effect (executions, table
items, parameters and versions, endpoints, S3 object versions, metrics, alarms, schedules,
notifications) and every changing AWS call, delivers again, and fails on any difference. The
tests then assert what the one effect was. `ENTRY_POINTS` maps each event source in
template.yaml to its test; the guard test fails when a new one has none.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from feecast_twin.intrinsics import load_yaml
from tests.support import drivers

# "<target logical id>.<SAM event name>" or "<target logical id><-<rule/schedule/subscription>"
ENTRY_POINTS = {
    "CollectTransactionsFunction.EveryMinute": "test_collector_run_repeated_for_one_scheduled_time",
    "StartBuildFunction.BuildSchedule": "test_build_schedule_repeated_starts_one_build",
    "StartDeployFunction.ModelApprovalRule": "test_package_approval_repeated_starts_one_deployment",
    "ResumeEndpointWaiterFunction.EndpointStateRule": "test_endpoint_in_service_repeated_resumes_once",
    "ApprovalCallbackFunction.ShowDecision": "test_approval_link_opened_and_posted_three_times",
    "ApprovalCallbackFunction.ApplyDecision": "test_approval_link_opened_and_posted_three_times",
    "ApprovalCallbackFunction.RefuseOtherMethods": "test_approval_link_opened_and_posted_three_times",
    "OnPackageRejectedFunction.PackageRejectedRule": "test_package_rejection_repeated_stops_once",
    "ActivateMonitoringFunction.EndpointStateChange": "test_endpoint_in_service_repeated_activates_once",
    "MonitorEndpointFunction<-StagingMonitoringSchedule": "test_monitoring_hour_repeated",
    "MonitorEndpointFunction<-ProductionMonitoringSchedule": "test_monitoring_hour_repeated",
    "RetrainOnAlarmFunction.AccuracyAlarm": "test_accuracy_alarm_repeated_starts_one_build",
}


# -- the guard: template.yaml's event sources -> tests -----------------------------------------
_ENTRY_TYPES = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")


def _target(ref: Any) -> str | None:
    """The logical id an ARN expression names (!GetAtt X.Arn, !Ref X), else None."""
    if isinstance(ref, dict):
        if "Ref" in ref:
            return str(ref["Ref"])
        att = ref.get("Fn::GetAtt")
        if isinstance(att, list):
            return str(att[0])
        if isinstance(att, str):
            return att.split(".", 1)[0]
    return None


def event_fed_entry_points(template: dict[str, Any]) -> set[str]:
    """Every function / state machine an event reaches: SAM Events of any type, targets of
    AWS::Events::Rule and AWS::Scheduler::Schedule, SNS subscriptions and event source
    mappings naming a resource of the template."""
    resources = template.get("Resources") or {}
    found: set[str] = set()
    for lid, res in resources.items():
        kind, props = res.get("Type"), res.get("Properties") or {}
        if kind in _ENTRY_TYPES:
            found |= {f"{lid}.{event}" for event in props.get("Events") or {}}
        targets: list[Any] = []
        if kind == "AWS::Events::Rule":
            targets = [t.get("Arn") for t in props.get("Targets") or []]
        elif kind == "AWS::Scheduler::Schedule":
            targets = [(props.get("Target") or {}).get("Arn")]
        elif kind == "AWS::SNS::Subscription":
            targets = [props.get("Endpoint")]
        elif kind == "AWS::Lambda::EventSourceMapping":
            targets = [props.get("FunctionName")]
        for target in map(_target, targets):
            if target in resources:
                found.add(f"{target}<-{lid}")
    return found


def test_every_event_fed_entry_point_has_a_duplicate_delivery_test(repo_root: Any) -> None:
    found = event_fed_entry_points(load_yaml((repo_root / "template.yaml").read_text()))
    assert found - ENTRY_POINTS.keys() == set(), "write a duplicate-delivery test for these"
    assert ENTRY_POINTS.keys() - found == set(), "these entry points left template.yaml"
    for test in set(ENTRY_POINTS.values()):
        assert callable(globals().get(test)), f"ENTRY_POINTS names a missing test {test}"


def test_the_guard_sees_every_kind_of_event_source() -> None:
    template = load_yaml(
        """
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Topic: {Type: SNS, Properties: {Topic: !Ref T}}
        Queue: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Events:
        Hourly: {Type: Schedule, Properties: {Schedule: rate(1 hour)}}
  Quiet: {Type: AWS::Serverless::Function, Properties: {}}
  Rule:
    Type: AWS::Events::Rule
    Properties:
      Targets: [{Arn: !Ref Machine, Id: a}, {Arn: !GetAtt Fn.Arn, Id: b}, {Arn: arn:x, Id: c}]
  Every:
    Type: AWS::Scheduler::Schedule
    Properties: {Target: {Arn: !GetAtt Quiet.Arn}}
  Sub:
    Type: AWS::SNS::Subscription
    Properties: {Endpoint: !GetAtt Quiet.Arn, Protocol: lambda}
  Mail:
    Type: AWS::SNS::Subscription
    Properties: {Endpoint: someone@example.com, Protocol: email}
  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {FunctionName: !Ref Quiet}
"""
    )
    assert event_fed_entry_points(template) == {
        "Fn.Topic",
        "Fn.Queue",
        "Machine.Hourly",
        "Machine<-Rule",
        "Fn<-Rule",
        "Quiet<-Every",
        "Quiet<-Sub",
        "Quiet<-Mapping",
    }


# -- delivering ---------------------------------------------------------------------------------
def scheduled_input(twin: Any, schedule: str, at: str) -> dict[str, Any]:
    """What EventBridge Scheduler sends for `schedule` at `at`: the template's Input with the
    scheduled time filled in."""
    target = twin.client("scheduler").get_schedule(Name=schedule)["Target"]
    return dict(json.loads(target["Input"].replace("<aws.scheduler.scheduled-time>", at)))


def bus_and_target(twin: Any, function: str, event: dict[str, Any]) -> Callable[[], Any]:
    """Alternately put `event` on the bus (a producer retrying PutEvents: a new id) and hand the
    very same envelope to the function (EventBridge redelivering: the same id); the function's
    result either way."""
    count = iter(range(1_000_000))

    def deliver() -> Any:
        if next(count) % 2:
            return twin.invoke(function, event)
        report = twin.send_event(event)
        (run,) = [t for t in report.targets if t.rule.startswith(function)]
        assert run.status == "SUCCEEDED", run.to_dict()
        return run.result

    return deliver


def operations(calls: list[tuple[str, str, str]]) -> Counter[str]:
    return Counter(op for _service, op, _params in calls)


def subjects(twin: Any) -> list[str]:
    return [m["subject"] for m in twin.sns_messages()]


def state_items(effects: dict[str, Any], table: str = "StateTable") -> dict[str, dict[str, Any]]:
    items = [json.loads(i) for i in effects["tables"][table]]
    return {f"{i['pk']['S']}|{i['sk']['S']}": i for i in items}


# -- 1 Ingest -----------------------------------------------------------------------------------
# A run's own report (what it polled, dropped, closed) is published for every run, duplicates
# included: these describe the invocation, not the data. The minutes must not change.
RUN_METRICS = {
    "TransactionsPolled",
    "DuplicatesDropped",
    "MalformedTransactions",
    "LateTransactions",
    "MinutesClosed",
    "SourceErrors",
}


def test_collector_run_repeated_for_one_scheduled_time(
    make_twin: Any, redeliver: Any, effects_of: Any
) -> None:
    source = drivers.SourceServer()
    try:
        source.serve(drivers.tx(1, 5, 1000), drivers.tx(2, 20, 3000), drivers.tx(3, 59, 2000))
        twin = make_twin(
            parameter_overrides={
                "IngestSourceUrl": source.url,
                "IngestPollsPerRun": "2",
                "IngestPollIntervalSeconds": "0",
            },
            start=drivers.INGEST_T0 + timedelta(minutes=2, seconds=20),
        )
        run = scheduled_input(twin, "feecast-collect-transactions", "2026-01-05T12:02:00Z")
        reports = redeliver(
            twin,
            lambda: twin.invoke("CollectTransactionsFunction", run),
            ignore_metrics=RUN_METRICS,
        )
    finally:
        source.httpd.shutdown()
        source.httpd.server_close()

    assert reports[0]["minutes_closed"] >= 1
    assert [r["minutes_closed"] for r in reports[1:]] == [0, 0]
    # Every re-polled transaction of a repeated run is dropped as already counted.
    assert [r["duplicates_dropped"] for r in reports[1:]] == [6, 6]
    runtime = twin.client("sagemaker-featurestore-runtime")
    record = runtime.get_record(
        FeatureGroupName="feecast-fee-minutes", RecordIdentifierValueAsString="2026-01-05T12:00:00Z"
    )["Record"]
    values = {f["FeatureName"]: f["ValueAsString"] for f in record}
    assert (values["total_nb_trx_1min"], float(values["total_fee_1min"])) == ("3", 6000.0)
    # One Parquet object per flush of the offline store: the minute was written once.
    offline = [k for k, _ in effects_of(twin)["s3_versions"] if k.endswith(".parquet")]
    assert len(offline) == 1


# -- 2 Build ------------------------------------------------------------------------------------
def test_build_schedule_repeated_starts_one_build(
    twin: Any, redeliver: Any, effects_of: Any, aws_calls: Any
) -> None:
    aws_calls.clear()
    run = scheduled_input(twin, "feecast-model-build", "2026-01-05T12:00:00Z")
    results = redeliver(twin, lambda: twin.invoke("StartBuildFunction", run))

    assert [r["status"] for r in results] == ["started", "duplicate", "duplicate"]
    assert {r["execution_arn"] for r in results} == {results[0]["execution_arn"]}
    effects = effects_of(twin)
    # No minutes in the feature store: the one build ends at "Prepare The Data", notified once.
    assert effects["executions"]["ModelBuildStateMachine"] == [
        (results[0]["execution_name"], "FAILED")
    ]
    assert subjects(twin) == ["feecast build failed: Prepare The Data (DataRefused)"]
    claims = state_items(effects)
    assert set(claims) == {"BUILD#LOCK|LOCK", "BUILD#schedule-2026-01-05T12:00Z|TRIGGER"}
    assert {c["execution_arn"]["S"] for c in claims.values()} == {results[0]["execution_arn"]}
    assert operations(aws_calls.calls)["StartExecution"] == 1


# -- 3 Deploy -----------------------------------------------------------------------------------
def sent_by_aws(
    twin: Any, rule: str, where: Callable[[dict[str, Any]], bool] = lambda e: True
) -> dict[str, Any]:
    """The latest envelope an AWS service (the twin's SageMaker) put on the bus that `rule`
    matched (and `where` accepts), exactly as the rule delivered it: same id, same fields.
    Waited for: EventBridge delivers after the call that emitted the event has answered."""

    def delivered() -> dict[str, Any] | None:
        for record in reversed(twin.records_of("event")):
            _, runs = twin.delivery.runs_for(record["id"])
            for run in runs:
                if run.rule == rule and where(run.input):
                    return dict(run.input)
        return None

    return twin.wait_for(delivered, what=f"an event delivered by {rule}")  # type: ignore[no-any-return]


def deployments(effects: dict[str, Any]) -> list[tuple[str, str]]:
    return list(effects["executions"]["ModelDeployStateMachine"])


def test_package_approval_repeated_starts_one_deployment(
    twin: Any, redeliver: Any, effects_of: Any, aws_calls: Any
) -> None:
    # Model data SageMaker cannot load: staging fails fast, so the one deployment ends.
    arn = drivers.register(twin, b"not a model archive", loss=0.2, key="bad")
    aws_calls.clear()
    drivers.approve_package(twin, arn)  # SageMaker's own event: the first delivery
    event = sent_by_aws(twin, "StartDeployFunctionModelApprovalRule")
    results = redeliver(
        twin, bus_and_target(twin, "StartDeployFunction", event), delivered_before=True
    )

    effects = effects_of(twin)
    [(name, status)] = deployments(effects)
    assert name.startswith("v1-") and status == "FAILED"
    # Each repeat answers with the first delivery's result (Idempotency) and acts no more.
    assert all(r["execution_name"] == name for r in results)
    # The threshold was set once to the model's own (SSM keeps one new version).
    [validation] = [p for p in effects["parameters"] if p[0] == "/feecast/validation"]
    assert json.loads(validation[1])["threshold"] == pytest.approx(0.3) and validation[2] == 2
    assert [e[:2] for e in effects["endpoints"]] == [("feecast-staging", "Failed")]
    done = operations(aws_calls.calls)
    assert (done["StartExecution"], done["PutParameter"], done["CreateEndpoint"]) == (1, 1, 1)
    assert sum("failed" in (s or "") for s in subjects(twin)) == 1


# A deployment waiting for a person must still be waiting when the effects are compared.
PARKED = pytest.mark.twin(overrides={"ApprovalTimeoutSeconds": "600"})
SLOW = pytest.mark.slow  # deploys the tiny trained model (model_tar)


def stage_a_model(twin: Any, model_tar: bytes) -> tuple[str, str]:
    """Register and approve a real model: the deployment waits for a person, staging serves.
    Returns (package ARN, execution ARN)."""
    arn = drivers.register(twin, model_tar, loss=0.2)
    drivers.approve_package(twin, arn)
    [run] = drivers.deploy_executions(twin)
    assert run["status"] == "RUNNING"
    return arn, str(run["executionArn"])


def lambda_runs(twin: Any, function: str) -> int:
    return sum(function in str(r.get("function")) for r in twin.records_of("lambda"))


@SLOW
@PARKED
def test_endpoint_in_service_repeated_resumes_once(
    twin: Any,
    model_tar: bytes,
    redeliver: Any,
    effects_of: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Hold staging in Creating until "Wait For Staging" keeps its task token, and keep the
    # endpoint's own event from the waiter: then the test's deliveries are the ones to resume.
    sagemaker, gate = twin.component("sagemaker"), threading.Event()
    load = sagemaker._load_variants
    monkeypatch.setattr(sagemaker, "_load_variants", lambda *a: gate.wait(60) and load(*a))
    arn = drivers.register(twin, model_tar, loss=0.2)
    twin.client("sagemaker").update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved"
    )
    table, key = twin.physical_id("StateTable"), {"pk": {"S": "WAITER#feecast-staging"}}
    key["sk"] = {"S": "WAITER"}

    def waiter() -> dict[str, Any] | None:
        found = twin.client("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True)
        return found.get("Item")

    # AwaitEndpoint keeps the token, then looks at the endpoint once (Creating): wait for both.
    twin.wait_for(
        lambda: waiter() is not None and lambda_runs(twin, "AwaitEndpoint") > 0,
        what="the deployment waiting for staging (its waiter and one AwaitEndpoint run)",
    )
    rule = twin.physical_id("ResumeEndpointWaiterFunctionEndpointStateRule")
    twin.client("events").disable_rule(Name=rule)
    gate.set()
    twin.settle()
    twin.client("events").enable_rule(Name=rule)
    staging = twin.client("sagemaker").describe_endpoint(EndpointName="feecast-staging")
    assert staging["EndpointStatus"] == "InService" and waiter() is not None

    # SageMaker's own IN_SERVICE event (ActivateMonitoring's rule received it).
    event = sent_by_aws(
        twin,
        "ActivateMonitoringFunctionEndpointStateChange",
        lambda e: e["detail"]["EndpointStatus"] == "IN_SERVICE",
    )
    deliver = bus_and_target(twin, "ResumeEndpointWaiterFunction", event)
    first = deliver()
    # The resumed execution goes on (smoke test, then the approval request) on its own thread;
    # settle() can see a quiet instant while the task token is handed back. Wait for the
    # approval request itself, with a deadline, before comparing what the repeats do.
    twin.wait_for_sns(
        lambda m: "Approve: " in (m["message"] or ""),
        what="the resumed deployment's request for a person's approval",
    )
    results = [first, *redeliver(twin, deliver, times=2, delivered_before=True)]

    assert [r["status"] for r in results] == ["resumed", "ignored", "ignored"]
    assert waiter() is None
    # Resumed once: one smoke test, one request for a person's approval, still waiting for it.
    assert lambda_runs(twin, "SmokeTest") == 1
    assert sum("Approve: " in (m["message"] or "") for m in twin.sns_messages()) == 1
    [(_, status)] = deployments(effects_of(twin))
    assert status == "RUNNING"


# Every refused link request is logged and counted (issue 9, approvals): the count is the
# request's own record, one per request, not an effect of the approval.
REFUSALS = {"ApprovalRefused"}


@SLOW
@PARKED
def test_approval_link_opened_and_posted_three_times(
    twin: Any, model_tar: bytes, redeliver: Any, effects_of: Any, aws_calls: Any
) -> None:
    stage_a_model(twin, model_tar)
    link = drivers.approval_links(twin)["approve"]

    # GET (mail scanners, a person reading): a confirmation page, no effect, every time.
    pages = redeliver(twin, lambda: drivers.follow(twin, link, method="GET"), delivered_before=True)
    assert [p["statusCode"] for p in pages] == [200, 200, 200]
    assert all("<form method='post'>" in p["body"] for p in pages)
    # Any other method is refused, every time, with no effect but the refusal's own count.
    refused = redeliver(
        twin,
        lambda: drivers.follow(twin, link, method="PUT"),
        delivered_before=True,
        ignore_metrics=REFUSALS,
    )
    assert [p["statusCode"] for p in refused] == [405, 405, 405]

    aws_calls.clear()
    posts = redeliver(twin, lambda: drivers.follow(twin, link), ignore_metrics=REFUSALS)
    assert [p["statusCode"] for p in posts] == [200, 410, 410]
    assert sum(v for _, v in twin.metric_data("feecast", "ApprovalRefused")) == 3 + 2
    effects = effects_of(twin)
    [(_, status)] = deployments(effects)
    assert status == "SUCCEEDED"
    assert [e[:2] for e in effects["endpoints"]] == [
        ("feecast-production", "InService"),
        ("feecast-staging", "InService"),
    ]
    done = operations(aws_calls.calls)
    assert (done["SendTaskSuccess"], done["CreateEndpoint"]) == (2, 1)  # approval + waiter
    assert sum("production now serves" in (s or "") for s in subjects(twin)) == 1


@SLOW
@PARKED
def test_package_rejection_repeated_stops_once(
    twin: Any,
    model_tar: bytes,
    redeliver: Any,
    effects_of: Any,
    aws_calls: Any,
) -> None:
    arn, _ = stage_a_model(twin, model_tar)
    aws_calls.clear()
    twin.client("sagemaker").update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Rejected"
    )  # SageMaker's own event: the first delivery
    event = sent_by_aws(twin, "OnPackageRejectedFunctionPackageRejectedRule")
    results = redeliver(
        twin, bus_and_target(twin, "OnPackageRejectedFunction", event), delivered_before=True
    )

    [(name, _)] = deployments(effects_of(twin))
    # Stopped once. (Its status: ABORTED on AWS; the twin's interpreter keeps an execution that
    # waits for a task token RUNNING until the wait ends.)
    stops = [json.loads(p) for _, op, p in aws_calls.calls if op == "StopExecution"]
    assert [s["executionArn"].rsplit(":", 1)[-1] for s in stops] == [name]
    # Each repeat answers with the first delivery's result (Idempotency) and acts no more.
    assert all([s.rsplit(":", 1)[-1] for s in r["stopped_executions"]] == [name] for r in results)
    assert sum("deployment of rejected model v1 stopped" in (s or "") for s in subjects(twin)) == 1


# -- 4 Monitor ----------------------------------------------------------------------------------
def test_endpoint_in_service_repeated_activates_once(
    twin: Any, load_event: Any, redeliver: Any, effects_of: Any, aws_calls: Any
) -> None:
    event = drivers.on_bus(load_event("monitor-endpoint-in-service.json"))
    aws_calls.clear()
    results = redeliver(twin, bus_and_target(twin, "ActivateMonitoringFunction", event))

    assert [r.get("replayed", False) for r in results] == [False, True, True]
    effects = effects_of(twin)
    # The schedules belong to the template (always ENABLED): activation never touches them.
    schedules = {name: state for name, state, _ in effects["schedules"]}
    assert schedules["feecast-staging-monitoring"] == "ENABLED"
    assert schedules["feecast-production-monitoring"] == "ENABLED"
    # The alarms are the template's: activation only enables the stage's actions, once.
    assert sorted(a[0] for a in effects["alarms"] if a[0].endswith("-accuracy")) == [
        "feecast-production-accuracy",
        "feecast-staging-accuracy",
    ]
    done = operations(aws_calls.calls)
    assert (done["UpdateSchedule"], done["PutMetricAlarm"], done["Publish"]) == (0, 0, 1)
    assert done["EnableAlarmActions"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["staging", "production"])
@pytest.mark.twin(start=datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
def test_monitoring_hour_repeated(
    twin: Any,
    model_tar: bytes,
    redeliver: Any,
    effects_of: Any,
    stage: str,
    serve_stage: Any,
) -> None:
    start = drivers.MONITOR_START
    drivers.put_minutes(twin, start - timedelta(hours=3), start + timedelta(hours=1))
    serve_stage(twin, model_tar, stage)
    twin.advance(timedelta(hours=1), step=timedelta(hours=1))  # the schedule's own 13:00 run
    run = scheduled_input(twin, f"feecast-{stage}-monitoring", "2026-01-05T13:00:00Z")
    results = redeliver(
        twin, lambda: twin.invoke("MonitorEndpointFunction", run), delivered_before=True
    )

    assert all(r["replayed"] is True for r in results)
    dims = {"Stage": stage, "EndpointName": f"feecast-{stage}"}
    [(at, loss)] = twin.metric_data("feecast", "WeightedQuantileLoss", dims)
    assert at == start + timedelta(hours=1) and loss == pytest.approx(results[0]["loss"])
    assert len(twin.metric_data("feecast", "Threshold", dims)) == 1
    # One forecast stored for the next hour's run.
    forecasts = [k for k in state_items(effects_of(twin)) if k.startswith("FORECAST#")]
    assert forecasts == [f"FORECAST#feecast-{stage}|ORIGIN#2026-01-05T13:00:00Z"]


# -- 5 Retrain ----------------------------------------------------------------------------------
def test_accuracy_alarm_repeated_starts_one_build(
    twin: Any, load_event: Any, redeliver: Any, effects_of: Any, aws_calls: Any
) -> None:
    event = load_event("retrain-accuracy-alarm.json")
    aws_calls.clear()
    results = redeliver(twin, bus_and_target(twin, "RetrainOnAlarmFunction", event), times=4)

    assert [r["outcome"] for r in results] == ["started"] * 4  # replays of the first result
    assert [r.get("replayed", False) for r in results] == [False, True, True, True]
    effects = effects_of(twin)
    [(name, _)] = effects["executions"]["ModelBuildStateMachine"]
    assert name == results[0]["build"]["execution_name"]
    assert set(state_items(effects)) == {
        "BUILD#LOCK|LOCK",
        "BUILD#feecast-staging-accuracy#20260105T150110|TRIGGER",
        "MONITOR#ALARM#feecast-staging-accuracy|EPISODE",
    }
    assert sum("ALARM - build started" in (s or "") for s in subjects(twin)) == 1
    assert operations(aws_calls.calls)["StartExecution"] == 1
