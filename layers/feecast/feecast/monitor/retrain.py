"""Accuracy alarm -> exactly one build per alarm episode (RetrainOnAlarmFunction).

Three layers keep it to one build (docs/monitoring.md):
1. duplicate deliveries of one transition (same alarm, same state timestamp) run once
   (Powertools Idempotency) and, past that, are REPEATs of their episode (episode.py);
2. a flapping alarm (ALARM -> OK -> ALARM inside the cool-down) is SUPPRESSED: the episode is
   opened by an atomic conditional write keyed by alarm name, so concurrent deliveries agree;
3. start_build deduplicates on the episode's key and joins a build that is already running
   (for example one started by the other stage's alarm or by the schedule).
An alarm whose actions are disabled (endpoint deleted, or paused by an operator) starts nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from feecast.adapters.idempotency import run_once
from feecast.adapters.notify import notify
from feecast.build.start import BuildStart, StartBuildSettings, start_build
from feecast.monitor import aws
from feecast.monitor.episode import Episode, Verdict, classify
from feecast.monitor.events import AlarmChange
from feecast.monitor.names import (
    RETRAININGS_STARTED,
    RETRAININGS_SUPPRESSED,
    endpoint_name,
    stage_of_alarm,
)
from feecast.monitor.settings import RetrainSettings
from feecast.observability import logger, metrics

__all__ = ["RetrainPorts", "build_facts", "decide_and_start", "retrain_on_alarm"]

TRIGGER = "alarm"
_DUPLICATE_WINDOW_SECONDS = 86400


class EpisodeStorePort(Protocol):
    def get(self, alarm: str) -> Episode | None: ...
    def try_open(self, alarm: str, at: Any, cooldown: timedelta) -> tuple[bool, Episode]: ...
    def record_build(self, episode: Episode, status: str, execution_arn: str | None) -> None: ...


@dataclass
class RetrainPorts:
    episodes: EpisodeStorePort
    start_build: Callable[[str, str], BuildStart]  # (trigger, dedup_key)
    alarm_actions_enabled: Callable[[str], bool | None] = aws.alarm_actions_enabled
    notify: Callable[[str, str, str, dict[str, Any]], str] = notify


def build_facts(result: BuildStart) -> dict[str, Any]:
    """start_build's answer as JSON: status (started | joined | duplicate), execution_arn, ..."""
    return dict(result.model_dump(mode="json"))


def decide_and_start(
    change: AlarmChange, settings: RetrainSettings, ports: RetrainPorts
) -> dict[str, Any]:
    """Classify the transition against the alarm's episode and start the build if it opens one."""
    alarm = change.alarm_name
    stage = stage_of_alarm(settings.project_name, settings.stages, alarm)
    cooldown = timedelta(seconds=settings.retrain_cooldown_seconds)
    result: dict[str, Any] = {
        "alarm_name": alarm,
        "stage": stage,
        "transitioned_at": change.transitioned_at.isoformat(),
        "loss": change.latest_value,
        "threshold": change.threshold,
    }
    if stage is None or change.state != "ALARM":
        return result | {
            "outcome": "ignored",
            "reason": "not an ALARM of this project's accuracy alarms",
        }

    enabled = ports.alarm_actions_enabled(alarm)
    if enabled is False:
        metrics.add_metric(name=RETRAININGS_SUPPRESSED, unit="Count", value=1)
        return result | {"outcome": "skipped", "reason": "the alarm's actions are disabled"}

    episode = ports.episodes.get(alarm)
    verdict = classify(change.transitioned_at, episode, cooldown)
    if verdict is Verdict.OPEN:
        opened, episode = ports.episodes.try_open(alarm, change.transitioned_at, cooldown)
        if not opened:  # another delivery opened an episode first
            verdict = classify(change.transitioned_at, episode, cooldown)
    assert episode is not None  # classify() only answers OPEN when there is none
    result["episode"] = episode.to_dict()
    result["cooldown_ends_at"] = episode.ends_at(cooldown).isoformat()

    if verdict in (Verdict.SUPPRESS, Verdict.STALE):
        metrics.add_metric(name=RETRAININGS_SUPPRESSED, unit="Count", value=1)
        result |= {
            "outcome": "suppressed",
            "reason": f"{verdict.value}: the episode started {episode.started_at.isoformat()} "
            f"lasts until {result['cooldown_ends_at']}",
        }
        if verdict is Verdict.SUPPRESS:
            _notify_outcome(settings, ports, result, stage)
        return result
    if verdict is Verdict.REPEAT and episode.build_status is not None:
        return result | {
            "outcome": "duplicate",
            "reason": "this transition already started its build",
        }

    # OPEN, or a REPEAT whose first delivery stopped before start_build answered: the dedup key
    # makes a second call start nothing new.
    build = build_facts(ports.start_build(TRIGGER, episode.dedup_key))
    ports.episodes.record_build(episode, build["status"], build["execution_arn"])
    started = build["status"] == "started"
    metrics.add_metric(
        name=RETRAININGS_STARTED if started else RETRAININGS_SUPPRESSED, unit="Count", value=1
    )
    result |= {"outcome": "started" if started else build["status"], "build": build}
    _notify_outcome(settings, ports, result, stage)
    return result


def _notify_outcome(
    settings: RetrainSettings, ports: RetrainPorts, result: dict[str, Any], stage: str
) -> None:
    outcome = result["outcome"]
    loss = result.get("loss")
    threshold = result.get("threshold")
    numbers = (
        f"loss {loss:g} > threshold {threshold:g}"
        if loss is not None and threshold is not None
        else "loss above threshold"
    )
    build = result.get("build") or {}
    running = build.get("execution_name")
    short, what = {
        "started": ("build started", f"a new build started ({running})"),
        "joined": ("joined running build", f"joined the build already running ({running})"),
        "duplicate": ("build already started", f"its build was already started ({running})"),
        "suppressed": (
            "no new build (cool-down)",
            "no new build: this alarm's previous episode is still in its cool-down "
            f"(until {result.get('cooldown_ends_at')})",
        ),
    }.get(outcome, (f"build {outcome}", f"build {outcome}"))
    ports.notify(
        settings.notification_topic_arn,
        f"feecast: {result['alarm_name']} ALARM - {short}",
        f"The {stage} endpoint {endpoint_name(settings.project_name, stage)} breached its "
        f"accuracy threshold ({numbers}): {what}.",
        result,
    )


def retrain_on_alarm(
    change: AlarmChange,
    settings: RetrainSettings,
    *,
    lambda_context: Any | None = None,
    ports: RetrainPorts | None = None,
) -> dict[str, Any]:
    """The handler's one call: `decide_and_start` once per alarm transition."""
    if ports is None:
        build_settings = StartBuildSettings(
            model_build_state_machine_arn=settings.model_build_state_machine_arn,
            state_table=settings.state_table,
        )
        ports = RetrainPorts(
            episodes=aws.EpisodeStore(settings.state_table),
            # The build stage's single entry point: dedup on the key, join a running build.
            start_build=lambda trigger, key: start_build(trigger, key, build_settings),
        )
    if (
        change.state != "ALARM"
        or stage_of_alarm(settings.project_name, settings.stages, change.alarm_name) is None
    ):
        return {"alarm_name": change.alarm_name, "outcome": "ignored", "state": change.state}
    logger.info(
        "accuracy alarm", extra={"alarm": change.alarm_name, "at": str(change.transitioned_at)}
    )
    return run_once(
        table=settings.idempotency_table,
        name="retrain-on-alarm",
        key={"alarm": change.alarm_name, "transition": change.transitioned_at.isoformat()},
        expires_after_seconds=_DUPLICATE_WINDOW_SECONDS,
        call=lambda: decide_and_start(change, settings, ports),
        lambda_context=lambda_context,
    )
