"""DynamoDB: the project's StateTable, the one wrapper every stage's records go through.

Keys: pk, sk; TTL attribute expires_at. Each stage owns its key prefixes (docs/conventions.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from feecast.adapters import clients
from feecast.adapters.errors import error_code


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
    """The project's StateTable (pk, sk, TTL expires_at): floats stored as Decimal, read back
    as int or float; conditional writes answer False/None instead of raising."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def _t(self) -> Any:
        # Resolved per use (cached by the factory), so `use_session` also reaches tables
        # built before it.
        return clients.table(self.name)

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

    def update(
        self, pk: str, sk: str, changes: dict[str, Any], *, condition: str, values: dict[str, Any]
    ) -> bool:
        """Set `changes` on the item only if `condition` holds; False when it does not."""
        names = {f"#u{i}": name for i, name in enumerate(changes)}
        sets = {f":u{i}": value for i, value in enumerate(changes.values())}
        assignments = ", ".join(f"#u{i} = :u{i}" for i in range(len(changes)))
        try:
            self._t.update_item(
                Key={"pk": pk, "sk": sk},
                UpdateExpression=f"SET {assignments}",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_to_dynamo({**values, **sets}),
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
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
        """The partition's items in sort-key order (newest first by default), only those whose
        sk starts with `sk_prefix` or lies in `sk_between` (inclusive); at most `limit`."""
        cond: Any = Key("pk").eq(pk)
        if sk_prefix:
            cond = cond & Key("sk").begins_with(sk_prefix)
        if sk_between:
            cond = cond & Key("sk").between(*sk_between)
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": cond,
            "ScanIndexForward": not newest_first,
        }
        if consistent:
            kwargs["ConsistentRead"] = True
        if limit:
            kwargs["Limit"] = limit
        left = limit
        while True:
            page = self._t.query(**kwargs)
            for item in page.get("Items", []):
                yield _from_dynamo(item)
                if left is not None:
                    left -= 1
                    if left <= 0:
                        return
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def scan_prefix(
        self, pk_prefix: str, *, attributes: Sequence[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item whose pk starts with the prefix (small operator listings only); only
        `attributes` of each when given (Select=SPECIFIC_ATTRIBUTES, which IAM can require)."""
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
