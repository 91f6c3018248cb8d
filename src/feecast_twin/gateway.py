"""The twin's front door: every AWS request passes here before moto sees it.

Requests reach the twin two ways: in-process boto3 calls (the Step Functions engine's service
integrations, tests, the twin's own clients), which moto answers from botocore's `before-send`
hook, and HTTP requests to the twin's endpoint (Lambda workers, SageMaker containers, the AWS
CLI against `feecast local serve`). Both are turned into the same `Call`: the service, the
operation (botocore's model) and the parameters parsed from the wire as the service would parse
them (moto's request parsers). Then, in order:

1. an armed fault (feecast_twin.faults) answers with its AWS error;
2. the request is checked against the operation's model as AWS checks it on the server
   (feecast_twin.contracts): a violation is answered with AWS's ValidationException.

Otherwise moto answers. A request the front door cannot place (a service the twin does not
know, an unknown operation, a body that does not parse) goes to moto unchanged: moto answers it
as it would have.
"""

from __future__ import annotations

import functools
import io
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from feecast_twin.patching import Patcher

log = logging.getLogger("feecast_twin.gateway")

#: (status, headers, body) of an answer given instead of moto's.
Answer = tuple[int, dict[str, str], bytes]

#: The services the twin serves (template.yaml's, what Step Functions calls, and the CLI's).
SERVICES = (
    "apigatewayv2",
    "cloudformation",
    "cloudwatch",
    "dynamodb",
    "events",
    "iam",
    "kms",
    "lambda",
    "logs",
    "s3",
    "sagemaker",
    "sagemaker-featurestore-runtime",
    "sagemaker-runtime",
    "scheduler",
    "secretsmanager",
    "service-quotas",
    "sns",
    "sqs",
    "ssm",
    "stepfunctions",
    "sts",
)


#: Services whose requests moto must answer one at a time. AWS makes each request atomic (a
#: DynamoDB conditional write, a StartExecution with a name, a CreateTrainingJob, a PutParameter
#: without Overwrite either happens or is refused); moto's backends check and then write with no
#: lock, so two concurrent requests could both pass the check. None of these calls blocks long.
ATOMIC_SERVICES = frozenset({"dynamodb", "stepfunctions", "sagemaker", "ssm", "s3", "scheduler"})


@dataclass(frozen=True)
class Call:
    """One AWS request, as the service sees it."""

    service: str  # boto3 client name: "sagemaker", "stepfunctions", ...
    operation: str  # "CreateTrainingJob"
    params: dict[str, Any]  # parsed from the wire, keyed by the model's member names
    operation_model: Any


class Check(Protocol):
    def __call__(self, call: Call) -> Answer | None: ...


# -- the service index ------------------------------------------------------------------------
@functools.cache
def _service_model(service: str) -> Any:
    from moto.core.utils import get_service_model

    return get_service_model(service)


@functools.cache
def _by_service_id() -> dict[str, str]:
    """botocore event names' service part (`before-send.<id>.<Op>`) -> boto3 client name."""
    return {_service_model(s).service_id.hyphenize(): s for s in SERVICES}


@functools.cache
def _by_signing_name() -> dict[str, tuple[str, ...]]:
    """SigV4 signing name (the credential scope's service) -> the services signing with it."""
    index: dict[str, list[str]] = {}
    for service in SERVICES:
        model = _service_model(service)
        name = model.metadata.get("signingName") or model.endpoint_prefix
        index.setdefault(name, []).append(service)
    return {k: tuple(v) for k, v in index.items()}


_routers: dict[str, Any] = {}
_routers_lock = threading.Lock()


def _router(service: str) -> Any:
    with _routers_lock:
        router = _routers.get(service)
        if router is None:
            from moto.core.routing import ServiceOperationRouter

            router = _routers[service] = ServiceOperationRouter(_service_model(service))
        return router


def _match(service: str, request: Any) -> tuple[Any, dict[str, Any]] | None:
    from werkzeug.exceptions import NotFound

    try:
        operation, uri_params = _router(service).match(request)
    except (NotFound, NotImplementedError):
        return None
    return operation, dict(uri_params)


def _signing_name(request: Any) -> str | None:
    auth = request.headers.get("Authorization") or ""
    try:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0]
        return scope.split("/")[3]
    except IndexError:
        return None


def identify(request: Any, service: str | None = None) -> Call | None:
    """The Call a moto Request makes (service given, or found from its signature and path)."""
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.request import determine_request_protocol

    candidates: tuple[str, ...]
    if service is not None:
        candidates = (service,)
    else:
        name = _signing_name(request)
        candidates = _by_signing_name().get(name or "", ())
    for candidate in candidates:
        matched = _match(candidate, request)
        if matched is None:
            continue
        operation, uri_params = matched
        model = _service_model(candidate)
        try:
            protocol = determine_request_protocol(model, request.content_type)
            parser = PROTOCOL_PARSERS[protocol](operation)
            params = parser.parse(
                {
                    "method": request.method,
                    "values": request.values,
                    "headers": request.headers,
                    "body": request.get_data(),
                    "url_path": request.path,
                    "url_params": uri_params,
                }
            )
        except Exception as exc:  # a body the service cannot parse: moto answers it
            log.debug("gateway: %s %s not parsed: %s", candidate, operation.name, exc)
            return None
        return Call(
            candidate, operation.name, _sent(dict(params or {}), operation, request), operation
        )
    return None


def _sent(params: dict[str, Any], operation: Any, request: Any) -> dict[str, Any]:
    """The parameters without the empty lists and maps moto's REST parsers fill in for query
    string and header members the request did not carry: absent is not empty to AWS."""
    shape = operation.input_shape
    if shape is None:
        return params
    for name, member in shape.members.items():
        value = params.get(name)
        if value not in ([], {}):
            continue
        location = member.serialization.get("location")
        if location in ("querystring", "header", "headers") and not _carried(
            request, location, member.serialization.get("name", name)
        ):
            del params[name]
    return params


def _carried(request: Any, location: str, wire: str) -> bool:
    if location == "querystring":
        return wire in request.args
    if location == "header":
        return wire in request.headers
    names = [key for key, _ in request.headers.items()]  # werkzeug Headers iterate as pairs
    return any(key.lower().startswith(wire.lower()) for key in names)


class Gateway:
    """Runs the checks on every request, in-process and over HTTP."""

    def __init__(self, checks: list[Check] | None = None) -> None:
        self.checks: list[Check] = list(checks or [])
        self._patches = Patcher("feecast_twin.gateway")
        # Called with each call AWS would have answered with success (2xx), whoever made it.
        self._listeners: tuple[Callable[[Call], Any], ...] = ()
        self._atomic = {service: threading.RLock() for service in ATOMIC_SERVICES}

    def lock_for(self, call: Call | None) -> Any:
        """The lock moto answers this call under (a no-op lock when none is needed)."""
        if call is not None and call.service in self._atomic:
            return self._atomic[call.service]
        return _NO_LOCK

    def add(self, check: Check) -> None:
        self.checks.append(check)

    def listen(self, callback: Callable[[Call], Any]) -> Callable[[], None]:
        """`callback(call)` after every successful call (in-process or over HTTP); returns the
        function that stops listening."""
        entry = callback
        self._listeners = (*self._listeners, entry)

        def stop() -> None:
            self._listeners = tuple(c for c in self._listeners if c is not entry)

        return stop

    def answered(self, call: Call | None, status: int) -> None:
        if call is None or not 200 <= status < 300:
            return
        for listener in self._listeners:
            try:
                listener(call)
            except Exception:
                log.exception(
                    "gateway: a call listener failed on %s.%s", call.service, call.operation
                )

    def answer(self, call: Call) -> Answer | None:
        for check in self.checks:
            result = check(call)
            if result is not None:
                return result
        return None

    # -- HTTP (the twin's server) ----------------------------------------------------------
    def from_wsgi(self, environ: dict[str, Any]) -> tuple[Answer | None, Call | None]:
        """(the answer to give instead of moto's, or None; the call, when it could be placed)."""
        from moto.core.request import Request

        length = int(environ.get("CONTENT_LENGTH") or 0)
        stream = environ.get("wsgi.input")
        body = stream.read(length) if stream is not None and length else b""
        try:
            request = Request(dict(environ, **{"wsgi.input": io.BytesIO(body)}))
            call = identify(request)
        finally:
            environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
        if call is None:
            return None, None
        return self.answer(call), call

    # -- in-process (botocore's before-send hook, where moto answers) ----------------------
    def install(self) -> None:
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

        gateway = self
        original: Callable[..., Any] = BotocoreStubber.__call__

        def stubber_call(stubber: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
            if not stubber.enabled:
                return original(stubber, event_name, request, **kwargs)
            answer, call = gateway.from_prepared(event_name, request)
            if answer is not None:
                status, headers, body = answer
                return AWSResponse(request.url, status, headers, MockRawResponse(body))  # type: ignore[arg-type]
            with gateway.lock_for(call):
                response = original(stubber, event_name, request, **kwargs)
            if response is not None:
                gateway.answered(call, int(response.status_code))
            return response

        self._patches.replace(
            BotocoreStubber,
            "__call__",
            stubber_call,
            reason="in-process calls pass the front door HTTP calls pass: AWS's request "
            "contracts, injected faults, atomic services",
        )

    def uninstall(self) -> None:
        self._patches.undo()

    def from_prepared(self, event_name: str, prepared: Any) -> tuple[Answer | None, Call | None]:
        from moto.core.request import normalize_request

        parts = event_name.split(".")
        service = _by_service_id().get(parts[1]) if len(parts) >= 3 else None
        if service is None:
            return None, None
        body = prepared.body
        if hasattr(body, "read"):  # a stream (an upload): read it only if moto can read it again
            if not (hasattr(body, "seek") and hasattr(body, "tell")):
                return None, None
            start = body.tell()
            data = body.read()
            body.seek(start)
            from moto.core.request import Request

            request = Request.from_primitives(prepared.method, prepared.url, prepared.headers, data)
        else:
            request = normalize_request(prepared)
        call = identify(request, service)
        if call is None:
            return None, None
        return self.answer(call), call


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_LOCK = _NoLock()

__all__ = ["ATOMIC_SERVICES", "SERVICES", "Answer", "Call", "Gateway", "identify"]
