"""AWS's request contracts, checked as the services check them on the server.

Every AWS API checks a request against its operation's model before doing anything: required
members present, strings within their length bounds, matching their pattern and enum, numbers
within their range, lists and maps within their size, recursively. botocore's client checks
only part of that (required members, types, minimums); moto checks almost nothing. The twin
checks all of it, from botocore's service model of the operation, and answers a violation as
AWS does (Coral's wording, camel-cased member paths, 1-based list positions):

    ValidationException: 1 validation error detected: Value 'x y' at 'trainingJobName' failed
    to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}

Patterns are Java regular expressions matched against the whole value; they are translated
where Python's `regex` differs (\\w \\d \\s are ASCII, POSIX classes such as \\p{Alnum} are
ASCII, surrogate pairs name supplementary characters). A pattern that still cannot be compiled
is skipped and listed by `uncompiled_patterns()` (none for the services the twin serves: a unit
test keeps it so).

Beyond the model, a few limits AWS documents and enforces but does not model are checked too
(`SERVICE_RULES`), with the error each service returns.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import regex

log = logging.getLogger("feecast_twin.contracts")

#: Services whose requests are checked (S3 validates its own way: bucket and key rules).
CHECKED_PROTOCOLS = frozenset({"json", "rest-json", "query", "smithy-rpc-v2-cbor"})


@dataclass(frozen=True)
class Violation:
    path: str
    value: Any
    constraint: str

    def render(self) -> str:
        shown = "null" if self.value is None else f"'{_java_string(self.value)}'"
        return f"Value {shown} at '{self.path}' failed to satisfy constraint: {self.constraint}"


def _java_string(value: Any) -> str:
    """How Coral prints a value: Java's toString of the deserialised member."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_java_string(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return (
            "{" + ", ".join(f"{_java_string(k)}={_java_string(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, bytes):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def message(violations: list[Violation]) -> str:
    count = len(violations)
    noun = "validation error" if count == 1 else "validation errors"
    return f"{count} {noun} detected: " + "; ".join(v.render() for v in violations)


# ----------------------------------------------------------------------------- patterns
_POSIX = {
    # Java's POSIX classes are US-ASCII only.
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7F",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": "!-/:-@\\[-`{-~",
    "Graph": "!-~",
    "Print": " -~",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1F\\x7F",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0B\\f\\r",
}
_SURROGATE_RANGE = re.compile(
    r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})-"
    r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})"
)


def _code_point(high: str, low: str) -> int:
    return 0x10000 + ((int(high, 16) - 0xD800) << 10) + (int(low, 16) - 0xDC00)


_ASCII_CLASSES = {
    # Java's \d \w \s are US-ASCII unless UNICODE_CHARACTER_CLASS is set (it never is here).
    "d": "[0-9]",
    "D": "[^0-9]",
    "w": "[a-zA-Z0-9_]",
    "W": "[^a-zA-Z0-9_]",
    "s": "[ \\t\\n\\x0B\\f\\r]",
    "S": "[^ \\t\\n\\x0B\\f\\r]",
}


def translate(pattern: str) -> str:
    """A Java regular expression as `regex` (VERSION1) reads it with the same meaning."""

    def surrogates(match: re.Match[str]) -> str:
        start = _code_point(match.group(1), match.group(2))
        end = _code_point(match.group(3), match.group(4))
        return f"\\U{start:08X}-\\U{end:08X}"

    text = _SURROGATE_RANGE.sub(surrogates, pattern)
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "\\" or i + 1 == len(text):
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt in _ASCII_CLASSES:
            out.append(_ASCII_CLASSES[nxt])  # a nested set: valid inside a class and outside
            i += 2
        elif nxt in "pP" and text.startswith("{", i + 2):
            end = text.index("}", i + 2)
            name = text[i + 3 : end]
            if name in _POSIX:
                out.append(f"[{'^' if nxt == 'P' else ''}{_POSIX[name]}]")
            else:
                out.append(text[i : end + 1])
            i = end + 1
        elif nxt == "z":
            out.append("\\Z")  # Java's end of input
            i += 2
        else:
            out.append(text[i : i + 2])
            i += 2
    return "".join(out)


_UNCOMPILED: dict[str, str] = {}


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> Any:
    try:
        return regex.compile(translate(pattern), regex.VERSION1)
    except regex.error as exc:
        _UNCOMPILED[pattern] = str(exc)
        log.warning("twin: pattern %r of an AWS model not checked: %s", pattern, exc)
        return None


def uncompiled_patterns() -> dict[str, str]:
    return dict(_UNCOMPILED)


# ----------------------------------------------------------------------------- the walk
def _member_path(parent: str, name: str) -> str:
    camel = name[:1].lower() + name[1:]
    return f"{parent}.{camel}" if parent else camel


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _scalar_constraints(shape: Any, value: Any) -> list[str]:
    """What a scalar value breaks (Coral's phrases, in the order it lists them)."""
    kind = shape.type_name
    meta = shape.metadata
    broken: list[str] = []
    if kind == "string":
        if not isinstance(value, str):
            return broken
        length = len(value)
        if "max" in meta and length > meta["max"]:
            broken.append(f"Member must have length less than or equal to {_number(meta['max'])}")
        if "min" in meta and length < meta["min"]:
            broken.append(
                f"Member must have length greater than or equal to {_number(meta['min'])}"
            )
        pattern = meta.get("pattern")
        if pattern is not None:
            compiled = _compiled(pattern)
            if compiled is not None and compiled.fullmatch(value) is None:
                broken.append(f"Member must satisfy regular expression pattern: {pattern}")
        enum = getattr(shape, "enum", None) or []
        if enum and value not in enum:
            broken.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
    elif kind in ("integer", "long", "float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return broken
        if "max" in meta and value > meta["max"]:
            broken.append(f"Member must have value less than or equal to {_number(meta['max'])}")
        if "min" in meta and value < meta["min"]:
            broken.append(f"Member must have value greater than or equal to {_number(meta['min'])}")
    elif kind == "blob" and isinstance(value, (bytes, bytearray, str)):
        broken.extend(_size_constraints(shape, len(value)))
    return broken


def _size_constraints(shape: Any, size: int) -> list[str]:
    meta = shape.metadata
    broken = []
    if "max" in meta and size > meta["max"]:
        broken.append(f"Member must have length less than or equal to {_number(meta['max'])}")
    if "min" in meta and size < meta["min"]:
        broken.append(f"Member must have length greater than or equal to {_number(meta['min'])}")
    return broken


def _is_scalar(shape: Any) -> bool:
    return shape.type_name not in ("structure", "list", "map")


def validate(shape: Any, value: Any, path: str = "") -> list[Violation]:
    """Every violation of `shape`'s constraints by `value` (parsed request parameters)."""
    out: list[Violation] = []
    _walk(shape, value, path, out)
    return out


def _walk(shape: Any, value: Any, path: str, out: list[Violation]) -> None:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            return
        members = shape.members
        for name in shape.required_members:
            if value.get(name) is None:
                out.append(Violation(_member_path(path, name), None, "Member must not be null"))
        for name, member in members.items():
            if name in value and value[name] is not None:
                _walk(member, value[name], _member_path(path, name), out)
    elif kind == "list":
        if not isinstance(value, (list, tuple)):
            return
        for broken in _size_constraints(shape, len(value)):
            out.append(Violation(path, value, broken))
        member = shape.member
        if _is_scalar(member):
            broken_members: list[str] = []
            for item in value:
                for broken in _scalar_constraints(member, item):
                    if broken not in broken_members:
                        broken_members.append(broken)
            if broken_members:
                out.append(
                    Violation(
                        path,
                        value,
                        f"Member must satisfy constraint: [{', '.join(broken_members)}]",
                    )
                )
        else:
            for index, item in enumerate(value, start=1):
                if item is None:
                    continue
                _walk(member, item, f"{path}.{index}.member", out)
    elif kind == "map":
        if not isinstance(value, Mapping):
            return
        for broken in _size_constraints(shape, len(value)):
            out.append(Violation(path, value, broken))
        key_broken: list[str] = []
        value_broken: list[str] = []
        for key, item in value.items():
            for broken in _scalar_constraints(shape.key, key):
                if broken not in key_broken:
                    key_broken.append(broken)
            if item is None:
                continue
            if _is_scalar(shape.value):
                for broken in _scalar_constraints(shape.value, item):
                    if broken not in value_broken:
                        value_broken.append(broken)
            else:
                _walk(shape.value, item, f"{path}.{key}", out)
        if key_broken:
            out.append(
                Violation(
                    path, value, f"Map keys must satisfy constraint: [{', '.join(key_broken)}]"
                )
            )
        if value_broken:
            out.append(
                Violation(
                    path, value, f"Map value must satisfy constraint: [{', '.join(value_broken)}]"
                )
            )
    else:
        for broken in _scalar_constraints(shape, value):
            out.append(Violation(path, value, broken))


# ----------------------------------------------------------------------------- beyond the model
@dataclass(frozen=True)
class ServiceRule:
    """A limit AWS enforces that its model does not carry; returns (code, message) or None."""

    service: str
    operation: str
    check: Callable[[Mapping[str, Any]], tuple[str, str] | None]
    reference: str


def _sns_subject(params: Mapping[str, Any]) -> tuple[str, str] | None:
    subject = params.get("Subject")
    if subject is None:
        return None
    ok = (
        isinstance(subject, str)
        and 0 < len(subject) < 100
        and subject.isascii()
        and all(" " <= ch <= "~" for ch in subject)
        and not subject[0].isspace()
    )
    return None if ok else ("InvalidParameter", "Invalid parameter: Subject")


def _sns_message_size(params: Mapping[str, Any]) -> tuple[str, str] | None:
    text = params.get("Message")
    if isinstance(text, str) and len(text.encode("utf-8")) > 262144:
        return ("InvalidParameter", "Invalid parameter: Message too long")
    return None


def _utf8_size(limit: int, *names: str) -> Callable[[Mapping[str, Any]], tuple[str, str] | None]:
    def check(params: Mapping[str, Any]) -> tuple[str, str] | None:
        for name in names:
            value = params.get(name)
            if isinstance(value, str) and len(value.encode("utf-8")) > limit:
                return (
                    "ValidationException",
                    f"1 validation error detected: Value at '{_member_path('', name)}' failed "
                    f"to satisfy constraint: Member must have length less than or equal to {limit}",
                )
        return None

    return check


def _put_events_size(params: Mapping[str, Any]) -> tuple[str, str] | None:
    total = 0
    for entry in params.get("Entries") or []:
        for name in ("Detail", "DetailType", "Source", "EventBusName"):
            value = entry.get(name)
            if isinstance(value, str):
                total += len(value.encode("utf-8"))
        for resource in entry.get("Resources") or []:
            total += len(str(resource).encode("utf-8"))
        if entry.get("Time") is not None:
            total += 14
    if total > 262144:
        return (
            "ValidationException",
            "Total size of the entries in the request is over the limit.",
        )
    return None


def _metric_data_count(params: Mapping[str, Any]) -> tuple[str, str] | None:
    if len(params.get("MetricData") or []) > 1000:
        return (
            "InvalidParameterValue",
            "The collection MetricData must not have a size greater than 1000.",
        )
    return None


SERVICE_RULES: tuple[ServiceRule, ...] = (
    ServiceRule(
        "cloudwatch",
        "PutMetricData",
        _metric_data_count,
        "CloudWatch PutMetricData: up to 1,000 metrics per request",
    ),
    ServiceRule(
        "sns",
        "Publish",
        _sns_subject,
        "SNS Publish: Subject must be ASCII text that begins with a letter, number or punctuation "
        "mark, without line breaks or control characters, and less than 100 characters long",
    ),
    ServiceRule("sns", "Publish", _sns_message_size, "SNS Publish: Message at most 256 KB"),
    ServiceRule(
        "stepfunctions",
        "StartExecution",
        _utf8_size(262144, "input"),
        "Step Functions quotas: execution input at most 256 KB (UTF-8)",
    ),
    ServiceRule(
        "stepfunctions",
        "SendTaskSuccess",
        _utf8_size(262144, "output"),
        "Step Functions quotas: task output at most 256 KB (UTF-8)",
    ),
    ServiceRule(
        "events", "PutEvents", _put_events_size, "EventBridge PutEvents: 256 KB per request"
    ),
)


# ----------------------------------------------------------------------------- the check
@functools.cache
def _protocol(service: str) -> str:
    from feecast_twin.gateway import _service_model

    # The protocol botocore speaks to the service (CloudWatch: json, though its model leads
    # with smithy-rpc-v2-cbor): the one its requests, and so its errors, arrive in.
    return str(_service_model(service).resolved_protocol)


def violations_of(call: Any) -> list[Violation]:
    shape = call.operation_model.input_shape
    if shape is None:
        return []
    return validate(shape, call.params)


@functools.cache
def _validation_code(service: str) -> str:
    """Query services, and JSON services that kept their query errors (awsQueryCompatible, such
    as CloudWatch and SQS), call it ValidationError; the others ValidationException."""
    from feecast_twin.gateway import _service_model

    model = _service_model(service)
    legacy = model.protocol == "query" or "awsQueryCompatible" in model.metadata
    return "ValidationError" if legacy else "ValidationException"


def refusal(call: Any) -> tuple[str, str] | None:
    """(error code, message) AWS answers this call with when it breaks a contract, else None."""
    protocol = _protocol(call.service)
    if protocol not in CHECKED_PROTOCOLS:
        return None
    found = violations_of(call)
    if found:
        return (_validation_code(call.service), message(found))
    for rule in SERVICE_RULES:
        if rule.service == call.service and rule.operation == call.operation:
            refused = rule.check(call.params)
            if refused is not None:
                return refused
    return None


class ContractCheck:
    """The gateway's check: answers a refused call with AWS's error and records it on the
    timeline as `request-refused` (service, operation, code, message), so a test or the demo
    can tell that something asked AWS for what it would refuse, even where the caller swallows
    the error."""

    def __init__(self, record: Callable[..., None]) -> None:
        self.record = record

    def __call__(self, call: Any) -> tuple[int, dict[str, str], bytes] | None:
        from feecast_twin.faults import error_response

        refused = refusal(call)
        if refused is None:
            return None
        code, text = refused
        self.record(
            "request-refused",
            service=call.service,
            operation=call.operation,
            code=code,
            message=text,
        )
        return error_response(call.service, code, text, 400)


@functools.cache
def _botocore_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def check_params(service: str, operation: str, params: Mapping[str, Any]) -> list[Violation]:
    """The violations of boto3-style parameters (for tests of what the product sends)."""
    shape = _botocore_model(service).operation_model(operation).input_shape
    return validate(shape, _jsonable(params)) if shape is not None else []


def _jsonable(params: Any) -> Any:
    """Parameters as they are after a round trip through the wire (tuples -> lists)."""
    return json.loads(json.dumps(params, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("latin-1")
    raise TypeError(type(value).__name__)


__all__ = [
    "SERVICE_RULES",
    "ContractCheck",
    "ServiceRule",
    "Violation",
    "check_params",
    "message",
    "refusal",
    "translate",
    "uncompiled_patterns",
    "validate",
    "violations_of",
]
