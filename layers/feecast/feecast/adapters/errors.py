"""The domain errors adapters raise instead of botocore's, and the throttle the state machines
retry by name (`AwsThrottled` in their Retry).

Use cases never see a ClientError for what they handle: an adapter raises NotFound (the
resource does not exist), AlreadyExists (a create met a taken name), TaskGone (a task token no
longer waits) or AwsThrottled (the Throttled error), and lets every other error propagate.

The SDK retries a throttled call a few times within seconds (standard mode: 3 attempts). A burst
that outlasts them must not fail a build or a deployment: the step raises `AwsThrottled`, which
the state's Retry repeats with a longer back-off (statemachines/*.asl.json). Step Functions
matches the exception's class name, so the name must not change.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

from botocore.exceptions import ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

P = ParamSpec("P")
R = TypeVar("R")

__all__ = [
    "THROTTLING_CODES",
    "AlreadyExists",
    "AwsThrottled",
    "NoAnswer",
    "NotFound",
    "TaskGone",
    "aws_errors",
    "error_code",
    "error_message",
    "is_not_found",
    "is_transient",
    "retry_throttling",
    "throttled",
]

# Error codes AWS services use for throttling (botocore's standard retry mode list).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)


class AwsThrottled(RuntimeError):
    """An AWS API kept throttling (or failing on its side) after the SDK's retries; the state
    retries the step later. (The issue's "Throttled": the ASL matches this name.)"""


class NotFound(LookupError):
    """The resource (endpoint, endpoint config, model, package) does not exist."""


class AlreadyExists(RuntimeError):
    """A create met a name already taken (a model, an endpoint config, an execution)."""


class TaskGone(RuntimeError):
    """The waiting task no longer exists (timed out, execution ended, or token invalid)."""


class NoAnswer(RuntimeError):
    """An endpoint was asked and gave no answer (a container error, a timeout, a refusal)."""


# Step Functions' answers for a token nobody waits on any more.
TASK_GONE_CODES = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
# SageMaker answers a missing resource with a ValidationException and one of these phrases
# ("Could not find endpoint ...", "Model package ... does not exist", "... not found").
_NOT_FOUND_PHRASES = ("not find", "not found", "does not exist")
_NOT_FOUND_CODES = frozenset(
    {"ValidationException", "ResourceNotFound", "ResourceNotFoundException"}
)
# Codes that mean "missing" whatever the message says (Step Functions, S3).
_MISSING_CODES = frozenset({"ExecutionDoesNotExist", "NoSuchKey"})


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


def is_not_found(exc: ClientError) -> bool:
    """The one "not found" rule of the SageMaker adapters."""
    message = error_message(exc).lower()
    return error_code(exc) in _NOT_FOUND_CODES and any(p in message for p in _NOT_FOUND_PHRASES)


def _already_exists(exc: ClientError) -> bool:
    # CreateModel / CreateEndpointConfig answer a taken name with ValidationException
    # "Cannot create already existing model|endpoint configuration ..." (no modeled error).
    return (
        error_code(exc).endswith("AlreadyExists") or "already exist" in error_message(exc).lower()
    )


def throttled(exc: ClientError) -> AwsThrottled:
    return AwsThrottled(
        f"{exc.operation_name} throttled after the SDK's retries ({error_code(exc)}: "
        f"{error_message(exc)})"
    )


@contextlib.contextmanager
def aws_errors() -> Iterator[None]:
    """Translate a ClientError into the domain error it means; others propagate unchanged."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        if code in THROTTLING_CODES:
            raise throttled(exc) from exc
        if code in TASK_GONE_CODES:
            raise TaskGone(error_message(exc) or code) from None
        if code in _MISSING_CODES or is_not_found(exc):
            raise NotFound(error_message(exc) or code) from exc
        if _already_exists(exc):
            raise AlreadyExists(error_message(exc) or code) from exc
        raise


def is_transient(exc: BaseException) -> bool:
    """A throttle, a 5xx answer or a connection failure: worth retrying later, unlike a
    missing resource or a refused request."""
    if isinstance(exc, BotoConnectionError):
        return True
    if not isinstance(exc, ClientError):
        return False
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return code in THROTTLING_CODES or status >= 500


def retry_throttling(step: Callable[P, R]) -> Callable[P, R]:
    """Turn a throttling ClientError escaping `step` into AwsThrottled (cause kept)."""

    @functools.wraps(step)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return step(*args, **kwargs)
        except ClientError as exc:
            if error_code(exc) not in THROTTLING_CODES:
                raise
            raise throttled(exc) from exc

    return wrapper
