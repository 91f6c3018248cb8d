"""Small boto3 adapters used by monitoring: Scheduler, CloudWatch, SageMaker, the StateTable.

Clients are built once per execution environment. Each adapter exposes only what the use
cases need, so unit tests replace them with in-memory fakes (tests/unit/test_monitor_run.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from feecast.adapters.errors import is_not_found
from feecast.monitor.episode import Episode
from feecast.monitor.names import (
    ENDPOINT_DIMENSION,
    STAGE_DIMENSION,
    episode_key,
    forecast_key,
    score_key,
)
from feecast.monitor.rolling import RollingScore, WindowRecord
from feecast.observability import logger
from feecast.times import iso

if TYPE_CHECKING:  # feecast.deepar imports numpy: only the monitoring run needs it at run time
    from feecast.deepar import Forecast

FORECAST_TTL = timedelta(days=7)
SCORE_TTL = timedelta(days=14)
EPISODE_TTL = timedelta(days=90)


@cache
def client(service: str) -> Any:
    return boto3.client(service)  # type: ignore[call-overload]  # one cache for every service


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


# -- CloudWatch -------------------------------------------------------------------------------
def enable_alarm_actions(name: str) -> bool:
    """Enable an alarm's actions; False when the alarm does not exist (the template makes it)."""
    cloudwatch = client("cloudwatch")
    if not cloudwatch.describe_alarms(AlarmNames=[name]).get("MetricAlarms"):
        return False
    cloudwatch.enable_alarm_actions(AlarmNames=[name])
    return True


def disable_alarm_actions(name: str) -> bool:
    """Disable an alarm's actions; False when the alarm does not exist."""
    cloudwatch = client("cloudwatch")
    if not cloudwatch.describe_alarms(AlarmNames=[name]).get("MetricAlarms"):
        return False
    cloudwatch.disable_alarm_actions(AlarmNames=[name])
    return True


def alarm_actions_enabled(name: str) -> bool | None:
    """Whether the alarm's actions are enabled (None: no such metric alarm)."""
    alarms = client("cloudwatch").describe_alarms(AlarmNames=[name]).get("MetricAlarms", [])
    return bool(alarms[0].get("ActionsEnabled", True)) if alarms else None


def publish_metrics(
    namespace: str,
    stage: str,
    endpoint: str,
    timestamp: datetime,
    values: Mapping[str, float],
) -> None:
    """PutMetricData with an explicit timestamp (the scheduled hour), dimensions Stage and
    EndpointName: a replayed or late run lands on the hour it describes."""
    if not values:
        return
    client("cloudwatch").put_metric_data(
        **metric_data_request(namespace, stage, endpoint, timestamp, values)
    )


def metric_data_request(
    namespace: str,
    stage: str,
    endpoint: str,
    timestamp: datetime,
    values: Mapping[str, float],
) -> dict[str, Any]:
    """PutMetricData arguments: one datum per value, dimensions Stage and EndpointName."""
    dimensions = dimensions_of(stage, endpoint)
    return {
        "Namespace": namespace,
        "MetricData": [
            {
                "MetricName": name,
                "Dimensions": dimensions,
                "Timestamp": timestamp,
                "Value": float(value),
                "Unit": "None",
            }
            for name, value in values.items()
        ],
    }


def dimensions_of(stage: str, endpoint: str) -> list[dict[str, str]]:
    return [
        {"Name": STAGE_DIMENSION, "Value": stage},
        {"Name": ENDPOINT_DIMENSION, "Value": endpoint},
    ]


# -- SageMaker --------------------------------------------------------------------------------
@dataclass(frozen=True)
class EndpointState:
    status: str  # as DescribeEndpoint spells it: InService, Updating, ...
    config_name: str | None
    failure_reason: str | None = None


def describe_endpoint(name: str) -> EndpointState | None:
    """The endpoint's status and config (None when it does not exist)."""
    try:
        response = client("sagemaker").describe_endpoint(EndpointName=name)
    except ClientError as exc:
        if is_not_found(exc):  # the one rule, shared with the deploy stage's adapter
            return None
        raise
    return EndpointState(
        status=str(response.get("EndpointStatus", "")),
        config_name=response.get("EndpointConfigName"),
        failure_reason=response.get("FailureReason"),
    )


def invoke_deepar(endpoint: str, body: Mapping[str, Any]) -> list[Forecast]:
    """POST a DeepAR JSON request; the parsed forecasts (FormatError if the answer is not one)."""
    response = client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint,
        ContentType="application/json",
        Accept="application/json",
        Body=json.dumps(body, allow_nan=False),
    )
    from feecast.deepar import parse_endpoint_response

    return parse_endpoint_response(response["Body"].read())


# -- StateTable: stored forecasts ---------------------------------------------------------------
@dataclass(frozen=True)
class StoredForecast:
    endpoint: str
    origin: datetime  # the first forecast minute
    forecast: Forecast
    endpoint_config_name: str | None
    made_at: datetime


class ForecastStore:
    """FORECAST#<endpoint> / ORIGIN#<iso minute>: the forecast a run made for the next run."""

    def __init__(self, table: str) -> None:
        self.table = table

    def get(self, endpoint: str, origin: datetime) -> StoredForecast | None:
        item = (
            client("dynamodb")
            .get_item(
                TableName=self.table,
                Key={"pk": {"S": forecast_key(endpoint)}, "sk": {"S": f"ORIGIN#{iso(origin)}"}},
                ConsistentRead=True,
            )
            .get("Item")
        )
        if not item:
            return None
        from feecast.deepar import parse_forecast

        config = item.get("endpoint_config_name", {}).get("S")
        return StoredForecast(
            endpoint=endpoint,
            origin=origin,
            forecast=parse_forecast(json.loads(item["forecast"]["S"])),
            endpoint_config_name=config or None,
            made_at=datetime.fromisoformat(item["made_at"]["S"]),
        )

    def put(self, stored: StoredForecast) -> bool:
        """Keep the first forecast stored for an origin (a retried run does not overwrite it)."""
        item: dict[str, Any] = {
            "pk": {"S": forecast_key(stored.endpoint)},
            "sk": {"S": f"ORIGIN#{iso(stored.origin)}"},
            "forecast": {"S": json.dumps(stored.forecast.to_dict(), allow_nan=False)},
            "made_at": {"S": stored.made_at.astimezone(UTC).isoformat()},
            "expires_at": {"N": str(int((stored.made_at + FORECAST_TTL).timestamp()))},
        }
        if stored.endpoint_config_name:
            item["endpoint_config_name"] = {"S": stored.endpoint_config_name}
        try:
            client("dynamodb").put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True


# -- StateTable: scored windows -----------------------------------------------------------------
def _num(value: float | None) -> dict[str, str] | None:
    return None if value is None else {"N": repr(float(value))}


def _opt_float(item: dict[str, Any], name: str) -> float | None:
    return float(item[name]["N"]) if name in item else None


@dataclass(frozen=True)
class LatestScore:
    """The newest scored window of an endpoint with the rolling pool computed at that run."""

    record: WindowRecord
    rolling: RollingScore
    scheduled_time: str


class ScoreStore:
    """SCORE#<endpoint> / WINDOW#<iso origin>: each hourly window's losses and weight, and the
    rolling pool computed when it was scored (the retraining decision reads the newest)."""

    def __init__(self, table: str) -> None:
        self.table = table

    def window_records(self, endpoint: str, since: datetime, until: datetime) -> list[WindowRecord]:
        """The windows with origin in [since, until], oldest first."""
        response = client("dynamodb").query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={
                ":pk": {"S": score_key(endpoint)},
                ":a": {"S": f"WINDOW#{iso(since)}"},
                ":b": {"S": f"WINDOW#{iso(until)}"},
            },
            ConsistentRead=True,
        )
        return [self._record(item) for item in response.get("Items", [])]

    @staticmethod
    def _record(item: dict[str, Any]) -> WindowRecord:
        return WindowRecord(
            origin=datetime.fromisoformat(
                item["sk"]["S"].removeprefix("WINDOW#").replace("Z", "+00:00")
            ),
            loss=_opt_float(item, "loss"),
            baseline_loss=_opt_float(item, "baseline_loss"),
            weight=float(item.get("weight", {}).get("N", "0")),
            config=item.get("endpoint_config_name", {}).get("S") or None,
        )

    def put(
        self, endpoint: str, record: WindowRecord, rolling: RollingScore, scheduled: datetime
    ) -> None:
        """Write (or rewrite: a retried run computes the same) one window's score."""
        item: dict[str, Any] = {
            "pk": {"S": score_key(endpoint)},
            "sk": {"S": f"WINDOW#{iso(record.origin)}"},
            "weight": {"N": repr(float(record.weight))},
            "scheduled_time": {"S": iso(scheduled)},
            "rolling_hours": {"N": str(rolling.hours)},
            "rolling_windows": {"N": str(rolling.windows)},
            "rolling_complete": {"BOOL": rolling.complete},
            "expires_at": {"N": str(int((scheduled + SCORE_TTL).timestamp()))},
        }
        for name, value in (
            ("loss", record.loss),
            ("baseline_loss", record.baseline_loss),
            ("rolling_loss", rolling.loss),
            ("rolling_baseline_loss", rolling.baseline_loss),
            ("rolling_ratio", rolling.ratio),
        ):
            number = _num(value)
            if number is not None:
                item[name] = number
        if record.config:
            item["endpoint_config_name"] = {"S": record.config}
        client("dynamodb").put_item(TableName=self.table, Item=item)

    def latest(self, endpoint: str) -> LatestScore | None:
        response = client("dynamodb").query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :w)",
            ExpressionAttributeValues={":pk": {"S": score_key(endpoint)}, ":w": {"S": "WINDOW#"}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        if not items:
            return None
        item = items[0]
        rolling = RollingScore(
            hours=int(item.get("rolling_hours", {}).get("N", "0")),
            windows=int(item.get("rolling_windows", {}).get("N", "0")),
            loss=_opt_float(item, "rolling_loss"),
            baseline_loss=_opt_float(item, "rolling_baseline_loss"),
            ratio=_opt_float(item, "rolling_ratio"),
            complete=bool(item.get("rolling_complete", {}).get("BOOL", True)),
        )
        return LatestScore(self._record(item), rolling, item.get("scheduled_time", {}).get("S", ""))


# -- StateTable: alarm episodes -----------------------------------------------------------------
_EPISODE_SK = "EPISODE"


def _ms(ts: datetime) -> int:
    return round(ts.timestamp() * 1000)


class EpisodeStore:
    """MONITOR#ALARM#<alarm> / EPISODE: the alarm's latest retraining episode."""

    def __init__(self, table: str) -> None:
        self.table = table

    def _key(self, alarm: str) -> dict[str, Any]:
        return {"pk": {"S": episode_key(alarm)}, "sk": {"S": _EPISODE_SK}}

    def get(self, alarm: str) -> Episode | None:
        item = (
            client("dynamodb")
            .get_item(TableName=self.table, Key=self._key(alarm), ConsistentRead=True)
            .get("Item")
        )
        if not item:
            return None
        return Episode(
            alarm_name=alarm,
            started_at=datetime.fromtimestamp(int(item["started_ms"]["N"]) / 1000, UTC),
            build_status=item.get("build_status", {}).get("S"),
            execution_arn=item.get("execution_arn", {}).get("S"),
        )

    def try_open(self, alarm: str, at: datetime, cooldown: timedelta) -> tuple[bool, Episode]:
        """Atomically open an episode starting `at` unless the current one's cool-down covers it.

        Returns (opened, the alarm's episode after the attempt)."""
        try:
            client("dynamodb").put_item(
                TableName=self.table,
                Item={
                    **self._key(alarm),
                    "started_ms": {"N": str(_ms(at))},
                    "started_at": {"S": at.astimezone(UTC).isoformat()},
                    "expires_at": {"N": str(int((at + EPISODE_TTL).timestamp()))},
                },
                ConditionExpression="attribute_not_exists(pk) OR started_ms <= :cutoff",
                ExpressionAttributeValues={":cutoff": {"N": str(_ms(at - cooldown))}},
            )
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                raise
            current = self.get(alarm)
            if current is None:  # deleted in between (TTL): try once more from scratch
                return self.try_open(alarm, at, cooldown)
            return False, current
        return True, Episode(alarm_name=alarm, started_at=at)

    def record_build(self, episode: Episode, status: str, execution_arn: str | None) -> None:
        """Remember what start_build answered for this episode (only if it is still current)."""
        names = {"#s": "build_status"}
        values: dict[str, Any] = {":s": {"S": status}, ":t": {"N": str(_ms(episode.started_at))}}
        update = "SET #s = :s"
        if execution_arn:
            update += ", execution_arn = :a"
            values[":a"] = {"S": execution_arn}
        try:
            client("dynamodb").update_item(
                TableName=self.table,
                Key=self._key(episode.alarm_name),
                UpdateExpression=update,
                ConditionExpression="started_ms = :t",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                raise
            logger.info("episode replaced before its build was recorded", extra=episode.to_dict())
