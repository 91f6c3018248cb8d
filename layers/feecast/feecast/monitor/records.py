"""What monitoring keeps in the StateTable and reads from SageMaker, as domain types.

- FORECAST#<endpoint> / ORIGIN#<iso minute>: the forecast a run made for the next run;
- SCORE#<endpoint> / WINDOW#<iso origin>: each hourly window's losses and weight, and the rolling
  pool computed when it was scored (the retraining decision reads the newest);
- MONITOR#ALARM#<alarm> / EPISODE: the alarm's latest retraining episode.

The stores work on the MonitorState port (feecast.monitor.ports; the real one is
feecast.adapters.state_table.StateTable), so unit tests use tests/support/fakes.FakeState.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from feecast.monitor.episode import Episode
from feecast.monitor.names import episode_key, forecast_key, score_key
from feecast.monitor.ports import MonitorState
from feecast.monitor.rolling import RollingScore, WindowRecord
from feecast.observability import logger
from feecast.times import iso

if TYPE_CHECKING:  # feecast.deepar imports numpy: only the monitoring run needs it at run time
    from feecast.deepar import Forecast

__all__ = [
    "EndpointState",
    "EpisodeStore",
    "ForecastStore",
    "LatestScore",
    "ScoreStore",
    "StoredForecast",
    "endpoint_state",
]

FORECAST_TTL = timedelta(days=7)
SCORE_TTL = timedelta(days=14)
EPISODE_TTL = timedelta(days=90)


# -- SageMaker: the endpoint -------------------------------------------------------------------
@dataclass(frozen=True)
class EndpointState:
    status: str  # as DescribeEndpoint spells it: InService, Updating, ...
    config_name: str | None
    failure_reason: str | None = None


def endpoint_state(description: Mapping[str, Any] | None) -> EndpointState | None:
    """DescribeEndpoint's answer (None: no such endpoint) as the endpoint's state."""
    if description is None:
        return None
    return EndpointState(
        status=str(description.get("EndpointStatus", "")),
        config_name=description.get("EndpointConfigName"),
        failure_reason=description.get("FailureReason"),
    )


# -- stored forecasts --------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredForecast:
    endpoint: str
    origin: datetime  # the first forecast minute
    forecast: Forecast
    endpoint_config_name: str | None
    made_at: datetime


class ForecastStore:
    """FORECAST#<endpoint> / ORIGIN#<iso minute>: the forecast a run made for the next run."""

    def __init__(self, state: MonitorState) -> None:
        self.state = state

    def get(self, endpoint: str, origin: datetime) -> StoredForecast | None:
        item = self.state.get(forecast_key(endpoint), f"ORIGIN#{iso(origin)}")
        if not item:
            return None
        from feecast.deepar import parse_forecast

        return StoredForecast(
            endpoint=endpoint,
            origin=origin,
            forecast=parse_forecast(json.loads(item["forecast"])),
            endpoint_config_name=item.get("endpoint_config_name") or None,
            made_at=datetime.fromisoformat(item["made_at"]),
        )

    def put(self, stored: StoredForecast) -> bool:
        """Keep the first forecast stored for an origin (a retried run does not overwrite it)."""
        item: dict[str, Any] = {
            "pk": forecast_key(stored.endpoint),
            "sk": f"ORIGIN#{iso(stored.origin)}",
            "forecast": json.dumps(stored.forecast.to_dict(), allow_nan=False),
            "made_at": stored.made_at.astimezone(UTC).isoformat(),
            "expires_at": int((stored.made_at + FORECAST_TTL).timestamp()),
            "endpoint_config_name": stored.endpoint_config_name or None,
        }
        return self.state.put(item, condition="attribute_not_exists(pk)")


# -- scored windows ----------------------------------------------------------------------------
def _opt_float(item: Mapping[str, Any], name: str) -> float | None:
    return float(item[name]) if item.get(name) is not None else None


@dataclass(frozen=True)
class LatestScore:
    """The newest scored window of an endpoint with the rolling pool computed at that run."""

    record: WindowRecord
    rolling: RollingScore
    scheduled_time: str


class ScoreStore:
    """SCORE#<endpoint> / WINDOW#<iso origin>: each hourly window's losses and weight, and the
    rolling pool computed when it was scored (the retraining decision reads the newest)."""

    def __init__(self, state: MonitorState) -> None:
        self.state = state

    def window_records(self, endpoint: str, since: datetime, until: datetime) -> list[WindowRecord]:
        """The windows with origin in [since, until], oldest first."""
        items = self.state.query(
            score_key(endpoint),
            sk_between=(f"WINDOW#{iso(since)}", f"WINDOW#{iso(until)}"),
            newest_first=False,
            consistent=True,
        )
        return [self._record(item) for item in items]

    @staticmethod
    def _record(item: Mapping[str, Any]) -> WindowRecord:
        return WindowRecord(
            origin=datetime.fromisoformat(
                item["sk"].removeprefix("WINDOW#").replace("Z", "+00:00")
            ),
            loss=_opt_float(item, "loss"),
            baseline_loss=_opt_float(item, "baseline_loss"),
            weight=float(item.get("weight", 0)),
            config=item.get("endpoint_config_name") or None,
        )

    def put(
        self, endpoint: str, record: WindowRecord, rolling: RollingScore, scheduled: datetime
    ) -> None:
        """Write (or rewrite: a retried run computes the same) one window's score."""
        self.state.put(
            {
                "pk": score_key(endpoint),
                "sk": f"WINDOW#{iso(record.origin)}",
                "weight": float(record.weight),
                "scheduled_time": iso(scheduled),
                "rolling_hours": rolling.hours,
                "rolling_windows": rolling.windows,
                "rolling_complete": rolling.complete,
                "expires_at": int((scheduled + SCORE_TTL).timestamp()),
                "loss": _float(record.loss),
                "baseline_loss": _float(record.baseline_loss),
                "rolling_loss": _float(rolling.loss),
                "rolling_baseline_loss": _float(rolling.baseline_loss),
                "rolling_ratio": _float(rolling.ratio),
                "endpoint_config_name": record.config or None,
            }
        )

    def latest(self, endpoint: str) -> LatestScore | None:
        items = list(
            self.state.query(
                score_key(endpoint),
                sk_prefix="WINDOW#",
                newest_first=True,
                limit=1,
                consistent=True,
            )
        )
        if not items:
            return None
        item = items[0]
        rolling = RollingScore(
            hours=int(item.get("rolling_hours", 0)),
            windows=int(item.get("rolling_windows", 0)),
            loss=_opt_float(item, "rolling_loss"),
            baseline_loss=_opt_float(item, "rolling_baseline_loss"),
            ratio=_opt_float(item, "rolling_ratio"),
            complete=bool(item.get("rolling_complete", True)),
        )
        return LatestScore(self._record(item), rolling, str(item.get("scheduled_time", "")))


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


# -- alarm episodes ----------------------------------------------------------------------------
_EPISODE_SK = "EPISODE"


def _ms(ts: datetime) -> int:
    return round(ts.timestamp() * 1000)


class EpisodeStore:
    """MONITOR#ALARM#<alarm> / EPISODE: the alarm's latest retraining episode."""

    def __init__(self, state: MonitorState) -> None:
        self.state = state

    def get(self, alarm: str) -> Episode | None:
        item = self.state.get(episode_key(alarm), _EPISODE_SK)
        if not item:
            return None
        return Episode(
            alarm_name=alarm,
            started_at=datetime.fromtimestamp(int(item["started_ms"]) / 1000, UTC),
            build_status=item.get("build_status"),
            execution_arn=item.get("execution_arn"),
        )

    def try_open(self, alarm: str, at: datetime, cooldown: timedelta) -> tuple[bool, Episode]:
        """Atomically open an episode starting `at` unless the current one's cool-down covers it.

        Returns (opened, the alarm's episode after the attempt)."""
        opened = self.state.put(
            {
                "pk": episode_key(alarm),
                "sk": _EPISODE_SK,
                "started_ms": _ms(at),
                "started_at": at.astimezone(UTC).isoformat(),
                "expires_at": int((at + EPISODE_TTL).timestamp()),
            },
            condition="attribute_not_exists(pk) OR started_ms <= :cutoff",
            values={":cutoff": _ms(at - cooldown)},
        )
        if opened:
            return True, Episode(alarm_name=alarm, started_at=at)
        current = self.get(alarm)
        if current is None:  # deleted in between (TTL): try once more from scratch
            return self.try_open(alarm, at, cooldown)
        return False, current

    def record_build(self, episode: Episode, status: str, execution_arn: str | None) -> None:
        """Remember what start_build answered for this episode (only if it is still current)."""
        changes: dict[str, Any] = {"build_status": status}
        if execution_arn:
            changes["execution_arn"] = execution_arn
        if not self.state.update(
            episode_key(episode.alarm_name),
            _EPISODE_SK,
            changes,
            condition="started_ms = :t",
            values={":t": _ms(episode.started_at)},
        ):
            logger.info("episode replaced before its build was recorded", extra=episode.to_dict())
