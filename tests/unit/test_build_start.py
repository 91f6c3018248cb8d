"""start_build: one execution per trigger, never two builds at once (with an in-memory backend)."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from feecast.build.settings import StartBuildSettings
from feecast.build.start_build import Claim, TableBuildBackend, execution_name, start_build

from tests.support.fakes import FakeExecutions, FakeState

SM = "arn:aws:states:eu-west-1:123456789012:stateMachine:feecast-model-build"
SETTINGS = StartBuildSettings(model_build_state_machine_arn=SM, state_table="state")
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


class FakeBackend:
    """DynamoDB conditional puts and Step Functions names, with one lock like the services."""

    def __init__(self) -> None:
        self.claims: dict[str, Claim] = {}
        self.lock: Claim | None = None
        self.executions: dict[str, str] = {}  # arn -> status
        self.started: list[tuple[str, dict[str, Any]]] = []
        self._mutex = threading.Lock()

    def get_claim(self, dedup_key: str) -> Claim | None:
        return self.claims.get(dedup_key)

    def put_claim(self, dedup_key, claim, trigger, *, replace_stale_before) -> bool:
        with self._mutex:
            held = self.claims.get(dedup_key)
            stale_ok = (
                held is not None
                and replace_stale_before is not None
                and held.execution_arn == claim.execution_arn
                and held.outcome == "started"
                and held.claimed_at < replace_stale_before
            )
            if held is not None and not stale_ok:
                return False
            self.claims[dedup_key] = claim
            return True

    def overwrite_claim(self, dedup_key, claim, trigger) -> None:
        self.claims[dedup_key] = claim

    def running_executions(self) -> list[str]:
        return [a for a, s in self.executions.items() if s == "RUNNING"]

    def execution_status(self, arn: str) -> str | None:
        return self.executions.get(arn)

    def get_lock(self) -> Claim | None:
        return self.lock

    def take_lock(self, claim: Claim, expected_holder: str | None) -> bool:
        with self._mutex:
            current = self.lock.execution_arn if self.lock else None
            if current != expected_holder:
                return False
            self.lock = claim
            return True

    def release(self, dedup_key: str, claim: Claim) -> None:
        with self._mutex:
            if self.claims.get(dedup_key) == claim:
                del self.claims[dedup_key]
            if self.lock == claim:
                self.lock = None

    def start_execution(self, name: str, payload: dict[str, Any]) -> str | None:
        with self._mutex:
            arn = SM.replace(":stateMachine:", ":execution:") + f":{name}"
            if arn in self.executions:
                return None
            self.executions[arn] = "RUNNING"
            self.started.append((name, payload))
            return arn


def test_given_nothing_running_then_a_build_starts_named_after_its_trigger() -> None:
    backend = FakeBackend()
    out = start_build("manual", "manual-2026-01-05T12:00Z", SETTINGS, backend=backend, now=NOW)
    assert out.status == "started"
    assert out.execution_name.startswith("manual-2026-01-05T12-00Z-")
    assert backend.started == [
        (
            out.execution_name,
            {
                "trigger": "manual",
                "dedup_key": "manual-2026-01-05T12:00Z",
                "requested_at": "2026-01-05T12:00:00Z",
            },
        )
    ]


def test_given_the_same_trigger_twice_then_the_second_is_a_duplicate() -> None:
    backend = FakeBackend()
    first = start_build("alarm", "alarm-1", SETTINGS, backend=backend, now=NOW)
    backend.executions[first.execution_arn] = "SUCCEEDED"  # even after the build finished
    second = start_build(
        "alarm", "alarm-1", SETTINGS, backend=backend, now=NOW + timedelta(hours=1)
    )
    assert second.status == "duplicate" and second.execution_arn == first.execution_arn
    assert len(backend.started) == 1


def test_given_a_build_running_then_another_trigger_joins_it() -> None:
    backend = FakeBackend()
    first = start_build("schedule", "schedule-1", SETTINGS, backend=backend, now=NOW)
    joined = start_build("alarm", "alarm-1", SETTINGS, backend=backend, now=NOW)
    assert joined.status == "joined" and joined.execution_arn == first.execution_arn
    assert "already running" in joined.message
    # ...and that alarm occurrence stays handled after the build ends.
    backend.executions[first.execution_arn] = "SUCCEEDED"
    assert start_build("alarm", "alarm-1", SETTINGS, backend=backend, now=NOW).status == "duplicate"


def test_given_the_previous_build_finished_then_a_new_trigger_takes_the_lock() -> None:
    backend = FakeBackend()
    first = start_build("schedule", "schedule-1", SETTINGS, backend=backend, now=NOW)
    backend.executions[first.execution_arn] = "FAILED"
    second = start_build("manual", "manual-2", SETTINGS, backend=backend, now=NOW)
    assert second.status == "started" and backend.lock is not None
    assert backend.lock.execution_arn == second.execution_arn


def test_given_20_concurrent_deliveries_of_one_trigger_then_one_execution_starts() -> None:
    backend = FakeBackend()
    results: list[str] = []
    barrier = threading.Barrier(20)

    def deliver() -> None:
        barrier.wait()
        results.append(start_build("alarm", "alarm-7", SETTINGS, backend=backend, now=NOW).status)

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(backend.started) == 1
    assert results.count("started") == 1
    assert set(results) <= {"started", "duplicate", "joined"}


def test_given_two_different_triggers_at_once_then_one_build_starts_and_the_other_joins() -> None:
    backend = FakeBackend()
    results: dict[str, str] = {}
    barrier = threading.Barrier(2)

    def deliver(key: str) -> None:
        barrier.wait()
        results[key] = start_build("alarm", key, SETTINGS, backend=backend, now=NOW).status

    threads = [threading.Thread(target=deliver, args=(k,)) for k in ("alarm-a", "alarm-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(backend.started) == 1
    assert sorted(results.values()) == ["joined", "started"]


def test_given_a_lock_taken_but_not_started_then_it_is_honoured_only_for_the_grace_period() -> None:
    backend = FakeBackend()
    ghost = SM.replace(":stateMachine:", ":execution:") + ":ghost"
    backend.lock = Claim(ghost, "started", NOW)
    assert (
        start_build(
            "manual", "m-1", SETTINGS, backend=backend, now=NOW + timedelta(seconds=10)
        ).status
        == "joined"
    )
    later = NOW + timedelta(seconds=SETTINGS.lock_grace_seconds + 1)
    assert start_build("manual", "m-2", SETTINGS, backend=backend, now=later).status == "started"


def test_given_a_claim_whose_start_never_happened_then_a_later_delivery_retries() -> None:
    backend = FakeBackend()
    name = execution_name("alarm", "alarm-9")
    arn = SM.replace(":stateMachine:", ":execution:") + f":{name}"
    backend.claims["alarm-9"] = Claim(arn, "started", NOW)  # the process died before starting
    assert start_build("alarm", "alarm-9", SETTINGS, backend=backend, now=NOW).status == "duplicate"
    later = NOW + timedelta(minutes=10)
    out = start_build("alarm", "alarm-9", SETTINGS, backend=backend, now=later)
    assert out.status == "started" and out.execution_arn == arn


def test_execution_names_are_deterministic_valid_and_short() -> None:
    a = execution_name("schedule", "schedule-2026-01-05T12:00Z")
    assert a == execution_name("schedule", "schedule-2026-01-05T12:00Z")
    assert a != execution_name("schedule", "schedule-2026-01-05T12:01Z")
    assert a.startswith("schedule-2026-01-05T12-00Z-")
    long = execution_name("alarm", "x" * 300)
    assert len(long) <= 80 and long.startswith("alarm-x")
    for name in (a, long, execution_name("manual", "a b/c:d#e")):
        assert re.fullmatch(r"[A-Za-z0-9_.-]{1,80}", name)


@pytest.mark.parametrize(
    ("trigger", "key"), [("Manual", "k"), ("", "k"), ("manual", ""), ("a" * 17, "k")]
)
def test_given_a_malformed_trigger_or_key_then_value_error(trigger: str, key: str) -> None:
    with pytest.raises(ValueError):
        start_build(trigger, key, SETTINGS, backend=FakeBackend(), now=NOW)


def test_given_start_execution_fails_then_the_claim_and_lock_are_released_and_a_retry_starts() -> (
    None
):
    """Step Functions throttled after the SDK's retries: Lambda retries within minutes, well
    inside the lock's grace period; that retry must start the build, not answer "duplicate"."""

    class Throttled(Exception):
        pass

    backend = FakeBackend()
    real_start = backend.start_execution

    def throttled(name: str, payload: dict[str, Any]) -> str | None:
        raise Throttled("ThrottlingException: Rate exceeded")

    backend.start_execution = throttled  # type: ignore[method-assign]
    with pytest.raises(Throttled):
        start_build("alarm", "alarm-3", SETTINGS, backend=backend, now=NOW)
    assert backend.claims == {} and backend.lock is None and backend.started == []

    backend.start_execution = real_start  # type: ignore[method-assign]
    retry = start_build(
        "alarm", "alarm-3", SETTINGS, backend=backend, now=NOW + timedelta(minutes=1)
    )
    assert retry.status == "started" and len(backend.started) == 1
    assert backend.lock is not None and backend.lock.execution_arn == retry.execution_arn


def test_given_a_failed_start_whose_claim_was_taken_over_then_the_release_leaves_it() -> None:
    backend = FakeBackend()
    arn = SM.replace(":stateMachine:", ":execution:") + ":other"
    other = Claim(arn, "started", NOW)
    backend.claims["alarm-4"], backend.lock = other, other

    def lost(name: str, payload: dict[str, Any]) -> str | None:
        backend.claims["alarm-4"] = backend.lock = other  # another start took both meanwhile
        raise RuntimeError("StartExecution failed")

    backend.start_execution = lost  # type: ignore[method-assign]
    backend.claims.clear()
    backend.lock = None
    with pytest.raises(RuntimeError):
        start_build("alarm", "alarm-4", SETTINGS, backend=backend, now=NOW)
    assert backend.claims == {"alarm-4": other} and backend.lock == other


# -- TableBuildBackend: the same guards on the StateTable and Step Functions ports ----------------
def table_backend() -> tuple[TableBuildBackend, FakeState, FakeExecutions]:
    state, executions = FakeState(), FakeExecutions()
    return TableBuildBackend(SETTINGS, state=state, executions=executions), state, executions


def test_given_the_table_backend_then_one_start_per_trigger_and_a_running_build_is_joined() -> None:
    backend, state, executions = table_backend()
    first = start_build("schedule", "schedule-1", SETTINGS, backend=backend, now=NOW)
    again = start_build("schedule", "schedule-1", SETTINGS, backend=backend, now=NOW)
    joined = start_build("alarm", "alarm-1", SETTINGS, backend=backend, now=NOW)
    assert (first.status, again.status, joined.status) == ("started", "duplicate", "joined")
    assert joined.execution_arn == first.execution_arn
    assert executions.started() == [first.execution_name]
    claim = state.get("BUILD#schedule-1", "TRIGGER")
    assert claim is not None and claim["trigger"] == "schedule"
    assert claim["expires_at"] == int((NOW + timedelta(days=SETTINGS.dedup_ttl_days)).timestamp())
    lock = state.get("BUILD#LOCK", "LOCK")
    assert lock is not None and lock["execution_arn"] == first.execution_arn


def test_given_the_table_backend_and_a_finished_build_then_a_new_trigger_takes_the_lock() -> None:
    backend, state, executions = table_backend()
    first = start_build("schedule", "schedule-1", SETTINGS, backend=backend, now=NOW)
    executions.executions[first.execution_arn]["status"] = "SUCCEEDED"
    second = start_build("manual", "manual-2", SETTINGS, backend=backend, now=NOW)
    assert second.status == "started"
    assert state.get("BUILD#LOCK", "LOCK")["execution_arn"] == second.execution_arn  # type: ignore[index]


def test_given_the_table_backend_and_a_stale_unstarted_claim_then_a_later_delivery_starts() -> None:
    backend, _, executions = table_backend()
    name = execution_name("alarm", "alarm-9")
    arn = FakeExecutions.arn_of(SM, name)
    # A crash between the claim and StartExecution left the claim and the lock behind.
    backend.put_claim("alarm-9", Claim(arn, "started", NOW), "alarm", replace_stale_before=None)
    assert backend.take_lock(Claim(arn, "started", NOW), None)
    late = NOW + timedelta(seconds=SETTINGS.lock_grace_seconds + 1)
    out = start_build("alarm", "alarm-9", SETTINGS, backend=backend, now=late)
    assert out.status == "started" and executions.started() == [name]


def test_given_the_table_backend_then_a_release_gives_back_only_its_own_claim() -> None:
    backend, _, _ = table_backend()
    mine, theirs = Claim("arn:mine", "started", NOW), Claim("arn:theirs", "started", NOW)
    backend.put_claim("k", mine, "manual", replace_stale_before=None)
    assert backend.take_lock(theirs, None)
    backend.release("k", mine)
    assert backend.get_claim("k") is None
    assert backend.get_lock() == theirs
