"""Accuracy alarm -> a diagnosis, and exactly one build per episode (RetrainOnAlarmFunction).

First the diagnosis (rolling.py): the loss pooled over the alarm window is high, but is the
model to blame? If its loss is still at most `degraded_ratio` times the naive forecast's on the
same windows, fees became unpredictable: a new model would not do better, so by default
(`retrain_when` "model_degraded") no build starts and the notification says so; with a higher
ratio the model degraded and a build starts ("any": every alarm starts one).

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

from pydantic import BaseModel

from feecast.build.ports import BuildExecutions
from feecast.build.settings import StartBuildSettings
from feecast.build.start_build import BuildStart, TableBuildBackend, start_build
from feecast.config import ValidationConfig
from feecast.lifecycle import DetailType, lifecycle_event
from feecast.monitor.episode import Episode, Verdict, classify
from feecast.monitor.events import AlarmChange
from feecast.monitor.names import (
    RETRAININGS_STARTED,
    RETRAININGS_SUPPRESSED,
    endpoint_name,
    stage_of_alarm,
)
from feecast.monitor.ports import AlarmActions, MonitorState
from feecast.monitor.records import EpisodeStore, LatestScore, ScoreStore
from feecast.monitor.rolling import classify as classify_ratio
from feecast.monitor.settings import RetrainSettings
from feecast.observability import logger, metrics
from feecast.ports import Notifier, Once, Parameters

__all__ = [
    "RetrainPorts",
    "RetrainResult",
    "build_facts",
    "decide_and_start",
    "diagnose",
    "retrain_on_alarm",
]

TRIGGER = "alarm"
_DUPLICATE_WINDOW_SECONDS = 86400


class EpisodeStorePort(Protocol):
    def get(self, alarm: str) -> Episode | None: ...
    def try_open(self, alarm: str, at: Any, cooldown: timedelta) -> tuple[bool, Episode]: ...
    def record_build(self, episode: Episode, status: str, execution_arn: str | None) -> None: ...


def _no_score(endpoint: str) -> LatestScore | None:
    return None


class RetrainResult(BaseModel):
    """What an alarm transition led to (also the notification's facts)."""

    alarm_name: str
    # started | joined | duplicate (start_build's answer), suppressed (cool-down), not_rebuilt
    # (fees unpredictable), skipped (actions disabled) or ignored
    outcome: str
    state: str | None = None  # an ignored transition's state
    stage: str | None = None
    transitioned_at: str | None = None
    loss: float | None = None  # the rolling loss when scored, else the alarm's value
    threshold: float | None = None
    reason: str | None = None
    diagnosis: dict[str, Any] | None = None  # diagnose()
    episode: dict[str, Any] | None = None  # episode.Episode.to_dict
    cooldown_ends_at: str | None = None
    build: BuildStart | None = None
    replayed: bool = False  # a repeat of the transition answered with the first result


@dataclass
class RetrainPorts:
    """What a retraining decision needs (`from_adapters` puts it on the adapters)."""

    episodes: EpisodeStorePort
    start_build: Callable[[str, str], BuildStart]  # (trigger, dedup_key)
    alarm_actions_enabled: Callable[[str], bool | None]  # None: no such alarm
    # notify(topic, subject, message, facts, *, event=LifecycleEvent) -> message id
    notify: Callable[..., str]
    # The newest scored window of an endpoint, with its rolling pool (records.ScoreStore).
    latest_score: Callable[[str], LatestScore | None] = _no_score
    validation: Callable[[], ValidationConfig] = ValidationConfig

    @classmethod
    def from_adapters(
        cls,
        settings: RetrainSettings,
        *,
        state: MonitorState,
        executions: BuildExecutions,
        alarms: AlarmActions,
        notifier: Notifier,
        parameters: Parameters,
    ) -> RetrainPorts:
        build_settings = StartBuildSettings(
            model_build_state_machine_arn=settings.model_build_state_machine_arn,
            state_table=settings.state_table,
        )
        backend = TableBuildBackend(build_settings, state=state, executions=executions)
        return cls(
            episodes=EpisodeStore(state),
            # The build stage's single entry point: dedup on the key, join a running build.
            start_build=lambda trigger, key: start_build(
                trigger, key, build_settings, backend=backend
            ),
            alarm_actions_enabled=alarms.actions_enabled,
            notify=notifier.notify,
            latest_score=ScoreStore(state).latest,
            validation=lambda: parameters.load_config(settings.ssm_prefix, max_age=0).validation,
        )


def diagnose(latest: LatestScore | None, validation: ValidationConfig) -> dict[str, Any]:
    """What the alarm means: the rolling model/naive ratio against `degraded_ratio`."""
    rolling = latest.rolling if latest is not None else None
    ratio = rolling.ratio if rolling is not None else None
    verdict = classify_ratio(ratio, validation.degraded_ratio)
    return {
        "verdict": verdict,
        "ratio": ratio,
        "rolling_loss": rolling.loss if rolling is not None else None,
        "rolling_baseline_loss": rolling.baseline_loss if rolling is not None else None,
        "hours": rolling.hours if rolling is not None else validation.alarm_window_hours,
        "windows": rolling.windows if rolling is not None else 0,
        "scored_at": latest.scheduled_time if latest is not None else None,
        "degraded_ratio": validation.degraded_ratio,
        "retrain_when": validation.retrain_when,
    }


def _diagnosis_text(d: dict[str, Any]) -> str:
    ratio, hours = d["ratio"], d["hours"]
    if d["verdict"] == "unknown":
        return (
            "the cause is unknown (no naive loss over the last hours to compare with): "
            "treated as a degraded model"
        )
    numbers = (
        f"over the last {hours} h the model's loss is {ratio:.2f} x the naive forecast's "
        f"({d['rolling_loss']:.4f} vs {d['rolling_baseline_loss']:.4f})"
    )
    if d["verdict"] == "model_degraded":
        return f"the model degraded: {numbers}, above degraded_ratio {d['degraded_ratio']:g}"
    return (
        f"fees became unpredictable: {numbers}, at most degraded_ratio "
        f"{d['degraded_ratio']:g}; the naive forecast suffers as much, so a new model "
        "would not do better"
    )


def build_facts(result: BuildStart) -> dict[str, Any]:
    """start_build's answer as JSON: status (started | joined | duplicate), execution_arn, ..."""
    return dict(result.model_dump(mode="json"))


def decide_and_start(
    change: AlarmChange, settings: RetrainSettings, ports: RetrainPorts
) -> RetrainResult:
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
        return RetrainResult.model_validate(
            result
            | {"outcome": "ignored", "reason": "not an ALARM of this project's accuracy alarms"}
        )

    enabled = ports.alarm_actions_enabled(alarm)
    if enabled is False:
        metrics.add_metric(name=RETRAININGS_SUPPRESSED, unit="Count", value=1)
        return RetrainResult.model_validate(
            result | {"outcome": "skipped", "reason": "the alarm's actions are disabled"}
        )

    validation = ports.validation()
    diagnosis = diagnose(
        ports.latest_score(endpoint_name(settings.project_name, stage)), validation
    )
    result["diagnosis"] = diagnosis
    # The alarm watches "rolling loss - threshold" (template.yaml): its own datapoints are the
    # excess over 0, so the loss and the threshold are told from the score and SSM.
    if diagnosis["rolling_loss"] is not None:
        result["loss"] = diagnosis["rolling_loss"]
    result["threshold"] = validation.threshold
    if validation.retrain_when == "model_degraded" and diagnosis["verdict"] == "fees_unpredictable":
        # No episode is opened: if the model degrades later, the next ALARM can rebuild.
        metrics.add_metric(name=RETRAININGS_SUPPRESSED, unit="Count", value=1)
        result |= {
            "outcome": "not_rebuilt",
            "reason": "fees became unpredictable (retrain_when=model_degraded)",
        }
        _notify_outcome(settings, ports, result, stage)
        return RetrainResult.model_validate(result)

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
        return RetrainResult.model_validate(result)
    if verdict is Verdict.REPEAT and episode.build_status is not None:
        return RetrainResult.model_validate(
            result | {"outcome": "duplicate", "reason": "this transition already started its build"}
        )

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
    return RetrainResult.model_validate(result)


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
    diagnosis = result.get("diagnosis")
    cause = f" Diagnosis: {_diagnosis_text(diagnosis)}." if diagnosis else ""
    short, what = {
        "not_rebuilt": (
            "fees became unpredictable, no rebuild",
            'no new build (set retrain_when to "any" in /validation to rebuild on every alarm)',
        ),
        "started": ("build started", f"a new build started ({running})"),
        "joined": ("joined running build", f"joined the build already running ({running})"),
        "duplicate": ("build already started", f"its build was already started ({running})"),
        "suppressed": (
            "no new build (cool-down)",
            "no new build: this alarm's previous episode is still in its cool-down "
            f"(until {result.get('cooldown_ends_at')})",
        ),
    }.get(outcome, (f"build {outcome}", f"build {outcome}"))
    subject = f"feecast: {result['alarm_name']} ALARM - {short}"
    ports.notify(
        settings.notification_topic_arn,
        subject,
        f"The {stage} endpoint {endpoint_name(settings.project_name, stage)} breached its "
        f"accuracy threshold ({numbers}).{cause} Outcome: {what}.",
        result,
        event=lifecycle_event(
            DetailType.ACCURACY_ALARM,
            project=settings.project_name,
            outcome=str(outcome),
            summary=subject,
            stage=stage,
            execution=build.get("execution_arn"),
            facts=result,
        ),
    )


def retrain_on_alarm(
    change: AlarmChange,
    settings: RetrainSettings,
    ports: RetrainPorts,
    *,
    once: Once,
    lambda_context: Any | None = None,
) -> RetrainResult:
    """The handler's one call: `decide_and_start` once per alarm transition."""
    if (
        change.state != "ALARM"
        or stage_of_alarm(settings.project_name, settings.stages, change.alarm_name) is None
    ):
        return RetrainResult(alarm_name=change.alarm_name, outcome="ignored", state=change.state)
    logger.info(
        "accuracy alarm", extra={"alarm": change.alarm_name, "at": str(change.transitioned_at)}
    )
    result = once.run_once(
        table=settings.idempotency_table,
        name="retrain-on-alarm",
        key={"alarm": change.alarm_name, "transition": change.transitioned_at.isoformat()},
        expires_after_seconds=_DUPLICATE_WINDOW_SECONDS,
        call=lambda: decide_and_start(change, settings, ports).model_dump(mode="json"),
        lambda_context=lambda_context,
    )
    return RetrainResult.model_validate(result)
