"""AWS adapters of the deploy stage: SageMaker, Step Functions, the StateTable, the link secret.

Clients are built once per cold start. Everything that can be retried safely says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from decimal import Decimal
from functools import cache
from typing import Any

import boto3
from botocore.exceptions import ClientError

_SESSION: dict[str, Any] = {"session": None, "endpoint_url": None}


def use_session(session: boto3.Session | None, endpoint_url: str | None = None) -> None:
    """Make the adapters use this session (the CLI's profile/region/endpoint), not the default."""
    _SESSION.update(session=session, endpoint_url=endpoint_url)
    for factory in (_client, _table):
        factory.cache_clear()


@cache
def _client(service: str) -> Any:
    session = _SESSION["session"] or boto3
    if _SESSION["endpoint_url"]:
        return session.client(service, endpoint_url=_SESSION["endpoint_url"])
    return session.client(service)


def sagemaker() -> Any:
    return _client("sagemaker")


def sagemaker_runtime() -> Any:
    return _client("sagemaker-runtime")


def sfn() -> Any:
    return _client("stepfunctions")


def cloudwatch() -> Any:
    return _client("cloudwatch")


@cache
def _table(name: str) -> Any:
    session = _SESSION["session"] or boto3
    if _SESSION["endpoint_url"]:
        return session.resource("dynamodb", endpoint_url=_SESSION["endpoint_url"]).Table(name)
    return session.resource("dynamodb").Table(name)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


# -- DynamoDB StateTable ---------------------------------------------------------------------
def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


def _projection(attributes: Sequence[str]) -> dict[str, Any]:
    # Placeholders for every name: some attribute names (e.g. "version") are reserved words.
    names = {f"#p{i}": name for i, name in enumerate(attributes)}
    return {"ProjectionExpression": ",".join(names), "ExpressionAttributeNames": names}


class StateTable:
    """The project's StateTable (pk, sk, TTL expires_at)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._t = _table(name)

    def put(
        self,
        item: dict[str, Any],
        *,
        condition: str | None = None,
        values: dict[str, Any] | None = None,
    ) -> bool:
        """Put; with a condition, False when it fails (the record is someone else's)."""
        kwargs: dict[str, Any] = {"Item": _to_dynamo(item)}
        if condition:
            kwargs["ConditionExpression"] = condition
            if values:
                kwargs["ExpressionAttributeValues"] = _to_dynamo(values)
        try:
            self._t.put_item(**kwargs)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get(
        self, pk: str, sk: str, *, attributes: Sequence[str] | None = None
    ) -> dict[str, Any] | None:
        """The item (only `attributes` of it, when given), or None."""
        kwargs: dict[str, Any] = {"Key": {"pk": pk, "sk": sk}, "ConsistentRead": True}
        if attributes:
            kwargs.update(_projection(attributes))
        item = self._t.get_item(**kwargs).get("Item")
        return None if item is None else _from_dynamo(item)

    def take(
        self, pk: str, sk: str, *, condition: str, values: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Delete only if `condition` holds; the deleted item, or None. Single use by design."""
        try:
            response = self._t.delete_item(
                Key={"pk": pk, "sk": sk},
                ConditionExpression=condition,
                ExpressionAttributeValues=_to_dynamo(values),
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        item = response.get("Attributes")
        return None if item is None else _from_dynamo(item)

    def delete(self, pk: str, sk: str) -> None:
        self._t.delete_item(Key={"pk": pk, "sk": sk})

    def query(
        self, pk: str, *, sk_prefix: str | None = None, newest_first: bool = True
    ) -> Iterator[dict[str, Any]]:
        from boto3.dynamodb.conditions import Key

        cond: Any = Key("pk").eq(pk)
        if sk_prefix:
            cond = cond & Key("sk").begins_with(sk_prefix)
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": cond,
            "ScanIndexForward": not newest_first,
        }
        while True:
            page = self._t.query(**kwargs)
            for item in page.get("Items", []):
                yield _from_dynamo(item)
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def scan_prefix(
        self, pk_prefix: str, *, attributes: Sequence[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item whose pk starts with the prefix (small operator listings only); only
        `attributes` of each when given (Select=SPECIFIC_ATTRIBUTES, which IAM can require)."""
        from boto3.dynamodb.conditions import Attr

        kwargs: dict[str, Any] = {"FilterExpression": Attr("pk").begins_with(pk_prefix)}
        if attributes:
            kwargs.update(_projection(attributes), Select="SPECIFIC_ATTRIBUTES")
        while True:
            page = self._t.scan(**kwargs)
            for item in page.get("Items", []):
                yield _from_dynamo(item)
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# -- SageMaker -------------------------------------------------------------------------------
def describe_package(arn: str) -> dict[str, Any]:
    return dict(sagemaker().describe_model_package(ModelPackageName=arn))


def find_package(arn: str) -> dict[str, Any] | None:
    """DescribeModelPackage, or None when the package no longer exists (deleted since)."""
    try:
        return describe_package(arn)
    except ClientError as exc:
        message = error_message(exc).lower()
        if error_code(exc) == "ValidationException" and (
            "not found" in message or "does not exist" in message
        ):
            return None
        raise


def package_metadata(package: dict[str, Any]) -> dict[str, str]:
    return dict(package.get("CustomerMetadataProperties") or {})


def describe_endpoint(name: str) -> dict[str, Any] | None:
    try:
        return dict(sagemaker().describe_endpoint(EndpointName=name))
    except ClientError as exc:
        if error_code(exc) == "ValidationException" and "not find" in error_message(exc).lower():
            return None
        raise


def existing_alarms(names: list[str]) -> list[str]:
    if not names:
        return []
    found = cloudwatch().describe_alarms(AlarmNames=names).get("MetricAlarms", [])
    present = {a["AlarmName"] for a in found}
    return [n for n in names if n in present]


def invoke_endpoint(name: str, body: dict[str, Any]) -> bytes:
    response = sagemaker_runtime().invoke_endpoint(
        EndpointName=name,
        ContentType="application/json",
        Accept="application/json",
        Body=json.dumps(body).encode(),
    )
    return bytes(response["Body"].read())


# -- Step Functions task tokens --------------------------------------------------------------
class TaskGone(RuntimeError):
    """The waiting task no longer exists (timed out, execution ended, or token invalid)."""


def send_task_success(token: str, output: dict[str, Any]) -> None:
    try:
        sfn().send_task_success(taskToken=token, output=json.dumps(output, default=str))
    except ClientError as exc:
        if error_code(exc) in ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist"):
            raise TaskGone(error_message(exc) or error_code(exc)) from None
        raise


def send_task_failure(token: str, error: str, cause: str) -> None:
    try:
        sfn().send_task_failure(taskToken=token, error=error[:256], cause=cause[:32768])
    except ClientError as exc:
        if error_code(exc) in ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist"):
            raise TaskGone(error_message(exc) or error_code(exc)) from None
        raise


# -- the link secret -------------------------------------------------------------------------
_SECRET_MAX_AGE = 300


def link_secret(secret_arn: str) -> str:
    """The HMAC key (Secrets Manager via Powertools Parameters), cached 5 minutes."""
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(secret_arn, max_age=_SECRET_MAX_AGE)
    if not value:
        raise RuntimeError(f"secret {secret_arn} is empty: approval links cannot be signed")
    return str(value)
