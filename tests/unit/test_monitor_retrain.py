"""Alarm episodes and the retraining decision: duplicates, flapping, cool-down (pure: fakes)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from feecast.build.start_build import BuildStart
from feecast.config import ValidationConfig
from feecast.monitor.episode import Episode, Verdict, classify
from feecast.monitor.events import parse_alarm_event
from feecast.monitor.records import EpisodeStore, LatestScore
from feecast.monitor.retrain_on_alarm import RetrainPorts, decide_and_start
from feecast.monitor.rolling import RollingScore, WindowRecord, rolling_score
from feecast.monitor.rolling import classify as classify_ratio
from feecast.monitor.settings import RetrainSettings

from tests.support.fakes import FakeState

EVENTS = Path(__file__).resolve().parents[2] / "events"
T0 = datetime(2026, 1, 5, 15, 1, 10, tzinfo=UTC)
COOLDOWN = timedelta(hours=12)
ALARM = "feecast-staging-accuracy"


@pytest.mark.parametrize(
    ("at", "verdict"),
    [
        (T0, Verdict.REPEAT),  # the same transition delivered again
        (T0 + timedelta(hours=2), Verdict.SUPPRESS),  # ALARM -> OK -> ALARM while building
        (T0 + COOLDOWN - timedelta(seconds=1), Verdict.SUPPRESS),
        (T0 + COOLDOWN, Verdict.OPEN),  # the first transition after the cool-down
        (T0 - timedelta(minutes=5), Verdict.STALE),  # a late delivery of an older transition
    ],
)
def test_transition_verdicts_against_the_current_episode(at: datetime, verdict: Verdict) -> None:
    assert classify(at, Episode(ALARM, T0), COOLDOWN) is verdict


def test_without_an_episode_the_first_alarm_opens_one() -> None:
    assert classify(T0, None, COOLDOWN) is Verdict.OPEN


def test_the_dedup_key_names_the_alarm_and_the_episode_start() -> None:
    assert Episode(ALARM, T0).dedup_key == "feecast-staging-accuracy#20260105T150110"


@dataclass
class FakeBuilds:
    """start_build's contract: one execution per dedup key."""

    keys: list[str] = field(default_factory=list)
    executions: list[str] = field(default_factory=list)

    def __call__(self, trigger: str, key: str) -> BuildStart:
        self.keys.append(key)
        arn = f"arn:aws:states:eu-west-1:123456789012:execution:feecast-model-build:{trigger}-{len(self.keys)}"
        status = "duplicate" if key in self.keys[:-1] else "started"
        if status == "started":
            self.executions.append(arn)
        return BuildStart(
            status=status,
            execution_arn=arn,
            execution_name=arn.rsplit(":", 1)[-1],
            trigger=trigger,
            dedup_key=key,
            message=status,
        )


SETTINGS = RetrainSettings(
    project_name="feecast",
    ssm_prefix="/feecast",
    notification_topic_arn="arn:aws:sns:eu-west-1:123456789012:feecast-notifications",
    idempotency_table="idem",
    state_table="state",
    model_build_state_machine_arn="arn:aws:states:eu-west-1:123456789012:stateMachine:feecast-model-build",
    retrain_cooldown_seconds=int(COOLDOWN.total_seconds()),
)


def alarm_event(at: datetime, name: str = ALARM, state: str = "ALARM") -> dict[str, Any]:
    event = json.loads((EVENTS / "retrain-accuracy-alarm.json").read_text())
    event["detail"]["alarmName"] = name
    event["detail"]["state"]["value"] = state
    event["detail"]["state"]["timestamp"] = at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    return event


def make_ports(actions_enabled: bool | None = True) -> tuple[RetrainPorts, FakeBuilds, list[tuple]]:
    builds, sent = FakeBuilds(), []
    ports = RetrainPorts(
        episodes=EpisodeStore(FakeState()),  # the real records on the shared fake table
        start_build=builds,
        alarm_actions_enabled=lambda name: actions_enabled,
        # each notification as (topic, subject, message, facts, LifecycleEvent)
        notify=lambda *args, event: sent.append((*args, event)) or "id",
    )
    return ports, builds, sent


def decide(ports: RetrainPorts, event: dict[str, Any]) -> dict[str, Any]:
    """The decision as the handler answers it (JSON)."""
    return decide_and_start(parse_alarm_event(event), SETTINGS, ports).model_dump(mode="json")


def test_given_20_deliveries_of_one_alarm_then_one_build_and_one_notification() -> None:
    ports, builds, sent = make_ports()
    outcomes = [decide(ports, alarm_event(T0))["outcome"] for _ in range(20)]
    assert outcomes == ["started"] + ["duplicate"] * 19
    assert len(builds.executions) == 1 and len(builds.keys) == 1
    assert len(sent) == 1 and "build started" in sent[0][1]
    facts = sent[0][3]
    assert facts["loss"] == 0.41 and facts["threshold"] == 0.24
    # the same outcome for other systems (docs/events.md)
    event = sent[0][4]
    assert event.detail_type == "Accuracy Alarm Handled"
    assert (event.detail.outcome, event.detail.stage) == ("started", "staging")
    assert event.sns_attributes()["outcome"]["StringValue"] == "started"


def test_given_the_alarm_flaps_inside_the_cool_down_then_no_second_build() -> None:
    ports, builds, sent = make_ports()
    decide(ports, alarm_event(T0))
    decide(ports, alarm_event(T0 + timedelta(minutes=30), state="OK"))
    again = decide(ports, alarm_event(T0 + timedelta(hours=1)))
    assert again["outcome"] == "suppressed"
    assert len(builds.executions) == 1
    assert "cool-down" in sent[-1][1]


def test_given_the_cool_down_is_over_then_a_new_alarm_starts_a_new_build() -> None:
    ports, builds, _ = make_ports()
    decide(ports, alarm_event(T0))
    later = decide(ports, alarm_event(T0 + COOLDOWN + timedelta(minutes=1)))
    assert later["outcome"] == "started"
    assert len(builds.executions) == 2 and builds.keys[0] != builds.keys[1]


def test_given_a_first_delivery_that_died_before_starting_then_a_repeat_starts_the_build() -> None:
    ports, builds, _ = make_ports()
    ports.episodes.try_open(ALARM, T0.replace(microsecond=0), COOLDOWN)  # opened, then crashed
    result = decide(ports, alarm_event(T0))
    assert result["outcome"] == "started" and len(builds.executions) == 1


def test_alarms_of_other_systems_and_ok_transitions_start_nothing() -> None:
    ports, builds, sent = make_ports()
    assert decide(ports, alarm_event(T0, name="payments-api-latency"))["outcome"] == "ignored"
    assert decide(ports, alarm_event(T0, name="feecast-ingest-stalled"))["outcome"] == "ignored"
    assert decide(ports, alarm_event(T0, state="OK"))["outcome"] == "ignored"
    assert builds.keys == [] and sent == []


def test_an_alarm_with_disabled_actions_starts_nothing() -> None:
    ports, builds, _ = make_ports(actions_enabled=False)
    assert decide(ports, alarm_event(T0))["outcome"] == "skipped"
    assert builds.keys == []


def test_a_build_joined_by_start_build_is_reported_as_joined() -> None:
    ports, _, sent = make_ports()

    def joined(trigger: str, key: str) -> BuildStart:
        return BuildStart(
            status="joined",
            execution_arn="arn:x:execution:m:schedule-1",
            execution_name="schedule-1",
            trigger=trigger,
            dedup_key=key,
            message="joined",
        )

    ports.start_build = joined
    assert decide(ports, alarm_event(T0))["outcome"] == "joined"
    assert "joined running build" in sent[0][1] and "(schedule-1)" in sent[0][2]


# -- the diagnosis: model degraded or fees unpredictable -------------------------------------
def latest(ratio: float | None, loss: float = 0.4, baseline: float | None = 0.5) -> LatestScore:
    record = WindowRecord(T0, loss, baseline, 100.0, "config-v2")
    return LatestScore(record, RollingScore(3, 3, loss, baseline, ratio), "2026-01-05T15:00:00Z")


def test_given_the_model_still_beats_naive_then_fees_became_unpredictable_and_nothing_is_built() -> (
    None
):
    ports, builds, sent = make_ports()
    ports.latest_score = lambda endpoint: latest(0.8, 0.4, 0.5)
    result = decide(ports, alarm_event(T0))
    assert result["outcome"] == "not_rebuilt"
    assert result["diagnosis"]["verdict"] == "fees_unpredictable"
    assert builds.keys == [] and ports.episodes.get(ALARM) is None  # no episode opened
    subject, message = sent[0][1], sent[0][2]
    assert "fees became unpredictable, no rebuild" in subject
    assert "the model's loss is 0.80 x the naive forecast's (0.4000 vs 0.5000)" in message
    assert 'retrain_when to "any"' in message


def test_given_the_model_lost_its_edge_then_it_degraded_and_a_build_starts() -> None:
    ports, builds, sent = make_ports()
    ports.latest_score = lambda endpoint: latest(1.25, 0.5, 0.4)
    result = decide(ports, alarm_event(T0))
    assert result["outcome"] == "started" and len(builds.executions) == 1
    assert result["diagnosis"]["verdict"] == "model_degraded"
    assert "the model degraded: over the last 3 h the model's loss is 1.25 x" in sent[0][2]


def test_with_retrain_when_any_every_alarm_rebuilds() -> None:
    ports, _, sent = make_ports()
    ports.latest_score = lambda endpoint: latest(0.8)
    ports.validation = lambda: ValidationConfig(retrain_when="any")
    assert decide(ports, alarm_event(T0))["outcome"] == "started"
    assert "Diagnosis: fees became unpredictable" in sent[0][2]


def test_without_a_naive_loss_the_cause_is_unknown_and_a_build_starts() -> None:
    ports, builds, _ = make_ports()
    ports.latest_score = lambda endpoint: latest(None, 0.4, None)
    result = decide(ports, alarm_event(T0))
    assert result["diagnosis"]["verdict"] == "unknown" and result["outcome"] == "started"
    assert len(builds.executions) == 1


@pytest.mark.parametrize(
    ("ratio", "limit", "verdict"),
    [
        (0.99, 1.0, "fees_unpredictable"),
        (1.0, 1.0, "fees_unpredictable"),
        (1.01, 1.0, "model_degraded"),
        (0.95, 0.9, "model_degraded"),
        (None, 1.0, "unknown"),
    ],
)
def test_the_ratio_rule(ratio: float | None, limit: float, verdict: str) -> None:
    assert classify_ratio(ratio, limit) == verdict


def test_the_rolling_score_pools_windows_by_their_weight() -> None:
    hour = timedelta(hours=1)
    records = [
        WindowRecord(T0 - 3 * hour, 9.0, 9.0, 10.0, "a"),  # outside the 2 hours
        WindowRecord(T0 - 2 * hour, 0.2, 0.4, 100.0, "a"),
        WindowRecord(T0 - hour, 0.6, None, 300.0, "a"),  # no naive loss: not in the ratio
        WindowRecord(T0, 0.4, 0.2, 100.0, "b"),  # another model
    ]
    got = rolling_score(records, until=T0 - hour, hours=2, config="a")
    assert got.windows == 2 and got.complete  # both hours scored for model a
    assert got.loss == pytest.approx((0.2 * 100 + 0.6 * 300) / 400)
    assert got.baseline_loss == pytest.approx(0.4) and got.ratio == pytest.approx(0.5)


def test_a_pool_with_another_models_hour_or_a_missed_hour_is_not_complete() -> None:
    hour = timedelta(hours=1)
    mixed = [
        WindowRecord(T0 - hour, 0.2, 0.3, 10.0, "old"),
        WindowRecord(T0, 0.2, 0.3, 10.0, "new"),
    ]
    assert rolling_score(mixed, until=T0, hours=2, config="new").complete is False
    missed = [WindowRecord(T0, 0.2, 0.3, 10.0, "new")]
    assert rolling_score(missed, until=T0, hours=2, config="new").complete is False
