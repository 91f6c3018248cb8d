"""Alarm storms: a burst of 20 accuracy-alarm events, concurrent deliveries, and a flapping
alarm give one build; once that build has ended and the cool-down has passed, a new ALARM gives
a second one (so "one build" is not "never again"). Issue 9.

The alarm is the real one: ActivateMonitoring creates it (an endpoint went InService) and its
transitions are CloudWatch's own (SetAlarmState and the twin's alarm evaluation emit the events,
publish the alarm's SNS actions). No build data exists, so every build ends quickly at
"Prepare The Data" (a notification says so): the assertions are about how many start.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support import drivers

ALARM = "feecast-staging-accuracy"
RULE = "RetrainOnAlarmFunctionAccuracyAlarm"
START = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


@pytest.fixture
def alarmed(twin: Any, load_event: Any) -> Any:
    """The twin with the staging accuracy alarm in place, as monitoring activation sets it."""
    in_service = drivers.on_bus(load_event("monitor-endpoint-in-service.json"))
    twin.send_event(in_service)
    assert twin.client("cloudwatch").describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]
    return twin


def set_state(twin: Any, value: str) -> None:
    twin.client("cloudwatch").set_alarm_state(
        AlarmName=ALARM, StateValue=value, StateReason=f"test: {value}"
    )
    twin.settle()


def alarm_events(twin: Any) -> list[dict[str, Any]]:
    """The ALARM transitions CloudWatch emitted, as the retraining rule delivered them."""
    found = []
    for record in twin.records_of("event"):
        _, runs = twin.delivery.runs_for(record["id"])
        found += [dict(r.input) for r in runs if r.rule == RULE]
    return found


def retrain_notices(twin: Any) -> list[str]:
    return [
        s
        for s in (m["subject"] or "" for m in twin.sns_messages())
        if s.startswith(f"feecast: {ALARM}")
    ]


def claims(effects: dict[str, Any]) -> dict[str, dict[str, str]]:
    """StateTable items of the build guard and the alarm's episode: key -> string fields."""
    out = {}
    for raw in effects["tables"]["StateTable"]:
        item = json.loads(raw)
        key = f"{item['pk']['S']}|{item['sk']['S']}"
        if key.startswith(("BUILD#", "MONITOR#ALARM#")):
            out[key] = {k: v.get("S", v.get("N")) for k, v in item.items()}
    return out


def started_total(twin: Any) -> float:
    return sum(
        v for _, v in twin.metric_data("feecast", "RetrainingsStarted", {"service": "retrain"})
    )


@pytest.mark.twin(start=START)
def test_a_burst_of_20_events_for_one_transition_starts_one_build(
    alarmed: Any, effects_of: Any, aws_calls: Any
) -> None:
    twin = alarmed
    aws_calls.clear()
    set_state(twin, "ALARM")  # CloudWatch's event: the first of 20
    [event] = alarm_events(twin)

    # 19 more of the same transition with new ids, put from 4 threads at once.
    def put(times: int) -> None:
        for _ in range(times):
            twin.send_event(event)

    threads = [threading.Thread(target=put, args=(n,)) for n in (5, 5, 5, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    twin.settle()

    assert len(alarm_events(twin)) == 20
    assert len(drivers.retrain_runs(twin)) == 20
    [build] = drivers.builds_started(twin)
    assert build["name"].startswith("alarm-feecast-staging-accuracy-")
    effects = effects_of(twin)
    [(name, status)] = effects["executions"]["ModelBuildStateMachine"]
    assert name == build["name"] and status == "FAILED"  # no data: ends at Prepare The Data
    guard = claims(effects)
    [trigger] = [k for k in guard if k.endswith("|TRIGGER")]
    assert guard[trigger]["execution_arn"].endswith(f":{name}")
    assert guard["BUILD#LOCK|LOCK"]["execution_arn"].endswith(f":{name}")
    assert guard[f"MONITOR#ALARM#{ALARM}|EPISODE"]["execution_arn"].endswith(f":{name}")
    assert retrain_notices(twin) == [f"feecast: {ALARM} ALARM - build started"]
    assert started_total(twin) == 1
    assert [op for _, op, _ in aws_calls.calls].count("StartExecution") == 1


@pytest.mark.twin(start=START)
def test_concurrent_invocations_for_one_transition_start_one_build(
    alarmed: Any, load_event: Any, effects_of: Any, aws_calls: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The twin runs one handler at a time; AWS runs duplicates in parallel containers. So the
    library call each container makes runs here in 12 threads released together: the episode's
    conditional write, Idempotency and the build claim must agree on one winner."""
    twin = alarmed
    # What Lambda's environment gives the handler (the twin blanks its variables between calls).
    for name, value in {
        "AWS_DEFAULT_REGION": twin.region,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "retrain",
        "POWERTOOLS_METRICS_NAMESPACE": "feecast",
    }.items():
        monkeypatch.setenv(name, value)
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
    )
    from feecast.adapters import clients, idempotency, notify, parameters
    from feecast.adapters.cloudwatch import CloudWatchAlarms
    from feecast.adapters.state_table import StateTable
    from feecast.adapters.stepfunctions import StepFunctionsExecutions
    from feecast.monitor.events import parse_alarm_event
    from feecast.monitor.retrain_on_alarm import RetrainPorts, retrain_on_alarm
    from feecast.monitor.settings import RetrainSettings

    settings = RetrainSettings(
        project_name="feecast",
        ssm_prefix="/feecast",
        notification_topic_arn=twin.physical_id("NotificationTopic"),
        idempotency_table=twin.physical_id("IdempotencyTable"),
        state_table=twin.physical_id("StateTable"),
        model_build_state_machine_arn=twin.physical_id("ModelBuildStateMachine"),
    )
    # boto3's default session does not create clients safely from many threads at once.
    clients.use_session(None)  # clients built for this twin, not for an earlier test's
    for service in ("cloudwatch", "stepfunctions", "sns", "events"):
        clients.client(service)
    clients.table(settings.state_table)
    # Each container has its own Powertools persistence layer: one shared by 12 threads races in
    # its own lazy configure() (a thread sees `configured` before the key's JMESPath is compiled:
    # "'NoneType' object has no attribute 'search'"), which no Lambda container can do.
    layers = [DynamoDBPersistenceLayer(table_name=settings.idempotency_table) for _ in range(12)]
    container_state = threading.local()
    monkeypatch.setattr(idempotency, "_persistence", lambda table: container_state.persistence)

    change = parse_alarm_event(load_event("retrain-accuracy-alarm.json"))
    aws_calls.clear()
    barrier, outcomes, lock = threading.Barrier(12), [], threading.Lock()

    def container(persistence: DynamoDBPersistenceLayer) -> None:
        container_state.persistence = persistence
        # As the handler wires them.
        ports = RetrainPorts.from_adapters(
            settings,
            state=StateTable(settings.state_table),
            executions=StepFunctionsExecutions(),
            alarms=CloudWatchAlarms(),
            notifier=notify,
            parameters=parameters,
        )
        barrier.wait()
        for _ in range(50):  # Lambda retries an invocation refused as "in progress"
            try:
                result = retrain_on_alarm(change, settings, ports, once=idempotency).model_dump(
                    mode="json"
                )
            except IdempotencyAlreadyInProgressError:
                threading.Event().wait(0.1)
                continue
            with lock:
                outcomes.append(result)
            return

    threads = [threading.Thread(target=container, args=(layer,)) for layer in layers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    twin.settle()

    assert len(outcomes) == 12
    assert {o["outcome"] for o in outcomes} == {"started"}  # the winner's, replayed
    assert sum(not o.get("replayed", False) for o in outcomes) == 1
    effects = effects_of(twin)
    [(name, _)] = effects["executions"]["ModelBuildStateMachine"]
    assert [op for _, op, _ in aws_calls.calls].count("StartExecution") == 1
    assert claims(effects)[f"MONITOR#ALARM#{ALARM}|EPISODE"]["execution_arn"].endswith(f":{name}")
    assert retrain_notices(twin) == [f"feecast: {ALARM} ALARM - build started"]


@pytest.mark.twin(start=START, overrides={"RetrainCooldownSeconds": "1800"})
def test_flapping_starts_one_build_and_after_the_cool_down_a_new_alarm_starts_another(
    alarmed: Any, effects_of: Any
) -> None:
    twin = alarmed
    # ALARM -> OK -> ALARM -> OK -> ALARM within seconds: well inside the 30-minute cool-down.
    for value in ("ALARM", "OK", "ALARM", "OK", "ALARM"):
        set_state(twin, value)
    first = alarm_events(twin)
    assert len(first) == 3  # the rule delivers the ALARM transitions only
    for event in first:  # and each of them arrives twice
        twin.send_event(event)
    twin.settle()

    [build] = drivers.builds_started(twin)
    assert (
        retrain_notices(twin)
        == [f"feecast: {ALARM} ALARM - build started"]
        + [f"feecast: {ALARM} ALARM - no new build (cool-down)"] * 2
    )
    assert started_total(twin) == 1
    ended = twin.records_of("execution-ended")
    assert [(e["execution_arn"].rsplit(":", 1)[-1], e["status"]) for e in ended] == [
        (build["name"], "FAILED")
    ]

    # The build has ended; 31 minutes later the cool-down is over (the alarm, with no data,
    # went back to OK at the clock's tick) and a new ALARM starts a second build.
    twin.advance(timedelta(minutes=31), step=timedelta(minutes=31))
    assert (
        twin.client("cloudwatch").describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0][
            "StateValue"
        ]
        == "OK"
    )
    set_state(twin, "ALARM")
    builds = drivers.builds_started(twin)
    assert len(builds) == 2 and builds[1]["name"] != build["name"]
    assert retrain_notices(twin)[-1] == f"feecast: {ALARM} ALARM - build started"
    assert started_total(twin) == 2
    effects = effects_of(twin)
    assert len(effects["executions"]["ModelBuildStateMachine"]) == 2
    guard = claims(effects)
    assert len([k for k in guard if k.endswith("|TRIGGER")]) == 2
    assert guard["BUILD#LOCK|LOCK"]["execution_arn"].endswith(f":{builds[1]['name']}")
    assert guard[f"MONITOR#ALARM#{ALARM}|EPISODE"]["execution_arn"].endswith(
        f":{builds[1]['name']}"
    )
