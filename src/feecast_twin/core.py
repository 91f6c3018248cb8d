"""The local twin: template.yaml deployed into moto in-process, run against a controllable clock.

    with Twin(parameter_overrides={"ApprovalTimeoutSeconds": "5"}) as twin:
        twin.invoke("PrepareDataFunction", {...})
        report = twin.send_event(load_event("model-package-approved.json"))
        twin.advance(timedelta(hours=1))

See docs/local-twin.md for what is emulated and how faithfully, and twin-contract for the API.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import re
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import boto3
from botocore.config import Config

from feecast_twin import contracts
from feecast_twin.clock import TwinClock
from feecast_twin.components import Component
from feecast_twin.emf import publish_emf
from feecast_twin.events import (
    FINAL_EXECUTION_STATUSES,
    DeliveryReport,
    EventDelivery,
    Schedules,
    TargetRun,
)
from feecast_twin.faults import Faults
from feecast_twin.gateway import Gateway
from feecast_twin.lambda_runtime import LambdaRuntime
from feecast_twin.loader import Deployer, LoadedTemplate, Stack, load_template
from feecast_twin.patching import Patcher
from feecast_twin.server import TwinServer

log = logging.getLogger("feecast_twin")
T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"

#: (module, class) of the components CORE plugs in at deploy(); each is built as Cls(twin).
COMPONENTS = (
    ("feecast_twin.sagemaker", "SageMakerTwin"),
    ("feecast_twin.featurestore", "FeatureStoreTwin"),
    # before the alarms: an alarm evaluated at a tick sees the AWS metrics of that tick
    ("feecast_twin.awsmetrics", "AwsMetricsTwin"),
    ("feecast_twin.alarms", "AlarmTwin"),
)

_ACTIVE_LOCK = threading.Lock()
_ACTIVE: Twin | None = None


#: ASL text -> ANTLR parse tree (read-only once built), shared by every twin.
_ASL_TREES: dict[str, Any] = {}


class TwinInvokeError(RuntimeError):
    """A handler raised: the error Lambda reported (type and message), with its stack trace."""

    def __init__(
        self, function: str, error_type: str, message: str, stack: list[str] | None = None
    ):
        self.function = function
        self.error_type = error_type
        self.message = message
        self.stack = stack or []
        detail = ("\n" + "\n".join(self.stack)) if self.stack else ""
        super().__init__(f"{function} raised {error_type}: {message}{detail}")


@dataclass(frozen=True)
class TwinRecord:
    """One entry of the twin's timeline."""

    time: datetime
    kind: str
    fields: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        return {"time": self.time.isoformat(), "kind": self.kind, **self.fields}


class Twin:
    """template.yaml on moto, with real handlers, EventBridge delivery, schedules and a clock."""

    region = "eu-west-1"
    account_id = "123456789012"

    def __init__(
        self,
        template: str | Path | None = None,
        parameter_overrides: dict[str, Any] | None = None,
        start: datetime | None = None,
        *,
        stack_name: str = "feecast",
        components: bool | Iterable[str] = True,
        lambda_async_retries: int = 2,
        server_host: str = "127.0.0.1",
        server_port: int = 0,
    ) -> None:
        self.template_path = Path(template) if template else DEFAULT_TEMPLATE
        self.parameter_overrides = dict(parameter_overrides or {})
        self.stack_name = stack_name
        self.clock = TwinClock(start)
        self.records: list[TwinRecord] = []
        self._records_lock = threading.Lock()
        self._progress = threading.Condition()
        self._progress_count = 0
        # Replaced, never mutated, so record() can call a snapshot outside the lock.
        self._subscribers: tuple[tuple[object, Callable[[TwinRecord], Any]], ...] = ()
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._session: boto3.Session | None = None
        self._mock: Any = None
        self._deployed = False
        self._closed = False
        self._want_components = components
        self.components: list[Component] = []
        self.missing_components: list[tuple[str, str]] = []
        self.template: LoadedTemplate | None = None
        self.stack: Stack | None = None
        self.runtime = LambdaRuntime(self)
        # Every request passes the front door first (faults, AWS's request contracts); the
        # server is the AWS endpoint of the processes the twin starts.
        self.gateway = Gateway()
        self.server: TwinServer | None = None
        self._server_address = (server_host, server_port)
        self._extra_servers: list[TwinServer] = []
        self.delivery = EventDelivery(self, self.runtime, lambda_async_retries=lambda_async_retries)
        self.schedules = Schedules(self, self.delivery)
        # moto's Step Functions and DynamoDB as the twin changes them (docs/twin-patches.md).
        self._patches = Patcher("feecast_twin.core")
        self._seen_executions: set[str] = set()
        self._env_saved: dict[str, str | None] = {}
        # AWS API errors injected by reliability tests (feecast_twin/faults.py).
        self.faults = Faults(self)

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Twin:
        if not self._deployed:
            self.deploy()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def deploy(self) -> Twin:
        """Start moto and the clock, create every template resource, install the components."""
        global _ACTIVE
        if self._deployed:
            return self
        with _ACTIVE_LOCK:
            if _ACTIVE is not None and not _ACTIVE._closed:
                raise RuntimeError("another Twin is deployed in this process; close() it first")
            _ACTIVE = self
        try:
            self._start_mock()
            self.gateway.add(self.faults.check)
            self.gateway.listen(self._progressed)  # an answered call may be what a test awaits
            # AWS refuses what breaks the API's model (and a few documented limits).
            self.gateway.add(contracts.ContractCheck(self.record))
            self.gateway.install()
            self.faults.install()
            self.clock.start()
            host, port = self._server_address
            self.server = TwinServer(self.gateway, host, port).start()
            self.runtime.install()
            self.delivery.install()
            self._patch_stepfunctions()
            self._patch_dynamodb()
            self.template = load_template(self.template_path, self.parameter_overrides, self.region)
            self.stack = Deployer(self, self.template, self.stack_name).deploy()
            for name, (lid, code_dir, handler) in self.stack.functions.items():
                self.runtime.register(name, lid, code_dir, handler)
            for lid, rtype in self.unknown_resources:
                log.warning("twin: %s (%s) is not emulated", lid, rtype)
            self._register_stack()
            self._install_components()
            self.schedules.start(self.clock.now())
            self._deployed = True
            self.record(
                "deploy",
                stack=self.stack_name,
                resources=len(self.stack.physical),
                unknown=[f"{lid} ({t})" for lid, t in self.unknown_resources],
            )
        except BaseException:
            self.close()
            raise
        return self

    def _start_mock(self) -> None:
        from moto import mock_aws

        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }.items():
            self._env_saved[key] = os.environ.get(key)
            os.environ[key] = value
        # Leave lambda use_docker at its default: the no-docker backend bypasses _invoke_lambda.
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        self._session = _shared_session(self.region)
        # moto's mock empties boto3's default session; every Step Functions task then makes a
        # new one (boto3.client) and reads botocore's endpoint and service models again.
        self._patches.replace(
            boto3,
            "DEFAULT_SESSION",
            self._session,
            reason="speed: moto's Step Functions tasks call boto3.client(); one default session "
            "per process keeps botocore's models read once, not at every task",
        )

    def _register_stack(self) -> None:
        """Make DescribeStacks answer with the stack's Outputs, as after `sam deploy` (the
        operator CLI finds resources that way, on AWS and on the twin alike)."""
        assert self.stack is not None and self.template is not None
        outputs = {
            key: {"Value": ",".join(map(str, v)) if isinstance(v, list) else str(v)}
            for key, v in self.stack.outputs.items()
        }
        body = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": str(self.template.raw.get("Description", "feecast twin"))[:1024],
            "Resources": {"TwinStack": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": outputs,
        }
        with warnings.catch_warnings():  # moto: "WaitConditionHandle not supported" (a no-op)
            warnings.simplefilter("ignore")
            self.client("cloudformation").create_stack(
                StackName=self.stack_name, TemplateBody=json.dumps(body)
            )

    def _install_components(self) -> None:
        if self._want_components is False:
            return
        wanted = None if self._want_components is True else set(self._want_components)
        for module_name, cls_name in COMPONENTS:
            if wanted is not None and module_name.rsplit(".", 1)[-1] not in wanted:
                continue
            try:
                module = importlib.import_module(module_name)
                cls = getattr(module, cls_name)
            except (ImportError, AttributeError) as exc:
                # While the twin is being built the part may not exist yet: say so, loudly.
                self.missing_components.append((f"{module_name}.{cls_name}", str(exc)))
                log.warning("twin component %s.%s not available: %s", module_name, cls_name, exc)
                continue
            component = cls(self)
            try:
                component.install(self)
            except ImportError as exc:  # a part still being written: listed, not fatal
                self.missing_components.append((f"{module_name}.{cls_name}", str(exc)))
                log.warning("twin component %s could not install: %s", cls_name, exc)
                try:
                    component.uninstall()
                except Exception:
                    log.debug("uninstall after failed install", exc_info=True)
                continue
            except BaseException:
                # Undo what it patched before failing (a PatchError after a moto upgrade, say):
                # close() only uninstalls the components that made it into the list.
                with contextlib.suppress(Exception):
                    component.uninstall()
                raise
            self.components.append(component)

    def close(self) -> None:
        """Stop everything (waits briefly for running work) and restore real time and moto."""
        global _ACTIVE
        if self._closed:
            return
        self._closed = True
        try:
            if self._deployed:
                try:
                    self.settle(timeout=30, raise_on_timeout=False)
                except Exception as exc:
                    log.warning("twin: work still running at close: %s", exc)
            self._stop_executions()
        finally:
            for component in reversed(self.components):
                try:
                    component.uninstall()
                except Exception:
                    log.exception("uninstalling %s failed", component)
            self.components.clear()
            self.faults.uninstall()
            self.delivery.uninstall()
            self.runtime.uninstall()
            for extra in self._extra_servers:
                extra.stop()
            self._extra_servers.clear()
            if self.server is not None:
                self.server.stop()
                self.server = None
            self.gateway.uninstall()
            self._patches.undo()
            self.clock.stop()
            if self._mock is not None:
                self._mock.stop()
                self._mock = None
            for key, value in self._env_saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            _clear_powertools_caches()
            with _ACTIVE_LOCK:
                if _ACTIVE is self:
                    _ACTIVE = None

    # ------------------------------------------------------------------ processes
    @property
    def endpoint_url(self) -> str:
        """The twin's AWS endpoint (http://127.0.0.1:PORT), for other processes."""
        if self.server is None:
            raise RuntimeError("the twin is not deployed")
        return self.server.url

    def serve_on(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the twin's AWS endpoint on one more address (the AWS CLI, other programs):
        the same front door as the twin's own processes get (faults, contracts, call ledger),
        stopped when the twin closes. Returns its URL."""
        if self.server is None:
            raise RuntimeError("the twin is not deployed")
        extra = TwinServer(self.gateway, host, port).start()
        self._extra_servers.append(extra)
        return extra.url

    def worker_environment(self) -> dict[str, str]:
        """What every process the twin starts needs: its clock, its AWS endpoint (the SDK's
        standard AWS_ENDPOINT_URL), fake credentials, and no user AWS configuration."""
        return {
            **self.clock.env(),
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "ASIATWINFAKEKEY00000",
            "AWS_SECRET_ACCESS_KEY": "twin-fake-secret",
            "AWS_SESSION_TOKEN": "twin-fake-session-token",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def publish_metrics(self, logs: str) -> list[dict[str, Any]]:
        """What CloudWatch Logs does with a function's EMF lines: metric data."""
        return publish_emf(self.client("cloudwatch"), logs)

    def sim_time_ms(self) -> int:
        return int(self.clock.now().timestamp() * 1000)

    # ------------------------------------------------------------------ moto access
    def client(self, service: str) -> Any:
        """A boto3 client on the twin (cached; thread-safe to call)."""
        with self._clients_lock:
            if service not in self._clients:
                if self._session is None:
                    raise RuntimeError("the twin is not deployed")
                self._clients[service] = self._session.client(
                    service,
                    region_name=self.region,
                    config=Config(retries={"max_attempts": 1}),
                )
            return self._clients[service]

    @property
    def unknown_resources(self) -> list[tuple[str, str]]:
        """(logical id, type) of template resources and event sources the twin does not emulate."""
        if self.stack is None or self.template is None:
            return []
        return list(self.stack.unknown) + list(self.template.unknown_events)

    def physical_id(self, logical_id: str) -> Any:
        """What Ref returns for that logical id (a resource or a parameter)."""
        self._need_stack()
        assert self.stack is not None and self.template is not None
        if logical_id in self.stack.physical:
            return self.stack.physical[logical_id]
        if logical_id in self.template.parameters:
            return self.template.parameters[logical_id]
        raise KeyError(f"{logical_id} is not a created resource of the twin's stack")

    def att(self, logical_id: str, attribute: str) -> Any:
        """What GetAtt returns."""
        self._need_stack()
        assert self.stack is not None
        try:
            return self.stack.attributes[logical_id][attribute]
        except KeyError as exc:
            raise KeyError(f"no attribute {logical_id}.{attribute} in the twin") from exc

    @property
    def outputs(self) -> dict[str, Any]:
        self._need_stack()
        assert self.stack is not None
        return dict(self.stack.outputs)

    def logical_id_of(self, physical: str) -> str:
        """The logical id whose physical id (name or ARN) is `physical`; else `physical`."""
        if self.stack is not None:
            for lid, pid in self.stack.physical.items():
                if pid == physical:
                    return lid
            for lid, attrs in self.stack.attributes.items():
                if physical in (attrs.get("Arn"), attrs.get("Name")):
                    return lid
        return physical

    def _need_stack(self) -> None:
        if self.stack is None:
            raise RuntimeError("deploy() the twin first")

    # ------------------------------------------------------------------ timeline
    def record(self, kind: str, /, **fields: Any) -> None:
        rec = TwinRecord(time=datetime.now(UTC), kind=kind, fields=fields)
        with self._records_lock:
            self.records.append(rec)
            subscribers = self._subscribers
        for _, callback in subscribers:  # outside the lock: a callback may record too
            try:
                callback(rec)
            except Exception:
                log.exception("twin: a record subscriber failed on a %r record", kind)
        self._progressed()

    def _progressed(self, *_: Any) -> None:
        """Something happened (a record, an AWS call answered): wake `wait_for`."""
        with self._progress:
            self._progress_count += 1
            self._progress.notify_all()

    def wait_for(
        self, condition: Callable[[], T | None], *, what: str, timeout: float = 120.0
    ) -> T:
        """Wait until `condition()` returns something truthy, and return it. It is asked again
        each time the twin records something or answers an AWS call (and at least every 0.25 s);
        past `timeout` seconds, TimeoutError says what was awaited."""
        deadline = time.monotonic() + timeout
        with self._progress:
            seen = self._progress_count
        while True:
            value = condition()
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                recent = ", ".join(f"{r.kind}" for r in self.records[-8:])
                raise TimeoutError(
                    f"the twin waited {timeout:g} s for {what}; busy: {self.busy() or 'nothing'}; "
                    f"last records: {recent}"
                )
            with self._progress:
                if self._progress_count == seen:
                    self._progress.wait(min(left, 0.25))
                seen = self._progress_count

    def wait_for_sns(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        *,
        what: str,
        timeout: float = 120.0,
        topic_logical_id: str = "NotificationTopic",
    ) -> dict[str, Any]:
        """The newest message on the topic that satisfies `predicate`, once there is one."""

        def newest() -> dict[str, Any] | None:
            found = [m for m in self.sns_messages(topic_logical_id) if predicate(m)]
            return found[-1] if found else None

        return self.wait_for(newest, what=what, timeout=timeout)

    def subscribe(self, callback: Callable[[TwinRecord], Any]) -> Callable[[], None]:
        """Call `callback(record)` for each record appended from now on; returns the function
        that unsubscribes. The callback runs on the recording thread, after the append and
        outside the records lock; its exceptions are logged, never raised to the recorder.
        Records appended by concurrent threads may reach it out of order (`twin.records`
        keeps the order), and one already in flight may arrive after unsubscribing."""
        entry = (object(), callback)  # its own token: the same callback may subscribe twice
        with self._records_lock:
            self._subscribers = (*self._subscribers, entry)

        def unsubscribe() -> None:
            with self._records_lock:
                self._subscribers = tuple(e for e in self._subscribers if e is not entry)

        return unsubscribe

    def records_of(self, kind: str) -> list[TwinRecord]:
        with self._records_lock:
            return [r for r in self.records if r.kind == kind]

    # ------------------------------------------------------------------ Lambda
    def _function_name(self, function: str) -> str:
        assert self.stack is not None
        if function in self.stack.physical and self.stack.types.get(function, "").endswith(
            "Function"
        ):
            return str(self.stack.physical[function])
        return function

    def invoke(self, function: str, event: Any = None) -> Any:
        """Invoke a function (logical id or name) through lambda:Invoke; the parsed payload.

        Raises TwinInvokeError when the handler raised."""
        self._need_stack()
        name = self._function_name(function)
        resp = self.client("lambda").invoke(
            FunctionName=name, Payload=json.dumps({} if event is None else event).encode()
        )
        raw = resp["Payload"].read().decode()
        try:
            payload = json.loads(raw)
        except json.JSONDecodeError:
            payload = raw
        if resp.get("FunctionError"):
            if isinstance(payload, dict):
                raise TwinInvokeError(
                    function,
                    str(payload.get("errorType")),
                    str(payload.get("errorMessage")),
                    list(payload.get("stackTrace") or []),
                )
            raise TwinInvokeError(function, "Unknown", str(payload))
        return payload

    def http_request(
        self,
        method: str,
        path: str,
        *,
        body: str | bytes | dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        api: str | None = None,
    ) -> dict[str, Any]:
        """Call an HTTP API route (SAM HttpApi / Api events) as API Gateway would: builds the
        payload format 2.0 event, invokes the routed function, returns {statusCode, headers,
        body}. 404 when no route matches, 500 when the handler raised (as API Gateway)."""
        self._need_stack()
        assert self.template is not None
        route, params = _match_route(self.template.routes, method, path, api)
        if route is None:
            return {"statusCode": 404, "headers": {}, "body": json.dumps({"message": "Not Found"})}
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, bytes):
            body = body.decode()
        hdrs = {k.lower(): v for k, v in (headers or {}).items()}
        api_id = str(self.physical_id(route.api_logical_id)) if route.api_logical_id else "twinapi"
        now = self.clock.now()
        route_key = "$default" if route.path == "$default" else f"{route.method} {route.path}"
        event = {
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": path,
            "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
            "headers": hdrs,
            "requestContext": {
                "accountId": self.account_id,
                "apiId": api_id,
                "domainName": f"{api_id}.execute-api.{self.region}.amazonaws.com",
                "domainPrefix": api_id,
                "http": {
                    "method": method.upper(),
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": hdrs.get("user-agent", "feecast-twin"),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": route_key,
                "stage": "$default",
                "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": int(now.timestamp() * 1000),
            },
            "isBase64Encoded": False,
        }
        if query:
            event["queryStringParameters"] = dict(query)
        if params:
            event["pathParameters"] = params
        if body is not None:
            event["body"] = body
        try:
            result = self.invoke(route.function_logical_id, event)
        except TwinInvokeError:
            return {
                "statusCode": 500,
                "headers": {},
                "body": json.dumps({"message": "Internal Server Error"}),
            }
        if isinstance(result, dict) and "statusCode" in result:
            return {
                "statusCode": int(result["statusCode"]),
                "headers": dict(result.get("headers") or {}),
                "body": result.get("body", ""),
            }
        # Payload 2.0 without statusCode: API Gateway answers 200 with the JSON result.
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/json"},
            "body": result if isinstance(result, str) else json.dumps(result),
        }

    def lambda_logs(self, function: str) -> list[str]:
        """Captured stdout of every invocation of a function so far, oldest first."""
        name = self._function_name(function)
        return [inv.logs for inv in self.runtime.invocations if inv.function == name]

    # ------------------------------------------------------------------ EventBridge
    def component(self, name: str) -> Component:
        """The deployed component called `name` ("sagemaker", "featurestore", "alarms")."""
        for component in self.components:
            if component.name == name:
                return component
        raise KeyError(f"no component {name!r}: deployed are {[c.name for c in self.components]}")

    def send_event(self, event: dict[str, Any], *, timeout: float = 600) -> DeliveryReport:
        """Put a full EventBridge envelope (events/*.json style) on its bus; deliver; wait."""
        for key in ("source", "detail-type"):
            if key not in event:
                raise ValueError(f"event has no {key!r}: {json.dumps(event)[:200]}")
        entry: dict[str, Any] = {
            "Source": event["source"],
            "DetailType": event["detail-type"],
            "Detail": json.dumps(event.get("detail") or {}),
            "Resources": list(event.get("resources") or []),
            "EventBusName": event.get("event-bus-name", "default"),
        }
        if event.get("time"):
            entry["Time"] = _parse_time(event["time"]).timestamp()
        return self._put(entry, timeout)

    def emit_event(
        self,
        *,
        source: str,
        detail_type: str,
        detail: dict[str, Any],
        resources: list[str] | None = None,
        time: datetime | None = None,
        wait: bool = False,
        timeout: float = 600,
    ) -> DeliveryReport:
        """Put an event on the default bus as an AWS service would (e.g. aws.sagemaker).

        With wait=False (the default, as a service does not wait for its consumers) the report
        lists the rules matched and the targets queued; their outcome fills in as they run."""
        entry: dict[str, Any] = {
            "Source": source,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, default=str),
            "Resources": list(resources or []),
            "EventBusName": "default",
            "Time": (time or self.clock.now()).timestamp(),
        }
        return self._put(entry, timeout if wait else None)

    def _put(self, entry: dict[str, Any], timeout: float | None) -> DeliveryReport:
        from moto.events.models import events_backends

        backend = events_backends[self.account_id][self.region]
        result = backend.put_events([entry])[0]
        event = {
            "source": entry["Source"],
            "detail-type": entry["DetailType"],
            "detail": json.loads(entry["Detail"]),
            "resources": entry["Resources"],
        }
        if "ErrorCode" in result:
            return DeliveryReport(
                None, event, error=f"{result['ErrorCode']}: {result['ErrorMessage']}"
            )
        event_id = result["EventId"]
        event["id"] = event_id
        self.record(
            "event",
            id=event_id,
            source=entry["Source"],
            detail_type=entry["DetailType"],
            resources=entry["Resources"],
        )
        rules, runs = self.delivery.runs_for(event_id)
        report = DeliveryReport(event_id, event, rules_matched=rules, targets=runs)
        if timeout is not None:
            self.wait_for_report(report, timeout)
        return report

    def wait_for_report(self, report: DeliveryReport, timeout: float = 600) -> DeliveryReport:
        """Wait until every target of the report ran (executions until they end or park on a
        task token); fills in their final statuses."""
        deadline = time.monotonic() + timeout
        for run in report.targets:
            if not run.done.wait(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"target {run.target_id} of {run.rule} still queued")
            if run.execution_arn:
                desc = self._wait_execution(run.execution_arn, deadline, park_ok=True)
                run.status = desc["status"]
                if desc["status"] == "SUCCEEDED":
                    run.result = _maybe_json(desc.get("output"))
                elif desc["status"] != "RUNNING":
                    run.error_type = desc.get("error")
                    run.error_message = desc.get("cause")
        return report

    # ------------------------------------------------------------------ Step Functions
    def _sfn_backend(self) -> Any:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        return stepfunctions_parser_backends[self.account_id][self.region]

    def start_execution(
        self, state_machine: str, input: Any = None, name: str | None = None
    ) -> str:
        """Start an execution (logical id, name or ARN); returns its ARN."""
        self._need_stack()
        arn = self._state_machine_arn(state_machine)
        resp = self.client("stepfunctions").start_execution(
            stateMachineArn=arn,
            name=name or str(uuid.uuid4()),
            input=json.dumps({} if input is None else input),
        )
        return str(resp["executionArn"])

    def _state_machine_arn(self, state_machine: str) -> str:
        assert self.stack is not None
        if state_machine.startswith("arn:"):
            return state_machine
        if state_machine in self.stack.physical:
            return str(self.stack.physical[state_machine])
        for sm in self._sfn_backend().state_machines:
            if sm.name == state_machine:
                return str(sm.arn)
        raise KeyError(f"no state machine {state_machine!r} in the twin")

    def wait_for_execution(self, arn: str, timeout: float = 300) -> dict[str, Any]:
        """Wait until the execution ends; its DescribeExecution result."""
        return self._wait_execution(arn, time.monotonic() + timeout, park_ok=False)

    def _wait_execution(self, arn: str, deadline: float, park_ok: bool) -> dict[str, Any]:
        sfn = self.client("stepfunctions")

        def done() -> dict[str, Any] | None:
            desc = dict(sfn.describe_execution(executionArn=arn))
            if desc["status"] in FINAL_EXECUTION_STATUSES:
                return desc
            if park_ok and self._waiting_for_callback(arn):
                return desc
            return None

        what = f"execution {arn} to end" + (" or wait for a task token" if park_ok else "")
        return self.wait_for(done, what=what, timeout=max(0.0, deadline - time.monotonic()))

    def execution_history(self, arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": arn}
        while True:
            page = self.client("stepfunctions").get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def _running_executions(self) -> list[Any]:
        return [
            ex
            for sm in list(self._sfn_backend().state_machines)
            for ex in list(sm.executions)
            if str(ex.exec_status) == "RUNNING"
            or getattr(ex.exec_status, "value", None) == "RUNNING"
        ]

    def _waiting_for_callback(self, arn: str) -> bool:
        for ex in self._running_executions():
            if ex.exec_arn == arn:
                return _parked(ex)
        return False

    def _stop_executions(self) -> None:
        for ex in self._running_executions():
            try:
                ex.stop(stop_date=datetime.now(UTC), error="TwinClosed", cause="the twin closed")
            except Exception:
                log.debug("stopping %s failed", ex.exec_arn, exc_info=True)

    def _patch_dynamodb(self) -> None:
        """Parse each UpdateExpression text once: moto parses it twice per UpdateItem (~30% of
        the call, and ingestion makes thousands), then deep-copies the tree before validating
        or applying it, so a cached tree is never changed. Same results, same errors."""
        from moto.dynamodb import models as ddb_models
        from moto.dynamodb import responses as ddb_responses

        original = ddb_models.UpdateExpressionParser
        parsed: dict[str, Any] = {}
        cached: set[int] = set()  # ids of the cached trees (they live as long as the twin)

        class CachedUpdateExpressionParser:
            @staticmethod
            def make(expression: str) -> Any:
                tree = parsed.get(expression)
                if tree is None:
                    tree = original.make(expression)  # a bad expression raises every time
                    if len(parsed) < 1024:
                        parsed[expression] = tree
                        cached.add(id(tree))
                return tree

        for owner in (ddb_models, ddb_responses):
            self._patches.replace(
                owner,
                "UpdateExpressionParser",
                CachedUpdateExpressionParser,
                reason="speed: moto parses each UpdateExpression twice per UpdateItem; "
                "the tree is parsed once per text",
            )
        self._patch_dynamodb_validator(cached)
        self._patch_dynamodb_item_size()

    def _patch_dynamodb_item_size(self) -> None:
        """moto checks the 400 KB item limit on every attribute an update sets, by sizing the
        whole item, and sizes a set by building a DynamoType per element: an ingest minute's
        `seen` set of a few hundred keys made that the largest cost of an UpdateItem. The same
        sizes, element by element: a number counts its digits, a string or binary its bytes."""
        from moto.dynamodb.models import dynamo_type
        from moto.dynamodb.models.utilities import bytesize

        original = dynamo_type.DynamoType.size

        def size(self: Any) -> int:
            kind = self.type
            if len(kind) == 2 and kind[1] == "S" and kind[0] in "SNB":  # SS, NS, BS
                if kind[0] == "N":
                    return sum(len(str(v)) for v in self.value)
                # moto sizes a bool as 1 wherever it appears (only a malformed request sends one)
                return sum(1 if isinstance(v, bool) else bytesize(v) for v in self.value)
            return int(original(self))

        self._patches.replace(
            dynamo_type.DynamoType,
            "size",
            size,
            reason="speed: moto sizes a set by building a DynamoType per element, on every "
            "attribute an update sets; the same sizes, counted directly",
        )

    def _patch_dynamodb_validator(self, cached: set[int]) -> None:
        """Trim moto's per-call work (ingestion makes thousands of UpdateItems), same checks:
        - each traverser's node types are fixed per class, but moto rebuilds them per node, and
          tests every node against ABCs: both answered once per class;
        - every call of every service listed all methods of its response class to test one
          name (inspect.getmembers): the name is tested alone;
        - a cached tree is copied from a pickle taken once (7x quicker than deepcopy, same tree);
        - the three checks that read only the expression, its attribute names and the table's
          key names (clause counts, overlapping paths, key updates) are skipped once they have
          passed for that same combination; everything that reads values or the item still runs.
        """
        import inspect
        import pickle
        from copy import deepcopy

        from moto.core import responses as core_responses
        from moto.dynamodb.parsing import ast_nodes
        from moto.dynamodb.parsing import validators as ddb_validators

        traverser = ast_nodes.DepthFirstTraverser
        node_types: dict[type, tuple[type, ...]] = {}

        def nodes_to_be_processed(processor: Any) -> tuple[type, ...]:
            kinds = node_types.get(type(processor))
            if kinds is None:
                kinds = node_types[type(processor)] = tuple(processor._processing_map())
            return kinds

        is_node: dict[type, bool] = {}  # Node is an ABC: isinstance on it is slow, and per node
        wanted: dict[tuple[type, type], bool] = {}

        def traverse_node_recursively(processor: Any, node: Any, child_id: int = -1) -> Any:
            # moto's own traversal (depth first, children processed before their parent), with
            # the type tests answered once per (processor, node) class pair.
            kind = type(node)
            node_like = is_node.get(kind)
            if node_like is None:
                node_like = is_node[kind] = isinstance(node, ast_nodes.Node)
            if not node_like:
                return node
            parent_node = node.parent
            if node.children is not None:
                for i, child_node in enumerate(node.children):
                    processor.pre_processing_of_child(node, i)
                    processor.traverse_node_recursively(child_node, i)
            pair = (type(processor), kind)
            match = wanted.get(pair)
            if match is None:
                match = wanted[pair] = isinstance(node, nodes_to_be_processed(processor))
            if match:
                node = processor.process(node)
                node.parent = parent_node
                if parent_node:
                    parent_node.children[child_id] = node
            return node

        validator = ddb_validators.Validator  # UpdateExpressionValidator's base, its only one
        pure = (
            ddb_validators.ActionCountValidator,
            ddb_validators.OverlappingPathsValidator,
            ddb_validators.UpdateHashRangeKeyValidator,
        )
        pickles: dict[int, bytes] = {}  # id(cached tree) -> its pickle (cached trees live on)
        passed: set[tuple[Any, ...]] = set()

        def init(
            self: Any,
            expression: Any,
            expression_attribute_names: dict[str, str],
            expression_attribute_values: dict[str, dict[str, Any]],
            item: Any,
            table: Any,
        ) -> None:
            self.expression_attribute_names = expression_attribute_names
            self.expression_attribute_values = expression_attribute_values
            self.item = item
            self.table = table
            self.processors = self.get_ast_processors()
            self._twin_pure_key = None
            blob = pickles.get(id(expression))
            if blob is None and id(expression) in cached:
                try:
                    blob = pickles[id(expression)] = pickle.dumps(expression, -1)
                except (pickle.PicklingError, TypeError, AttributeError):
                    blob = None  # not picklable: moto's own deepcopy below
            if blob is None:
                self.node_to_validate = deepcopy(expression)
                return
            self.node_to_validate = pickle.loads(blob)
            self._twin_pure_key = (
                id(expression),
                tuple(sorted((expression_attribute_names or {}).items())),
                tuple(table.table_key_attrs),
            )

        def validate(self: Any) -> Any:
            key = self._twin_pure_key
            n = self.node_to_validate
            skip = key is not None and key in passed
            for processor in self.processors:
                if skip and isinstance(processor, pure):
                    continue
                n = processor.traverse(n)
                if key is not None and isinstance(processor, pure[-1]):
                    passed.add(key)
            return n

        class FunctionNames:
            """moto's `action in method_names_from_class(cls)` without listing every member of
            the class (inspect.getmembers) on each call of every service: the same test, asked
            of the one name."""

            def __init__(self, clazz: type) -> None:
                self.clazz = clazz

            def __contains__(self, name: object) -> bool:
                return isinstance(name, str) and inspect.isfunction(getattr(self.clazz, name, None))

        for owner, attr, new, reason in (
            (
                core_responses,
                "method_names_from_class",
                FunctionNames,
                "speed: moto lists every method of a response class on each call to test one name",
            ),
            (
                traverser,
                "nodes_to_be_processed",
                nodes_to_be_processed,
                "speed: moto rebuilds a traverser's node types, fixed per class, for every node",
            ),
            (
                traverser,
                "traverse_node_recursively",
                traverse_node_recursively,
                "speed: moto tests every node against ABCs; answered once per class pair",
            ),
            (
                validator,
                "__init__",
                init,
                "speed: a cached UpdateExpression tree is copied from a pickle, not deep-copied",
            ),
            (
                validator,
                "validate",
                validate,
                "speed: checks that read only the expression and key names run once per "
                "combination",
            ),
        ):
            self._patches.replace(owner, attr, new, reason=reason)

    def _patch_stepfunctions(self) -> None:
        """Record executions starting and ending (any source: twin, handlers, AWS CLI)."""
        from moto.stepfunctions.parser.backend import execution as ex_mod

        twin = self
        start_orig = ex_mod.Execution.start
        term_orig = ex_mod.BaseExecutionWorkerCommunication.terminated

        def start(execution: Any) -> None:
            start_orig(execution)
            twin.record(
                "execution-started",
                state_machine=twin.logical_id_of(execution.state_machine_arn),
                execution_arn=execution.exec_arn,
                name=execution.name,
            )

        def terminated(comm: Any) -> None:
            term_orig(comm)
            ex = comm.execution
            status = getattr(ex.exec_status, "value", str(ex.exec_status))
            twin.record(
                "execution-ended",
                state_machine=twin.logical_id_of(ex.state_machine_arn),
                execution_arn=ex.exec_arn,
                status=status,
                error=ex.error,
                cause=ex.cause,
            )

        from moto.core.responses import ActionResult, EmptyResult
        from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
        from moto.stepfunctions.responses import StepFunctionResponse

        add_event_orig = EventManager.add_event

        def add_event(manager: Any, *args: Any, **kwargs: Any) -> int:
            # Each history event is progress a waiter may be watching for (a task submitted).
            event_id: int = add_event_orig(manager, *args, **kwargs)
            twin._progressed()
            return event_id

        def send_task_failure(response: Any) -> Any:
            # moto 5.2.5 drops SendTaskFailure's `cause`; AWS hands it to the task's Catch.
            response.stepfunction_backend.send_task_failure(
                response._get_param("taskToken"),
                error=response._get_param("error"),
                cause=response._get_param("cause"),
            )
            return EmptyResult()

        def get_execution_history(response: Any) -> Any:
            # moto 5.2.5 ignores reverseOrder, maxResults and nextToken; `feecast status` reads
            # the newest events first to name a running execution's current step.
            history = response.stepfunction_backend.get_execution_history(
                response._get_param("executionArn")
            )
            events = list(history["events"])
            if response._get_param("reverseOrder"):
                events.reverse()
            size = int(response._get_param("maxResults") or 0) or 100  # AWS's default page
            token = response._get_param("nextToken")
            offset = int(token) if token and str(token).isdigit() else 0
            page: dict[str, Any] = {"events": events[offset : offset + size]}
            if offset + size < len(events):
                page["nextToken"] = str(offset + size)
            return ActionResult(page)

        # moto lexes and parses a definition with ANTLR at every CreateStateMachine and at
        # every execution's start (~0.3 s each); the parse tree depends on the text alone, so it
        # is kept per text and only the cheap step (tree -> fresh evaluation components) repeats.
        from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
        from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

        parse_orig = AmazonStateLanguageParser.__dict__["parse"]

        def parse(definition: str) -> tuple[Any, Any]:
            tree = _ASL_TREES.get(definition)
            if tree is None:
                program, tree = parse_orig.__func__(definition)  # raises on invalid definitions
                if len(_ASL_TREES) >= 64:
                    _ASL_TREES.clear()
                _ASL_TREES[definition] = tree
                return program, tree
            return Preprocessor().visit(tree), tree

        self._patches.replace(
            AmazonStateLanguageParser,
            "parse",
            parse,
            reason="speed: moto parses a definition with ANTLR at every create and start; "
            "the tree is kept per text",
        )
        for owner, attr, new, reason in (
            (
                ex_mod.Execution,
                "start",
                start,
                "the twin records each execution's start (twin.records), whoever started it",
            ),
            (
                ex_mod.BaseExecutionWorkerCommunication,
                "terminated",
                terminated,
                "the twin records each execution's end and status (twin.records)",
            ),
            (
                EventManager,
                "add_event",
                add_event,
                "each history event is progress a waiter may be watching for",
            ),
            (
                StepFunctionResponse,
                "send_task_failure",
                send_task_failure,
                "moto 5.2.5 drops SendTaskFailure's cause; AWS hands it to the task's Catch",
            ),
            (
                StepFunctionResponse,
                "get_execution_history",
                get_execution_history,
                "GetExecutionHistory honours reverseOrder, maxResults and nextToken; moto 5.2.5 "
                "returns every event oldest first",
            ),
        ):
            self._patches.replace(owner, attr, new, reason=reason)

    # ------------------------------------------------------------------ clock
    def busy(self) -> list[str]:
        """What is still running (empty when the twin is idle)."""
        what: list[str] = []
        if self.delivery.busy():
            what.append("eventbridge deliveries")
        if self.runtime.busy():
            what.append("lambda invocations")
        running = [ex for ex in self._running_executions() if not _parked(ex)]
        what.extend(f"execution {ex.exec_arn}" for ex in running)
        for component in self.components:
            try:
                if component.busy():
                    what.append(f"component {component.name}")
            except Exception:
                log.exception("%s.busy() failed", component)
        return what

    def settle(self, timeout: float = 600, *, raise_on_timeout: bool = True) -> None:
        """Wait until nothing runs: deliveries, invocations, executions (except those waiting
        for a task token) and busy components."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while True:
            what = self.busy()
            if not what:
                quiet += 1
                if quiet >= 2:  # twice in a row: a delivery may be between queue and thread
                    return
            else:
                quiet = 0
            if time.monotonic() > deadline:
                if raise_on_timeout:
                    raise TimeoutError(f"twin not settled after {timeout}s: {', '.join(what)}")
                return
            # While busy, short waits: the clock settles after every simulated minute and 20 ms
            # sleeps were a third of the demo's wall time (bench/bench_lifecycle.py); deliveries
            # (most of the work) wake the wait as soon as they end. The 10 ms between the two
            # quiet checks stays: shorter, and handoffs between threads slip through (seen as a
            # flaky tests/integration/test_deploy_twin.py at 2 ms).
            if what == ["eventbridge deliveries"]:
                self.delivery.wait_idle(timeout=0.02)
            else:
                time.sleep(0.01 if not what else 0.005)

    def advance(
        self,
        delta: timedelta | float,
        step: timedelta = timedelta(minutes=1),
        *,
        settle_timeout: float = 600,
    ) -> datetime:
        """Move the clock forward in steps; at each step fire due schedules, tick the
        components, settle. Returns the new now."""
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=float(delta))
        if step <= timedelta(0):
            raise ValueError("step must be positive")
        self._need_stack()
        end = self.clock.now() + delta
        while True:
            now = self.clock.now()
            if now >= end:
                break
            self.clock.jump(min(step, end - now))
            self.tick(settle_timeout=settle_timeout)
        return self.clock.now()

    def tick(self, *, settle_timeout: float = 600) -> None:
        """One step at the current time: fire due schedules, tick components, settle."""
        now = self.clock.now()
        self.schedules.fire_due(now)
        for component in self.components:
            component.on_tick(now)
        self.settle(timeout=settle_timeout)

    # ------------------------------------------------------------------ observations
    def sns_messages(self, topic_logical_id: str = "NotificationTopic") -> list[dict[str, Any]]:
        """Messages published to a topic (logical id, name or ARN), oldest first."""
        from moto.sns.models import sns_backends

        topic_arn = (
            self.physical_id(topic_logical_id)
            if self.stack and topic_logical_id in self.stack.physical
            else topic_logical_id
        )
        backend = sns_backends[self.account_id][self.region]
        out = []
        for msg in (
            backend.topics[topic_arn].sent_notifications if topic_arn in backend.topics else []
        ):
            message_id, message, subject, attributes, _group_id = (list(msg) + [None] * 5)[:5]
            out.append(
                {
                    "message_id": message_id,
                    "message": message,
                    "subject": subject,
                    "attributes": attributes,
                    "json": _maybe_json(message),
                }
            )
        return out

    def bus_events(
        self, source: str | None = None, detail_type: str | None = None
    ) -> list[dict[str, Any]]:
        """Events put on any bus (PutEvents from handlers, Step Functions' events:putEvents,
        the twin's own AWS-service events), oldest first: event_id, event_bus, source,
        detail_type, resources, detail (parsed)."""
        return [
            r.to_dict()
            for r in self.records_of("bus-event")
            if (source is None or r["source"] == source)
            and (detail_type is None or r["detail_type"] == detail_type)
        ]

    def wait_for_bus_event(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        *,
        what: str,
        timeout: float = 120.0,
    ) -> dict[str, Any]:
        """The newest event put on a bus that satisfies `predicate`, once there is one."""

        def newest() -> dict[str, Any] | None:
            found = [e for e in self.bus_events() if predicate(e)]
            return found[-1] if found else None

        return self.wait_for(newest, what=what, timeout=timeout)

    def metric_data(
        self, namespace: str, metric_name: str, dimensions: dict[str, str] | None = None
    ) -> list[tuple[datetime, float]]:
        """(timestamp, value) of every datum of a metric (with exactly these dimensions, when
        given), oldest first."""
        from moto.cloudwatch.models import cloudwatch_backends

        backend = cloudwatch_backends[self.account_id][self.region]
        out = []
        for datum in backend.get_all_metrics():
            if datum.namespace != namespace or datum.name != metric_name:
                continue
            if dimensions is not None:
                dims = {d.name: d.value for d in datum.dimensions}
                if dims != dimensions:
                    continue
            ts = datum.timestamp
            if ts.tzinfo is None:
                ts = ts.replace(tzinfo=UTC)
            out.append((ts, float(datum.value)))
        return sorted(out, key=lambda item: item[0])


_SESSIONS: dict[str, boto3.Session] = {}


def _shared_session(region: str) -> boto3.Session:
    """One boto3 session per process: its loader caches the service models (about 1 s to read)."""
    if region not in _SESSIONS:
        _SESSIONS[region] = boto3.Session(region_name=region)
    return _SESSIONS[region]


def _parked(execution: Any) -> bool:
    """True when a running execution waits for SendTaskSuccess / Failure (a person, a token):
    a callback is pending AND the task that hands the token out has been submitted (its
    TaskSubmitted is the last history event), so the Lambda function or service that received
    the token has finished running."""
    worker = getattr(execution, "exec_worker", None)
    env = getattr(worker, "env", None)
    manager = getattr(env, "callback_pool_manager", None)
    pool = getattr(manager, "_pool", None)
    if not pool:
        return False
    waiting = any(
        ep.get_outcome() is None and ep.consumer_error is None for ep in list(pool.values())
    )
    if not waiting:
        return False
    events = getattr(getattr(env, "event_manager", None), "_history_event_list", None) or []
    if not events:
        return False
    last = events[-1].get("type")
    return str(getattr(last, "value", last)) == "TaskSubmitted"


def _match_route(
    routes: list[Any], method: str, path: str, api: str | None
) -> tuple[Any, dict[str, str]]:
    """The route for method + path (exact methods before ANY, $default last) and its params."""
    candidates = [r for r in routes if api is None or r.api_logical_id == api]
    method = method.upper()
    for wanted in (method, "ANY"):
        for route in candidates:
            if route.method != wanted or route.path == "$default":
                continue
            pattern = (
                "^"
                + re.sub(
                    r"\\\{([^}]+?)(\\\+)?\\\}",
                    lambda m: f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)",
                    re.escape(route.path),
                )
                + "$"
            )
            m = re.match(pattern, path)
            if m:
                return route, {k.rstrip("+"): v for k, v in m.groupdict().items()}
    for route in candidates:
        if route.path == "$default":
            return route, {}
    return None, {}


def _parse_time(value: Any) -> datetime:
    """An event's "time": ISO-8601, or epoch as AWS's SageMaker examples spell it ("1583831889050" ms)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    try:
        epoch = float(text)
    except ValueError:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    # Seconds since 1970 stay below 1e11 until the year 5138; anything larger is milliseconds.
    return datetime.fromtimestamp(epoch / 1000 if epoch >= 1e11 else epoch, UTC)


def _maybe_json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _clear_powertools_caches() -> None:
    try:
        from aws_lambda_powertools.utilities import parameters

        parameters.clear_caches()
    except Exception:  # pragma: no cover - powertools missing or changed
        log.debug("powertools caches not cleared", exc_info=True)


__all__ = ["DeliveryReport", "TargetRun", "Twin", "TwinInvokeError", "TwinRecord"]
