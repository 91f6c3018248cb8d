"""Reliability suite fixtures: what a delivery changed (the twin's drivers are tests/support/drivers.py).

def test_x(twin, redeliver):
    results = redeliver(twin, lambda: twin.send_event(event))  # 3 deliveries, the effect of one

`effects(twin)` is everything a handler can change, as plain data (tables, executions,
endpoints, parameters, metrics, alarms, schedules, notifications, S3 versions); `aws_calls`
records every successful AWS call that changes something, whoever makes it. `redeliver`
delivers once, takes both, delivers again and fails on any difference.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def model_tar() -> bytes:
    """One tiny local DeepAR (1 epoch: ~6 s of CPU) for every test that deploys or monitors one."""
    from datetime import timedelta

    from tests.support.drivers import MONITOR_HP, MONITOR_START, fee
    from tests.support.models import tiny_model_tar

    first = MONITOR_START - timedelta(days=1)
    target = [fee(first + timedelta(minutes=i)) for i in range(400)]
    return tiny_model_tar(first, target, **(MONITOR_HP | {"epochs": "1"}))


# -- what changed ---------------------------------------------------------------------------------
_READS = ("Get", "Describe", "List", "Scan", "Query", "BatchGet", "Invoke", "Head", "Select")


class AwsCalls:
    """Successful AWS calls that change something (service, operation, short params), in order.

    Reads (Get*, Describe*, List*, ...), Lambda/endpoint invocations (the delivery itself, a
    forecast) and DynamoDB (whose effects `effects` compares by content: a conditional put that
    loses is not an effect, an idempotent overwrite changes nothing) are left out."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()

    def add(self, service: str, operation: str, params: dict[str, Any]) -> None:
        if service == "dynamodb" or operation.startswith(_READS):
            return
        names: dict[str, Any] = {
            k: v for k, v in params.items() if isinstance(v, str) and len(v) < 120
        }
        if operation == "PutMetricData":  # EMF lines reach the twin's CloudWatch this way too
            names["metrics"] = sorted({d["MetricName"] for d in params.get("MetricData", [])})
        with self._lock:
            self.calls.append((service, operation, json.dumps(names, sort_keys=True)))

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def since(self, mark: int) -> list[tuple[str, str, str]]:
        with self._lock:
            return list(self.calls[mark:])


@pytest.fixture
def aws_calls(twin: Any) -> Iterator[AwsCalls]:
    """Every successful call the twin answers (in-process or from its Lambda workers and
    containers over HTTP), recorded by the twin's front door."""
    ledger = AwsCalls()
    stop = twin.gateway.listen(lambda call: ledger.add(call.service, call.operation, call.params))
    yield ledger
    stop()


def _items(twin: Any, table_logical_id: str) -> list[str]:
    ddb = twin.client("dynamodb")
    items, kwargs = [], {"TableName": twin.physical_id(table_logical_id), "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        # Binary attributes (the ingest table's fees, issue 15) as their hex text.
        items += [
            json.dumps(item, sort_keys=True, default=lambda b: bytes(b).hex())
            for item in page["Items"]
        ]
        if "LastEvaluatedKey" not in page:
            return sorted(items)
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def effects(twin: Any) -> dict[str, Any]:
    """Everything the stack's handlers and state machines can change, as comparable data."""
    from moto.cloudwatch.models import cloudwatch_backends

    sfn, sm, s3 = twin.client("stepfunctions"), twin.client("sagemaker"), twin.client("s3")
    scheduler, cw = twin.client("scheduler"), twin.client("cloudwatch")
    bucket = twin.physical_id("ArtifactBucket")
    versions = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
    metrics = cloudwatch_backends[twin.account_id][twin.region].get_all_metrics()
    return {
        "executions": {
            machine: sorted(
                (e["name"], e["status"])
                for e in sfn.list_executions(stateMachineArn=twin.physical_id(machine))[
                    "executions"
                ]
            )
            for machine in ("ModelBuildStateMachine", "ModelDeployStateMachine")
        },
        "tables": {t: _items(twin, t) for t in ("StateTable", "IdempotencyTable", "IngestTable")},
        "parameters": sorted(
            (p["Name"], p["Value"], p["Version"])
            for p in twin.client("ssm").get_parameters_by_path(Path="/", Recursive=True)[
                "Parameters"
            ]
        ),
        "endpoints": sorted(
            (e["EndpointName"], e["EndpointStatus"], e.get("LastModifiedTime"))
            for e in sm.list_endpoints()["Endpoints"]
        ),
        "endpoint_configs": sorted(
            c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]
        ),
        "models": sorted(m["ModelName"] for m in sm.list_models()["Models"]),
        "model_packages": sorted(
            (p["ModelPackageArn"], p.get("ModelApprovalStatus"))
            for p in sm.list_model_packages(ModelPackageGroupName="feecast-models")[
                "ModelPackageSummaryList"
            ]
        ),
        "s3_versions": sorted(
            (v["Key"], v["VersionId"]) for page in versions for v in page.get("Versions", [])
        ),
        "metrics": sorted(
            (
                d.namespace,
                d.name,
                json.dumps(sorted((x.name, x.value) for x in d.dimensions)),
                str(d.timestamp),
                float(d.value),
            )
            for d in metrics
        ),
        "alarms": sorted(
            (
                a["AlarmName"],
                a["StateValue"],
                a["Threshold"],
                a["ActionsEnabled"],
                str(a.get("AlarmConfigurationUpdatedTimestamp")),
            )
            for a in cw.describe_alarms()["MetricAlarms"]
        ),
        "schedules": sorted(
            (s["Name"], s["State"], str(s.get("LastModificationDate")))
            for s in scheduler.list_schedules()["Schedules"]
        ),
        "notifications": [(m["subject"], m["message"]) for m in twin.sns_messages()],
    }


@pytest.fixture
def redeliver(aws_calls: AwsCalls) -> Callable[..., list[Any]]:
    """redeliver(twin, deliver, times=3, delivered_before=False, ignore_metrics=()) -> results.

    Calls `deliver()` once (unless it was delivered before the call, as SageMaker does), settles,
    notes `effects` and the AWS calls; delivers `times - 1` more (`times` when delivered
    before); settles; fails if a later delivery changed anything or made a changing AWS call.
    `ignore_metrics`: metric names every invocation reports about itself (say why)."""

    def check(
        twin: Any,
        deliver: Callable[[], Any],
        times: int = 3,
        delivered_before: bool = False,
        ignore_metrics: Iterable[str] = (),
    ) -> list[Any]:
        ignored = set(ignore_metrics)

        def state() -> dict[str, Any]:
            found = effects(twin)
            found["metrics"] = [m for m in found["metrics"] if m[1] not in ignored]
            return found

        results = [] if delivered_before else [deliver()]
        twin.settle()
        before, mark = state(), len(aws_calls.calls)
        results += [deliver() for _ in range(times if delivered_before else times - 1)]
        twin.settle()
        calls = [
            call
            for call in aws_calls.since(mark)
            if not (call[1] == "PutMetricData" and set(json.loads(call[2])["metrics"]) <= ignored)
        ]
        assert calls == [], "a duplicate delivery changed something in AWS"
        after = state()
        for key in before:  # one key at a time: a readable difference
            assert after[key] == before[key], f"a duplicate delivery changed {key}"
        return results

    return check


@pytest.fixture
def effects_of() -> Callable[[Any], dict[str, Any]]:
    """effects_of(twin) -> the comparable state (see `effects`)."""
    return effects
