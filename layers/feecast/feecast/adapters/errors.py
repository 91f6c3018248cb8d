"""Transient AWS errors the state machines retry by name (`AwsThrottled` in their Retry).

The SDK retries a throttled call a few times within seconds (standard mode: 3 attempts). A burst
that outlasts them must not fail a build or a deployment: the step raises `AwsThrottled`, which
the state's Retry repeats with a longer back-off (statemachines/*.asl.json). Step Functions
matches the exception's class name, so the name must not change.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from botocore.exceptions import ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["THROTTLING_CODES", "AwsThrottled", "is_transient", "retry_throttling"]

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
    retries the step later."""


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
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code not in THROTTLING_CODES:
                raise
            raise AwsThrottled(
                f"{exc.operation_name} throttled after the SDK's retries ({code}: "
                f"{exc.response.get('Error', {}).get('Message', '')})"
            ) from exc

    return wrapper
