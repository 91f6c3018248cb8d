"""Run a use case at most once per key (Powertools Idempotency on the IdempotencyTable).

Used by every entry point that events feed more than once: monitoring activation, the hourly
run, retraining on alarm, and the deploy stage's package approved / rejected handlers.

A duplicate call while the first runs raises IdempotencyAlreadyInProgressError (Lambda retries
it later); a call after the first succeeded returns the first result with "replayed": true and
does nothing. A call whose first attempt raised runs again (the record is removed on failure).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, cast

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    IdempotentHookFunction,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from feecast.adapters import clients


@cache
def _persistence(table: str) -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=table, boto3_client=clients.client("dynamodb"))


def _mark_replayed(response: Any, _record: DataRecord) -> Any:
    if isinstance(response, dict):
        return {**response, "replayed": True}
    return response


def run_once(
    *,
    table: str,
    name: str,
    key: Mapping[str, str],
    expires_after_seconds: int,
    call: Callable[[], dict[str, Any]],
    lambda_context: Any | None = None,
) -> dict[str, Any]:
    """`call()` once per (`name`, `key`) within `expires_after_seconds`; its JSON-able result."""
    config = IdempotencyConfig(
        event_key_jmespath="key",
        expires_after_seconds=expires_after_seconds,
        raise_on_no_idempotency_key=True,
        response_hook=cast(IdempotentHookFunction, _mark_replayed),
    )
    if lambda_context is not None and hasattr(lambda_context, "get_remaining_time_in_millis"):
        # Lets a run killed by the Lambda timeout be retried after that time, not after expiry.
        config.register_lambda_context(lambda_context)

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="request",
        persistence_store=_persistence(table),
        config=config,
        key_prefix=name,
    )
    def _once(request: dict[str, Any]) -> dict[str, Any]:
        return call()

    result: dict[str, Any] = _once(request={"key": "|".join(f"{k}={v}" for k, v in key.items())})
    return result
