"""DynamoDB implementation of feecast.ingest.store.IngestStore (the IngestTable).

Items (pk, sk; TTL attribute `expires_at`):
- minute   pk "MINUTE", sk "YYYY-MM-DDTHH:MM:00Z": count, fee, version, seen (string set of
           64-bit keys), fees (binary: each counted transaction's fee as a little-endian
           uint64, for the median; one attribute is ~8 bytes a fee where a DynamoDB list costs
           more, and is far cheaper to serialise), vsize and vsize_fee (the fee rate),
           late_seen, late_count, closed_at, written_at;
- cursor   pk "CURSOR", sk "CLOSER": last_closed (epoch seconds), last_closed_minute.

All minutes share one partition so the closer can find the first one with a Query; at a few
writes per poll that is far below a partition's 1,000 writes/s.
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Sequence
from typing import Any

from botocore.config import Config

from feecast.adapters import clients
from feecast.ingest.model import minute_id, parse_minute_id
from feecast.ingest.store import MinuteState

MINUTE_PK = "MINUTE"
CURSOR_KEY = {"pk": {"S": "CURSOR"}, "sk": {"S": "CLOSER"}}
_BATCH_GET_LIMIT = 100
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10
)


def _client() -> Any:
    return clients.client("dynamodb", _CONFIG)


def _key(minute: int) -> dict[str, Any]:
    return {"pk": {"S": MINUTE_PK}, "sk": {"S": minute_id(minute)}}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def pack_fees(fees: Sequence[int]) -> bytes:
    return struct.pack(f"<{len(fees)}Q", *fees)


def unpack_fees(data: bytes) -> tuple[int, ...]:
    return struct.unpack(f"<{len(data) // 8}Q", data)


def _state(item: dict[str, Any]) -> MinuteState:
    def number(name: str) -> int:
        return int(item[name]["N"]) if name in item else 0

    return MinuteState(
        minute=parse_minute_id(item["sk"]["S"]),
        version=number("version"),
        count=number("count"),
        total_fee=number("fee"),
        seen=frozenset(item.get("seen", {}).get("SS", ())),
        late_seen=frozenset(item.get("late_seen", {}).get("SS", ())),
        closed="closed_at" in item,
        written="written_at" in item,
        fees=unpack_fees(bytes(item["fees"]["B"])) if "fees" in item else (),
        vsize_total=number("vsize"),
        vsize_fee=number("vsize_fee"),
    )


class DynamoIngestStore:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table = table_name
        self.client = client if client is not None else _client()

    def _conditional_update(self, **kwargs: Any) -> bool:
        try:
            self.client.update_item(TableName=self.table, **kwargs)
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def read(self, minutes: Collection[int]) -> tuple[dict[int, MinuteState], int | None]:
        keys = [_key(m) for m in sorted(minutes)] + [CURSOR_KEY]
        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), _BATCH_GET_LIMIT):
            request = {
                self.table: {"Keys": keys[start : start + _BATCH_GET_LIMIT], "ConsistentRead": True}
            }
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                items.extend(response["Responses"].get(self.table, []))
                request = response.get("UnprocessedKeys") or {}
        states: dict[int, MinuteState] = {}
        cursor: int | None = None
        for item in items:
            if item["pk"]["S"] == MINUTE_PK:
                state = _state(item)
                states[state.minute] = state
            elif "last_closed" in item:
                cursor = int(item["last_closed"]["N"])
        return states, cursor

    def add(
        self,
        minute: int,
        expected_version: int | None,
        keys: Collection[str],
        count: int,
        total_fee: int,
        expires_at: int,
        *,
        fees: Sequence[int] = (),
        vsize_total: int = 0,
        vsize_fee: int = 0,
    ) -> bool:
        if expected_version is None:
            condition = "attribute_not_exists(pk)"
            values = {}
        else:
            condition = "version = :expected AND attribute_not_exists(closed_at)"
            values = {":expected": _n(expected_version)}
        return self._conditional_update(
            Key=_key(minute),
            # `fees` is the minute's whole list after this batch (read under the version this
            # write is conditional on), so it is set, not appended.
            UpdateExpression=(
                "SET version = :next, expires_at = :exp, fees = :fees "
                "ADD #count :c, fee :f, seen :k, vsize :v, vsize_fee :vf"
            ),
            ConditionExpression=condition,
            ExpressionAttributeNames={"#count": "count"},
            ExpressionAttributeValues={
                **values,
                ":next": _n((expected_version or 0) + 1),
                ":exp": _n(expires_at),
                ":c": _n(count),
                ":f": _n(total_fee),
                ":k": {"SS": sorted(keys)},
                ":fees": {"B": pack_fees(fees)},
                ":v": _n(vsize_total),
                ":vf": _n(vsize_fee),
            },
        )

    def add_late(self, minute: int, expected_version: int, keys: Collection[str]) -> bool:
        return self._conditional_update(
            Key=_key(minute),
            UpdateExpression="SET version = :next ADD late_seen :k, late_count :c",
            ConditionExpression="version = :expected AND attribute_exists(closed_at)",
            ExpressionAttributeValues={
                ":expected": _n(expected_version),
                ":next": _n(expected_version + 1),
                ":k": {"SS": sorted(keys)},
                ":c": _n(len(keys)),
            },
        )

    def close(self, minute: int, closed_at: int, expires_at: int) -> MinuteState:
        # One write: whatever was counted before it is in the returned totals; any add after it
        # fails its "not closed" condition and becomes late.
        response = self.client.update_item(
            TableName=self.table,
            Key=_key(minute),
            UpdateExpression=(
                "SET closed_at = if_not_exists(closed_at, :now), #count = if_not_exists(#count, :zero),"
                " fee = if_not_exists(fee, :zero), version = if_not_exists(version, :zero),"
                " expires_at = if_not_exists(expires_at, :exp)"
            ),
            ExpressionAttributeNames={"#count": "count"},
            ExpressionAttributeValues={
                ":now": _n(closed_at),
                ":zero": _n(0),
                ":exp": _n(expires_at),
            },
            ReturnValues="ALL_NEW",
        )
        return _state(response["Attributes"])

    def mark_written(self, minute: int, written_at: int) -> None:
        self.client.update_item(
            TableName=self.table,
            Key=_key(minute),
            UpdateExpression="SET written_at = if_not_exists(written_at, :now)",
            ExpressionAttributeValues={":now": _n(written_at)},
        )

    def cursor(self) -> int | None:
        item = self.client.get_item(TableName=self.table, Key=CURSOR_KEY, ConsistentRead=True).get(
            "Item"
        )
        return int(item["last_closed"]["N"]) if item and "last_closed" in item else None

    def advance_cursor(self, minute: int) -> None:
        self._conditional_update(
            Key=CURSOR_KEY,
            UpdateExpression="SET last_closed = :m, last_closed_minute = :id",
            ConditionExpression="attribute_not_exists(last_closed) OR last_closed < :m",
            ExpressionAttributeValues={":m": _n(minute), ":id": {"S": minute_id(minute)}},
        )

    def earliest_minute(self) -> int | None:
        response = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": MINUTE_PK}},
            ProjectionExpression="sk",
            ScanIndexForward=True,
            Limit=1,
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        return parse_minute_id(items[0]["sk"]["S"]) if items else None
