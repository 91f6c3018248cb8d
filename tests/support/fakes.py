"""In-memory fakes of the ports (feecast.ports, feecast.deploy.ports, feecast.build.ports,
feecast.monitor.ports), for unit tests.

They behave as the services do where a use case depends on it: conditional writes refuse,
taken names raise AlreadyExists, a used or unknown task token raises TaskGone, a started
execution name is not started twice. Each records what was asked of it, so a test can say
"nothing new happened".
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from feecast.adapters.errors import AlreadyExists, NotFound, TaskGone
from feecast.config import FeecastConfig, ValidationConfig
from feecast.lifecycle import LifecycleEvent
from feecast.series import MinuteSeries

REGION_ACCOUNT = "eu-west-1:123456789012"


def _clean(value: Any) -> Any:
    # As the StateTable adapter stores them: None dropped from maps (DynamoDB keeps no nulls).
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


_CLAUSE = re.compile(
    r"^(?:(?P<fn>attribute_exists|attribute_not_exists)\((?P<fa>\w+)\)"
    r"|(?P<a>\w+) (?P<op><=|>=|=|>|<) (?P<v>:\w+))$"
)
_OPS = {
    "=": lambda a, b: a == b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}


def _all_hold(item: dict[str, Any] | None, clauses: str, values: Mapping[str, Any]) -> bool:
    for clause in clauses.split(" AND "):
        m = _CLAUSE.match(clause.strip())
        if m is None:
            raise NotImplementedError(f"FakeState does not evaluate {clause!r}")
        if m["fn"]:
            present = item is not None and m["fa"] in item
            if present != (m["fn"] == "attribute_exists"):
                return False
            continue
        if item is None or m["a"] not in item:
            return False
        if not _OPS[m["op"]](item[m["a"]], values[m["v"]]):
            return False
    return True


def _holds(item: dict[str, Any] | None, condition: str, values: Mapping[str, Any]) -> bool:
    """The condition expressions the stages write: AND clauses, optionally several such
    groups joined by OR (a group may be parenthesised)."""
    for group in condition.split(" OR "):
        group = group.strip()
        if group.startswith("(") and group.endswith(")"):
            group = group[1:-1]
        if _all_hold(item, group, values):
            return True
    return False


class FakeState:
    """The StateTable (the StateRecords port of feecast.ports): items by (pk, sk)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.writes = 0  # successful puts and deletes

    def put(
        self,
        item: dict[str, Any],
        *,
        condition: str | None = None,
        values: dict[str, Any] | None = None,
    ) -> bool:
        key = (item["pk"], item["sk"])
        if condition and not _holds(self.items.get(key), condition, values or {}):
            return False
        self.items[key] = _clean(copy.deepcopy(item))
        self.writes += 1
        return True

    def get(
        self, pk: str, sk: str, *, attributes: Sequence[str] | None = None
    ) -> dict[str, Any] | None:
        item = self.items.get((pk, sk))
        if item is None:
            return None
        item = copy.deepcopy(item)
        return {k: v for k, v in item.items() if k in attributes} if attributes else item

    def take(
        self, pk: str, sk: str, *, condition: str, values: dict[str, Any]
    ) -> dict[str, Any] | None:
        item = self.items.get((pk, sk))
        if not _holds(item, condition, values):
            return None
        self.writes += 1
        return self.items.pop((pk, sk))

    def delete(self, pk: str, sk: str) -> None:
        self.items.pop((pk, sk), None)
        self.writes += 1

    def update(
        self, pk: str, sk: str, changes: dict[str, Any], *, condition: str, values: dict[str, Any]
    ) -> bool:
        item = self.items.get((pk, sk))
        if not _holds(item, condition, values):
            return False
        self.items[(pk, sk)] = _clean({**(item or {"pk": pk, "sk": sk}), **copy.deepcopy(changes)})
        self.writes += 1
        return True

    def query(
        self,
        pk: str,
        *,
        sk_prefix: str | None = None,
        sk_between: tuple[str, str] | None = None,
        newest_first: bool = True,
        limit: int | None = None,
        consistent: bool = False,
    ) -> Iterator[dict[str, Any]]:
        keys = sorted(
            (
                k
                for k in self.items
                if k[0] == pk
                and k[1].startswith(sk_prefix or "")
                and (sk_between is None or sk_between[0] <= k[1] <= sk_between[1])
            ),
            reverse=newest_first,
        )
        for key in keys[:limit]:
            yield copy.deepcopy(self.items[key])

    def scan_prefix(
        self, pk_prefix: str, *, attributes: Sequence[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        for pk, sk in list(self.items):
            found = self.get(pk, sk, attributes=attributes) if pk.startswith(pk_prefix) else None
            if found is not None:
                yield found


class FakeEndpoints:
    """SageMaker endpoints, configs and models (Endpoints port). An endpoint changes state
    only when the test says so (`settle`), as SageMaker does in its own time."""

    def __init__(self) -> None:
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.configs: dict[str, dict[str, Any]] = {}
        self.models: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []  # (operation, name) of every change

    def describe_endpoint(self, name: str) -> dict[str, Any] | None:
        found = self.endpoints.get(name)
        return None if found is None else copy.deepcopy(found)

    def endpoint_config(self, name: str) -> dict[str, Any] | None:
        found = self.configs.get(name)
        return None if found is None else copy.deepcopy(found)

    def model(self, name: str) -> dict[str, Any] | None:
        found = self.models.get(name)
        return None if found is None else copy.deepcopy(found)

    def create_model(self, request: dict[str, Any]) -> None:
        if request["ModelName"] in self.models:
            raise AlreadyExists(f"Cannot create already existing model {request['ModelName']}")
        self.models[request["ModelName"]] = copy.deepcopy(request)
        self.calls.append(("create_model", request["ModelName"]))

    def create_endpoint_config(self, request: dict[str, Any]) -> None:
        name = request["EndpointConfigName"]
        if name in self.configs:
            raise AlreadyExists(f"Cannot create already existing endpoint configuration {name}")
        self.configs[name] = copy.deepcopy(request)
        self.calls.append(("create_endpoint_config", name))

    def create_endpoint(self, name: str, config: str, tags: list[dict[str, str]]) -> None:
        if name in self.endpoints:
            raise AlreadyExists(f"Cannot create already existing endpoint {name}")
        self.endpoints[name] = {
            "EndpointName": name,
            "EndpointConfigName": config,
            "EndpointStatus": "Creating",
        }
        self.calls.append(("create_endpoint", name))

    def update_endpoint(
        self, name: str, config: str, deployment_config: dict[str, Any] | None
    ) -> None:
        if name not in self.endpoints:
            raise NotFound(f"Could not find endpoint {name}")
        self.endpoints[name].update(
            EndpointConfigName=config,
            EndpointStatus="Updating",
            LastDeploymentConfig=deployment_config,
        )
        self.calls.append(("update_endpoint", name))

    def delete_endpoint(self, name: str) -> None:
        if self.endpoints.pop(name, None) is None:
            raise NotFound(f"Could not find endpoint {name}")
        self.calls.append(("delete_endpoint", name))

    # -- test controls --------------------------------------------------------------------
    def serve(self, name: str, config: str, status: str = "InService", **fields: Any) -> None:
        """An endpoint that exists already (as an earlier deployment left it)."""
        self.endpoints[name] = {
            "EndpointName": name,
            "EndpointConfigName": config,
            "EndpointStatus": status,
            **fields,
        }

    def settle(self, name: str, status: str = "InService", **fields: Any) -> None:
        self.endpoints[name].update(EndpointStatus=status, **fields)


class FakePackages:
    """The model registry (Packages port)."""

    def __init__(self, *packages: dict[str, Any]) -> None:
        self.packages = {p["ModelPackageArn"]: copy.deepcopy(p) for p in packages}

    def describe(self, arn: str) -> dict[str, Any]:
        if arn not in self.packages:
            raise NotFound(f"Model package {arn} does not exist")
        return copy.deepcopy(self.packages[arn])

    def find(self, arn: str) -> dict[str, Any] | None:
        try:
            return self.describe(arn)
        except NotFound:
            return None

    def set_status(self, arn: str, status: str) -> None:
        self.packages[arn]["ModelApprovalStatus"] = status


@dataclass
class FakeAlarms:
    """CloudWatch alarms (deploy's Alarms, monitoring's AlarmActions): `names` exist, those in
    `disabled` have their actions disabled."""

    names: set[str] = field(default_factory=set)
    disabled: set[str] = field(default_factory=set)

    def existing(self, names: list[str]) -> list[str]:
        return [n for n in names if n in self.names]

    def enable_actions(self, name: str) -> bool:
        self.disabled.discard(name)
        return name in self.names

    def disable_actions(self, name: str) -> bool:
        if name in self.names:
            self.disabled.add(name)
        return name in self.names

    def actions_enabled(self, name: str) -> bool | None:
        return None if name not in self.names else name not in self.disabled


class FakeTasks:
    """Step Functions task tokens (TaskTokens port): a token resumes its task once; an unknown,
    used or expired token raises TaskGone, as SendTask* answers InvalidToken / TaskTimedOut."""

    def __init__(self, *waiting: str) -> None:
        self.waiting = set(waiting)
        self.succeeded: list[tuple[str, dict[str, Any]]] = []
        self.failed: list[tuple[str, str, str]] = []

    def _use(self, token: str) -> None:
        if token not in self.waiting:
            raise TaskGone(f"Task Timed Out: '{token}'")
        self.waiting.discard(token)

    def succeed(self, token: str, output: dict[str, Any]) -> None:
        self._use(token)
        self.succeeded.append((token, copy.deepcopy(output)))

    def fail(self, token: str, error: str, cause: str) -> None:
        self._use(token)
        self.failed.append((token, error, cause))


class FakeExecutions:
    """Executions of state machines (Executions port): a name starts once."""

    def __init__(self) -> None:
        self.executions: dict[str, dict[str, Any]] = {}  # arn -> {name, payload, status}
        self.stopped: list[tuple[str, str, str]] = []

    @staticmethod
    def arn_of(state_machine_arn: str, name: str) -> str:
        return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> tuple[str, bool]:
        arn = self.arn_of(state_machine_arn, name)
        if arn in self.executions:
            return arn, False
        self.executions[arn] = {
            "name": name,
            "state_machine": state_machine_arn,
            "payload": copy.deepcopy(payload),
            "status": "RUNNING",
        }
        return arn, True

    def running(self, state_machine_arn: str) -> list[tuple[str, str]]:
        return [
            (arn, e["name"])
            for arn, e in self.executions.items()
            if e["state_machine"] == state_machine_arn and e["status"] == "RUNNING"
        ]

    def status(self, execution_arn: str) -> str | None:
        found = self.executions.get(execution_arn)
        return None if found is None else str(found["status"])

    def stop(self, execution_arn: str, error: str, cause: str) -> None:
        self.executions[execution_arn]["status"] = "ABORTED"
        self.stopped.append((execution_arn, error, cause))

    def started(self) -> list[str]:
        return [e["name"] for e in self.executions.values()]


class FakeMetrics:
    """CloudWatch metrics (monitoring's MetricSink port): each put as (namespace, dimensions,
    timestamp, values)."""

    def __init__(self) -> None:
        self.put_data: list[tuple[str, dict[str, str], datetime, dict[str, float]]] = []

    def put(
        self,
        namespace: str,
        dimensions: Mapping[str, str],
        timestamp: datetime,
        values: Mapping[str, float],
    ) -> None:
        self.put_data.append((namespace, dict(dimensions), timestamp, dict(values)))


@dataclass
class FakeSecret:
    value: str = "link-signing-secret"

    def get(self) -> str:
        return self.value


class FakeNotifier:
    """feecast.adapters.notify (Notifier port). `down`: SNS refuses every message."""

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.sent: list[dict[str, Any]] = []
        self.lost: list[str] = []

    def notify(
        self,
        topic_arn: str,
        subject: str,
        message: str,
        facts: Mapping[str, Any] | None = None,
        *,
        event: LifecycleEvent,
    ) -> str:
        if self.down:
            raise RuntimeError("SNS is down")
        self.sent.append(
            {
                "topic": topic_arn,
                "subject": subject,
                "message": message,
                "facts": dict(facts or {}),
                "event": event,
            }
        )
        return f"m-{len(self.sent)}"

    def notify_or_count(
        self,
        topic_arn: str,
        subject: str,
        message: str,
        facts: Mapping[str, Any] | None = None,
        *,
        event: LifecycleEvent,
    ) -> str | None:
        try:
            self.notify(topic_arn, subject, message, facts, event=event)
        except Exception as exc:
            self.lost.append(subject)
            return f"{type(exc).__name__}: {exc}"
        return None

    def subjects(self) -> list[str]:
        return [m["subject"] for m in self.sent]


class FakeParameters:
    """feecast.adapters.parameters (Parameters port): the SSM configuration and its versions."""

    def __init__(self, config: FeecastConfig | None = None, *, version: int = 1) -> None:
        self.config = config or FeecastConfig()
        self.version = version
        self.writes: list[ValidationConfig] = []
        self.reads: list[int] = []  # max_age of each read

    def load_config(self, prefix: str, *, max_age: int = 60) -> FeecastConfig:
        self.reads.append(max_age)
        return self.config

    def write_validation(self, prefix: str, validation: ValidationConfig) -> int:
        self.config = self.config.model_copy(update={"validation": validation})
        self.version += 1
        self.writes.append(validation)
        return self.version


class FakeOnce:
    """feecast.adapters.idempotency (Once port): one call per (name, key); a repeat returns the
    first result without calling."""

    def __init__(self) -> None:
        self.results: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}
        self.calls = 0

    def run_once(
        self,
        *,
        table: str,
        name: str,
        key: Mapping[str, str],
        expires_after_seconds: int,
        call: Callable[[], dict[str, Any]],
        lambda_context: Any | None = None,
    ) -> dict[str, Any]:
        memo = (name, tuple(sorted(key.items())))
        if memo not in self.results:
            self.calls += 1
            self.results[memo] = call()
        return copy.deepcopy(self.results[memo])


class FakeForecaster:
    """SageMaker Runtime (Forecaster port): a fixed answer, or an error."""

    def __init__(self, answer: bytes | Exception) -> None:
        self.answer = answer
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def invoke(self, endpoint_name: str, body: dict[str, Any]) -> bytes:
        self.asked.append((endpoint_name, body))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class FakeMinutes:
    """The feature group's minutes (RecentMinutes port): a series, or an error."""

    def __init__(self, series: MinuteSeries | Exception) -> None:
        self.series = series
        self.asked: list[tuple[datetime, datetime]] = []

    def read_minutes(
        self, feature_group_name: str, start: datetime, end: datetime, target_col: str
    ) -> MinuteSeries:
        self.asked.append((start, end))
        if isinstance(self.series, Exception):
            raise self.series
        return self.series


__all__ = [
    "FakeAlarms",
    "FakeEndpoints",
    "FakeExecutions",
    "FakeForecaster",
    "FakeMetrics",
    "FakeMinutes",
    "FakeNotifier",
    "FakeOnce",
    "FakePackages",
    "FakeParameters",
    "FakeSecret",
    "FakeState",
    "FakeTasks",
]
