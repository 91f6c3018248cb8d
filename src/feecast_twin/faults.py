"""Fault injection: AWS API errors at the HTTP layer, for reliability tests (`twin.faults`).

    fault = twin.faults.fail("sagemaker", "CreateTrainingJob", times=1)   # one throttle
    twin.faults.fail("lambda", "Invoke", code="TooManyRequestsException", status=429, times=None,
                     when=lambda p: p["FunctionName"].endswith("PrepareData"))
    twin.faults.clear()

How: moto answers every in-process boto3 request from a `before-send` hook (its
`BotocoreStubber`). The twin wraps that hook: a request whose operation matches an armed fault
gets the AWS error response instead (status, headers and body serialised for the service's
protocol), so botocore parses it as it parses a real error and its retry handler applies:
a handler's default client retries a throttle (up to 5 attempts), the Step Functions
interpreter's clients do not retry (the state machine's Retry does). The callers are whoever
sends the request in this process: Lambda handlers, the Step Functions engine's integrations,
tests, the twin's own clients. Components that call moto's backends directly (SageMaker jobs
reading S3, EventBridge delivery) are not HTTP callers and are not affected.

Also installed here, because a Retry clause can only match the names AWS uses, Step Functions'
error names for service errors as AWS reports them (see `sfn_error_name`):
`Lambda.TooManyRequestsException` (bare function ARNs too; moto says "Exception"),
`SageMaker.ResourceLimitExceededException`, `SageMaker.AmazonSageMakerException` for a code
SageMaker does not model (ThrottlingException, ValidationException), `SNS.ThrottledException`,
`SNS.AmazonSNSException`, ...

And `retry_scale`: Step Functions Retry back-off sleeps `IntervalSeconds * BackoffRate^n` real
seconds; tests that exercise retries set `twin.faults.retry_scale = 0.01` (cleared to 1.0 with
the faults). Each wait is recorded as `sfn-retry-wait` (seconds as declared, seconds slept).
"""

from __future__ import annotations

import functools
import json
import logging
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from feecast_twin.patching import Patcher

if TYPE_CHECKING:
    from feecast_twin.gateway import Call
    from feecast_twin.host import Recorder

log = logging.getLogger("feecast_twin.faults")

# Step Functions' spelling of a service in error names, and the SDK's base exception name it
# reports for an error code the service does not model (the AWS SDK for Java class names).
_SFN_SERVICES: dict[str, tuple[str, str]] = {
    "lambda": ("Lambda", "AWSLambdaException"),
    "sagemaker": ("SageMaker", "AmazonSageMakerException"),
    "sns": ("SNS", "AmazonSNSException"),
}

_DEFAULT_MESSAGES = {
    "ThrottlingException": "Rate exceeded",
    "Throttling": "Rate exceeded",
    "Throttled": "Rate exceeded",
    "TooManyRequestsException": "Rate Exceeded.",
    "ServiceUnavailable": "Service Unavailable",
    "InternalFailure": "An internal error occurred",
}


# -- names --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@functools.lru_cache(maxsize=64)
def _modeled_errors(service: str) -> dict[str, str]:
    """error code -> error shape name, for the service's modeled errors."""
    out: dict[str, str] = {}
    for shape in _service_model(service).error_shapes:
        code = (shape.metadata.get("error") or {}).get("code") or shape.name
        out[code] = shape.name
        out.setdefault(shape.name, shape.name)
    return out


def sfn_error_name(service: str, code: str) -> str:
    """The Error Step Functions reports when a `service` call (boto3 name: lambda, sagemaker,
    sns) failed with error `code`: `<Service>.<modeled exception>` (with the "Exception" suffix
    AWS adds when the shape lacks it), else `<Service>.<SDK base exception>`."""
    prefix, base = _SFN_SERVICES[service]
    shape = _modeled_errors(service).get(code)
    if shape is None:
        return f"{prefix}.{base}"
    return f"{prefix}.{shape if shape.endswith('Exception') else shape + 'Exception'}"


_SERVER_CODES = {"InternalFailure": 500, "InternalServerError": 500, "ServiceUnavailable": 503}


def default_status(service: str, code: str) -> int:
    """The HTTP status AWS answers `code` with: from the service's error shape, else 400."""
    for shape in _service_model(service).error_shapes:
        error = shape.metadata.get("error") or {}
        if code in (error.get("code"), shape.name) and error.get("httpStatusCode"):
            return int(error["httpStatusCode"])
    return _SERVER_CODES.get(code, 400)


def sfn_error_cause(service_title: str, client_error: Any) -> str:
    """The Cause Step Functions writes for a failed service call (the SDK exception message)."""
    err = client_error.response.get("Error", {})
    meta = client_error.response.get("ResponseMetadata", {})
    return (
        f"{err.get('Message', '')} (Service: {service_title}; "
        f"Status Code: {meta.get('HTTPStatusCode', 400)}; "
        f"Error Code: {err.get('Code', 'Unknown')}; "
        f"Request ID: {meta.get('RequestId', '')}; Proxy: null)"
    )


@functools.lru_cache(maxsize=256)
def _operation(service: str, operation: str) -> str:
    from botocore import xform_name

    names = _service_model(service).operation_names
    if operation in names:
        return str(operation)
    for name in names:
        if xform_name(name) == operation:
            return str(name)
    raise ValueError(f"{service} has no operation {operation!r}")


# -- the error response, per protocol ---------------------------------------------------------
def _cbor_text(value: str) -> bytes:
    data = value.encode()
    n = len(data)
    if n < 24:
        head = bytes([0x60 | n])
    elif n < 256:
        head = bytes([0x78, n])
    elif n < 65536:
        head = b"\x79" + struct.pack(">H", n)
    else:
        head = b"\x7a" + struct.pack(">I", n)
    return head + data


def _cbor_map(items: dict[str, Any]) -> bytes:
    out = bytes([0xA0 | len(items)])  # fewer than 24 entries here
    for key, value in items.items():
        out += _cbor_text(key) + _cbor_text(str(value))
    return out


def error_response(
    service: str, code: str, message: str, status: int, extra: dict[str, Any] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of an AWS error response as `service`'s protocol writes it."""
    model = _service_model(service)
    protocol = model.resolved_protocol
    request_id = str(uuid.uuid4())
    headers = {"x-amzn-RequestId": request_id}
    fields = {"message": message, **(extra or {})}
    if protocol == "json":
        target = model.metadata.get("jsonVersion", "1.1")
        headers["Content-Type"] = f"application/x-amz-json-{target}"
        body = json.dumps({"__type": code, **fields}).encode()
    elif protocol == "rest-json":
        headers["Content-Type"] = "application/json"
        headers["x-amzn-ErrorType"] = code
        body = json.dumps({"message": message, **(extra or {})}).encode()
    elif protocol == "smithy-rpc-v2-cbor":
        headers["Content-Type"] = "application/cbor"
        headers["smithy-protocol"] = "rpc-v2-cbor"
        body = _cbor_map({"__type": code, **fields})
    elif protocol == "rest-xml":
        headers["Content-Type"] = "application/xml"
        headers["x-amz-request-id"] = request_id
        body = (
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
    elif protocol == "ec2":
        headers["Content-Type"] = "text/xml"
        body = (
            f"<Response><Errors><Error><Code>{escape(code)}</Code><Message>{escape(message)}"
            f"</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
    else:  # query
        headers["Content-Type"] = "text/xml"
        kind = "Receiver" if status >= 500 else "Sender"
        body = (
            f'<ErrorResponse xmlns="{model.metadata.get("xmlNamespace", "")}"><Error>'
            f"<Type>{kind}</Type><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
    return status, headers, body


# -- faults -------------------------------------------------------------------------------------
@dataclass
class Fault:
    """One armed fault. `injected` counts the calls it failed; `cancel()` disarms it."""

    service: str
    operation: str
    code: str
    message: str
    status: int
    times: int | None  # None: every matching call until cleared
    after: int = 0  # let this many matching calls through first
    when: Callable[[dict[str, Any]], bool] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    injected: int = 0
    seen: int = 0
    cancelled: bool = False

    @property
    def exhausted(self) -> bool:
        return self.cancelled or (self.times is not None and self.injected >= self.times)

    def cancel(self) -> None:
        self.cancelled = True


class Faults:
    """`twin.faults`: arm AWS API errors; see the module docstring."""

    def __init__(self, twin: Recorder) -> None:
        self.twin = twin
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._patches = Patcher("feecast_twin.faults")
        self.retry_scale = 1.0

    # -- public API ----------------------------------------------------------------------------
    def fail(
        self,
        service: str,
        operation: str,
        *,
        code: str = "ThrottlingException",
        message: str | None = None,
        status: int | None = None,
        times: int | None = 1,
        after: int = 0,
        when: Callable[[dict[str, Any]], bool] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Fault:
        """The next `times` calls (None: all, until cleared) of `service` (boto3 client name:
        "sagemaker", "lambda", "sns", "stepfunctions", ...) `operation` ("CreateTrainingJob" or
        "create_training_job") whose request parameters satisfy `when` (the boto3 keyword
        arguments, e.g. {"EndpointName": ...}) get the AWS error `code` (HTTP `status`,
        `message`, `extra` body fields such as {"Reason": "CallerRateLimitExceeded"}),
        after letting `after` matching calls through. `status` defaults to the code's status in
        the service's API model (Lambda TooManyRequestsException 429, SNS InternalError 500),
        else 500 for InternalFailure / ServiceUnavailable / InternalServerError, else 400."""
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 (or None for every call)")
        fault = Fault(
            service=service,
            operation=_operation(service, operation),
            code=code,
            message=message or _DEFAULT_MESSAGES.get(code, f"{code} (injected by the twin)"),
            status=status if status is not None else default_status(service, code),
            times=times,
            after=after,
            when=when,
            extra=dict(extra or {}),
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Disarm every fault and restore real-time Step Functions retry waits."""
        with self._lock:
            for fault in self._faults:
                fault.cancel()
            self._faults.clear()
        self.retry_scale = 1.0

    @property
    def active(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if not f.exhausted]

    # -- install -------------------------------------------------------------------------------
    def install(self) -> None:
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

        self._patches.replace(
            retrier_decl,
            "time",
            _ScaledTime(self),
            reason="tests scale Step Functions' Retry waits (retry_scale) and see each one "
            "as a record",
        )
        _patch_sfn_error_names(self._patches)

    def uninstall(self) -> None:
        self.clear()
        self._patches.undo()

    # -- matching (a check of the twin's front door, feecast_twin.gateway) ------------------------
    def check(self, call: Call) -> tuple[int, dict[str, str], bytes] | None:
        """The error of the first armed fault this call matches, or None."""
        with self._lock:
            chosen: Fault | None = None
            for fault in self._faults:
                if fault.exhausted or fault.service != call.service:
                    continue
                if fault.operation != call.operation:
                    continue
                if fault.when is not None:
                    try:
                        if not fault.when(call.params):
                            continue
                    except Exception:  # a predicate that cannot read these params: no match
                        continue
                fault.seen += 1
                if fault.seen <= fault.after:
                    continue
                fault.injected += 1
                chosen = fault
                break
        if chosen is None:
            return None
        self.twin.record(
            "fault",
            service=chosen.service,
            operation=chosen.operation,
            code=chosen.code,
            status=chosen.status,
            injected=chosen.injected,
            remaining=None if chosen.times is None else chosen.times - chosen.injected,
        )
        return error_response(
            chosen.service, chosen.code, chosen.message, chosen.status, chosen.extra
        )


class _ScaledTime:
    """Stands in for the `time` module in moto's Retry evaluation: sleeps scaled and recorded."""

    def __init__(self, faults: Faults) -> None:
        self._faults = faults

    def sleep(self, seconds: float) -> None:
        scaled = max(0.0, float(seconds) * self._faults.retry_scale)
        self._faults.twin.record("sfn-retry-wait", seconds=float(seconds), slept=scaled)
        time.sleep(scaled)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


# -- Step Functions error names -----------------------------------------------------------------
def _patch_sfn_error_names(patches: Patcher) -> None:
    """moto names a bare-ARN Lambda task's API error "Exception" and any lambda:invoke /
    sns:publish error `<Service>.<Code>`; AWS names both after the SDK exception."""
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.api import (
        HistoryEventType,
        LambdaFunctionFailedEventDetails,
        TaskFailedEventDetails,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
        StateTaskServiceLambda,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sns import (
        StateTaskServiceSns,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import (
        StateTaskLambda,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    lambda_from_error = StateTaskLambda._from_error
    sns_from_error = StateTaskServiceSns._from_error

    def bare_lambda_from_error(self: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return lambda_from_error(self, env, ex)
        error = sfn_error_name("lambda", ex.response["Error"].get("Code", ""))
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.LambdaFunctionFailed,
            event_details=EventDetails(
                lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(
                    error=error, cause=sfn_error_cause("AWSLambda", ex)
                )
            ),
        )

    def lambda_error_cause(client_error: Any) -> tuple[str, str]:
        code = client_error.response["Error"].get("Code", "")
        return sfn_error_name("lambda", code), sfn_error_cause("AWSLambda", client_error)

    def sns_error(self: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return sns_from_error(self, env, ex)
        error = sfn_error_name("sns", ex.response["Error"].get("Code", ""))
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error_name=error),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(
                taskFailedEventDetails=TaskFailedEventDetails(
                    error=error,
                    cause=sfn_error_cause("AmazonSNS", ex),
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                )
            ),
        )

    patches.replace(
        StateTaskLambda,
        "_from_error",
        bare_lambda_from_error,
        reason="AWS names a bare-ARN Lambda task's API error after the SDK exception; "
        "moto says Exception",
    )
    patches.replace(
        StateTaskServiceLambda,
        "_error_cause_from_client_error",
        lambda_error_cause,  # a staticmethod in moto: kept one by the Patcher
        reason="AWS names a lambda:invoke task's API error after the SDK exception, "
        "not after the error code",
    )
    patches.replace(
        StateTaskServiceSns,
        "_from_error",
        sns_error,
        reason="AWS names an sns:publish task's API error after the SDK exception, "
        "not after the error code",
    )


__all__ = ["Fault", "Faults", "error_response", "sfn_error_cause", "sfn_error_name"]
