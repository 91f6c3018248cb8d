"""The twin's DynamoDB speed-ups (feecast_twin.core._patch_dynamodb*) keep moto's answers.

They cache what UpdateItem's validation derives from the expression text alone; these tests
repeat the same expression with other names and values and expect AWS's errors every time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

CORE = Path(__file__).parent / "templates" / "core.yaml"
pytestmark = pytest.mark.twin(template=CORE)
KEY = {"pk": {"S": "p"}, "sk": {"S": "s"}}


@pytest.fixture
def ddb(twin: Any) -> Any:
    client = twin.client("dynamodb")
    client.create_table(
        TableName="speedups",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def update(ddb: Any, expression: str, values: dict[str, Any], names: dict[str, str] | None = None):
    kwargs: dict[str, Any] = {"ExpressionAttributeNames": names} if names else {}
    return ddb.update_item(
        TableName="speedups",
        Key=KEY,
        UpdateExpression=expression,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
        **kwargs,
    )["Attributes"]


def error(ddb: Any, *args: Any) -> str:
    with pytest.raises(ClientError) as caught:
        update(ddb, *args)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    return str(caught.value.response["Error"]["Message"])


def test_given_a_repeated_expression_when_applied_then_each_call_uses_its_own_values(ddb: Any):
    expression = "SET #v = :v ADD n :one, tags :t"
    for i in range(3):
        item = update(
            ddb,
            expression,
            {":v": {"N": str(i)}, ":one": {"N": "1"}, ":t": {"SS": [f"k{i}"]}},
            {"#v": "version"},
        )
    assert item["version"] == {"N": "2"} and item["n"] == {"N": "3"}
    assert sorted(item["tags"]["SS"]) == ["k0", "k1", "k2"]
    # Same text, a value of the wrong type: the value checks still run after a success.
    assert (
        "type"
        in error(
            ddb,
            expression,
            {":v": {"N": "9"}, ":one": {"S": "x"}, ":t": {"SS": ["a"]}},
            {"#v": "version"},
        ).lower()
    )


def test_given_a_validated_expression_when_its_names_change_then_the_checks_run_again(ddb: Any):
    update(ddb, "SET #a = :v", {":v": {"S": "x"}}, {"#a": "other"})
    # Same text, now naming the range key: AWS refuses to update a key attribute.
    assert "key" in error(ddb, "SET #a = :v", {":v": {"S": "x"}}, {"#a": "sk"}).lower()


def test_given_an_invalid_expression_when_repeated_then_it_fails_every_time(ddb: Any):
    for _ in range(2):
        error(ddb, "SET a = :v, a = :w", {":v": {"S": "x"}, ":w": {"S": "y"}})
        error(ddb, "SET pk = :v", {":v": {"S": "x"}})
        error(ddb, "ADD n :one ADD m :one", {":one": {"N": "1"}})
