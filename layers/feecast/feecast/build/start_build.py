"""Start a model build exactly once per trigger, and never beside another running build.

    start_build(trigger, dedup_key, settings) -> BuildStart

is the only way builds start: the schedule (functions/start_build), the retraining alarm
(monitoring's function calls it directly) and the operator command `feecast build`.

Four guards, cheapest first:
1. the dedup key was seen before (a record `BUILD#<dedup_key>` in the StateTable): the same
   trigger delivered again (EventBridge and alarms deliver at least once) -> "duplicate";
2. a build is RUNNING (ListExecutions): join it -> "joined" (its model will be as fresh);
3. the dedup key is claimed with a conditional put, so 20 concurrent deliveries of one trigger
   race on one item and one wins; the others -> "duplicate";
4. the build lock `BUILD#LOCK` (conditional put on the previous holder) closes the window
   between two different triggers both seeing nothing running: the loser joins the winner;
and the execution name is derived from the dedup key, so Step Functions itself refuses a
second execution of the same trigger (ExecutionAlreadyExists). A StartExecution that fails
releases the claim and the lock it took (conditionally: only while they are still its own), so
the trigger's retry starts the build instead of answering "duplicate".

Metrics (EMF, namespace POWERTOOLS_METRICS_NAMESPACE): BuildsStarted, BuildsJoined.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field, model_validator

from feecast.build.ports import BuildExecutions, BuildState
from feecast.build.settings import StartBuildSettings
from feecast.observability import logger, metrics
from feecast.times import iso, parse_instant

__all__ = [
    "BuildBackend",
    "BuildStart",
    "Claim",
    "StartBuildSettings",
    "TableBuildBackend",
    "execution_name",
    "start_build",
]

TRIGGER_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_MAX_EXECUTION_NAME = 80
LOCK_PK = "BUILD#LOCK"


class BuildStart(BaseModel):
    """What happened: started a new execution, joined a running one, or saw a duplicate."""

    status: Literal["started", "joined", "duplicate"]
    execution_arn: str
    execution_name: str
    trigger: str
    dedup_key: str
    message: str


@dataclass(frozen=True)
class Claim:
    execution_arn: str
    outcome: str  # "started" | "joined"
    claimed_at: datetime


class BuildBackend(Protocol):
    """The state the guards need (TableBuildBackend on the StateTable and Step Functions;
    unit tests use an in-memory fake)."""

    def get_claim(self, dedup_key: str) -> Claim | None: ...
    def put_claim(
        self, dedup_key: str, claim: Claim, trigger: str, *, replace_stale_before: datetime | None
    ) -> bool:
        """Conditional put: True if written (absent, or a stale unstarted claim of the same
        execution older than replace_stale_before); False if another claim holds the key."""
        ...

    def overwrite_claim(self, dedup_key: str, claim: Claim, trigger: str) -> None: ...
    def running_executions(self) -> list[str]: ...
    def execution_status(self, execution_arn: str) -> str | None:
        """RUNNING / SUCCEEDED / FAILED / ... or None if the execution does not exist."""
        ...

    def get_lock(self) -> Claim | None: ...
    def take_lock(self, claim: Claim, expected_holder: str | None) -> bool: ...
    def release(self, dedup_key: str, claim: Claim) -> None:
        """Delete the dedup claim and the lock, each only while it still holds `claim` (a start
        that failed gives them back, so the trigger's retry is not a "duplicate")."""
        ...

    def start_execution(self, name: str, payload: dict[str, Any]) -> str | None:
        """Start; returns the execution ARN, or None if that name already exists."""
        ...


def execution_name(trigger: str, dedup_key: str) -> str:
    """`<trigger>-<dedup key, cleaned>-<10 hex of the key>`, at most 80 characters.

    Deterministic: the same trigger and key always give the same name, which Step Functions
    refuses to start twice.
    """
    slug = _NAME_UNSAFE.sub("-", dedup_key).strip("-")
    if not slug.startswith(f"{trigger}-"):
        slug = f"{trigger}-{slug}" if slug else trigger
    digest = hashlib.sha256(f"{trigger}\n{dedup_key}".encode()).hexdigest()[:10]
    return f"{slug[: _MAX_EXECUTION_NAME - len(digest) - 1].rstrip('-')}-{digest}"


def _execution_arn(state_machine_arn: str, name: str) -> str:
    # arn:aws:states:<region>:<account>:stateMachine:<sm> -> ...:execution:<sm>:<name>
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def _check(trigger: str, dedup_key: str) -> None:
    if not isinstance(trigger, str) or not TRIGGER_PATTERN.match(trigger):
        raise ValueError(
            f"trigger {trigger!r} must be 1-16 lower-case letters, digits or '-' "
            "(e.g. schedule, alarm, manual)"
        )
    if not isinstance(dedup_key, str) or not dedup_key.strip() or len(dedup_key) > 256:
        raise ValueError(f"dedup_key {dedup_key!r} must be a non-empty string of <= 256 chars")


def start_build(
    trigger: str,
    dedup_key: str,
    settings: StartBuildSettings,
    *,
    backend: BuildBackend,
    now: datetime | None = None,
) -> BuildStart:
    """Start the ModelBuild state machine once for `dedup_key`, or join the running build.

    trigger: what asks ("schedule", "alarm", "manual"): the execution name starts with it.
    dedup_key: identifies one trigger occurrence; deliveries of the same occurrence must
      pass the same key (the schedule's scheduled time, the alarm's state-change time, ...).
    settings: StartBuildSettings (state machine ARN, state table).
    backend: the guards' state, TableBuildBackend(settings, state=StateTable(...),
      executions=StepFunctionsExecutions()) with the real adapters.
    Returns BuildStart(status="started" | "joined" | "duplicate", execution_arn, ...).
    Raises ValueError for a malformed trigger or key; AWS errors propagate (a StartExecution
    that fails first gives back this call's claim and lock, so a retry starts the build).
    """
    _check(trigger, dedup_key)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    name = execution_name(trigger, dedup_key)
    arn = _execution_arn(settings.model_build_state_machine_arn, name)
    grace = timedelta(seconds=settings.lock_grace_seconds)

    def result(status: Literal["started", "joined", "duplicate"], at: str, msg: str) -> BuildStart:
        outcome = BuildStart(
            status=status,
            execution_arn=at,
            execution_name=at.rsplit(":", 1)[-1],
            trigger=trigger,
            dedup_key=dedup_key,
            message=msg,
        )
        metric = {"started": "BuildsStarted", "joined": "BuildsJoined"}.get(status)
        if metric:
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
        logger.info("build start", extra={"build": outcome.model_dump()})
        return outcome

    # 1. the same trigger occurrence, delivered again
    claim = backend.get_claim(dedup_key)
    stale_before = now - grace
    if claim is not None and not _unstarted_stale(backend, claim, arn, stale_before):
        return result(
            "duplicate",
            claim.execution_arn,
            f"trigger {dedup_key!r} was already handled ({claim.outcome} "
            f"{claim.execution_arn.rsplit(':', 1)[-1]})",
        )

    # 2. a build is running: join it rather than train the same model twice
    running = backend.running_executions()
    if running:
        backend.put_claim(
            dedup_key, Claim(running[0], "joined", now), trigger, replace_stale_before=None
        )
        return result(
            "joined",
            running[0],
            f"a build is already running ({running[0].rsplit(':', 1)[-1]}); joined it",
        )

    # 3. claim the key: concurrent deliveries of one trigger race here
    if not backend.put_claim(
        dedup_key, Claim(arn, "started", now), trigger, replace_stale_before=stale_before
    ):
        held = backend.get_claim(dedup_key)
        at = held.execution_arn if held else arn
        return result("duplicate", at, f"trigger {dedup_key!r} is being handled by {at}")

    # 4. the build lock: two different triggers at once start one build
    holder = backend.get_lock()
    if holder is not None and holder.execution_arn != arn and _active(backend, holder, now - grace):
        backend.overwrite_claim(dedup_key, Claim(holder.execution_arn, "joined", now), trigger)
        return result("joined", holder.execution_arn, "another build is starting; joined it")
    if not backend.take_lock(
        Claim(arn, "started", now), holder.execution_arn if holder is not None else None
    ):
        winner = backend.get_lock()
        at = winner.execution_arn if winner else arn
        backend.overwrite_claim(dedup_key, Claim(at, "joined", now), trigger)
        return result("joined", at, "another build started at the same moment; joined it")

    # 5. start (Step Functions refuses a second execution with this name)
    payload = {"trigger": trigger, "dedup_key": dedup_key, "requested_at": iso(now)}
    try:
        started = backend.start_execution(name, payload)
    except Exception:
        # Step Functions throttled or down after the SDK's retries. The caller's retry (Lambda
        # retries within minutes) must start the build, not find this attempt's claim and lock
        # and answer "duplicate" for a build that never started.
        _release(backend, dedup_key, Claim(arn, "started", now))
        raise
    if started is None:
        return result("duplicate", arn, f"execution {name} already exists")
    return result("started", started, f"started build {name}")


def _release(backend: BuildBackend, dedup_key: str, claim: Claim) -> None:
    try:
        backend.release(dedup_key, claim)
    except Exception:  # the start's own error matters more; the claim expires after the grace
        logger.exception("could not release the claim of a build that did not start")
        return
    logger.warning(
        "build did not start: its claim and lock are released for a retry",
        extra={"dedup_key": dedup_key, "execution_arn": claim.execution_arn},
    )


def _unstarted_stale(backend: BuildBackend, claim: Claim, arn: str, stale_before: datetime) -> bool:
    """A claim whose start never happened (crash between claim and start) may be retried."""
    return (
        claim.outcome == "started"
        and claim.execution_arn == arn
        and claim.claimed_at < stale_before
        and backend.execution_status(arn) is None
    )


def _active(backend: BuildBackend, holder: Claim, stale_before: datetime) -> bool:
    status = backend.execution_status(holder.execution_arn)
    if status is None:  # taken but not started yet: honour it for the grace period
        return holder.claimed_at >= stale_before
    return status == "RUNNING"


class TableBuildBackend:
    """The guards' state on the StateTable (claims, lock) and the ModelBuild executions."""

    def __init__(
        self, settings: StartBuildSettings, *, state: BuildState, executions: BuildExecutions
    ) -> None:
        self._state = state
        self._executions = executions
        self._machine = settings.model_build_state_machine_arn
        self._ttl = timedelta(days=settings.dedup_ttl_days)

    # claims ---------------------------------------------------------------------------------
    @staticmethod
    def _claim_from(item: dict[str, Any] | None) -> Claim | None:
        if not item:
            return None
        return Claim(
            execution_arn=item["execution_arn"],
            outcome=item["outcome"],
            claimed_at=parse_instant(item["claimed_at"]),
        )

    def _item(self, pk: str, sk: str, claim: Claim, **extra: str) -> dict[str, Any]:
        return {
            "pk": pk,
            "sk": sk,
            "execution_arn": claim.execution_arn,
            "outcome": claim.outcome,
            "claimed_at": iso(claim.claimed_at),
            "expires_at": int((claim.claimed_at + self._ttl).timestamp()),
            **extra,
        }

    def get_claim(self, dedup_key: str) -> Claim | None:
        return self._claim_from(self._state.get(f"BUILD#{dedup_key}", "TRIGGER"))

    def put_claim(
        self, dedup_key: str, claim: Claim, trigger: str, *, replace_stale_before: datetime | None
    ) -> bool:
        condition = "attribute_not_exists(pk)"
        values: dict[str, Any] | None = None
        if replace_stale_before is not None:
            condition += " OR (execution_arn = :arn AND outcome = :started AND claimed_at < :stale)"
            values = {
                ":arn": claim.execution_arn,
                ":started": "started",
                ":stale": iso(replace_stale_before),
            }
        item = self._item(f"BUILD#{dedup_key}", "TRIGGER", claim, trigger=trigger)
        return self._state.put(item, condition=condition, values=values)

    def overwrite_claim(self, dedup_key: str, claim: Claim, trigger: str) -> None:
        self._state.put(self._item(f"BUILD#{dedup_key}", "TRIGGER", claim, trigger=trigger))

    # lock -----------------------------------------------------------------------------------
    def get_lock(self) -> Claim | None:
        return self._claim_from(self._state.get(LOCK_PK, "LOCK"))

    def take_lock(self, claim: Claim, expected_holder: str | None) -> bool:
        item = self._item(LOCK_PK, "LOCK", claim)
        if expected_holder is None:
            return self._state.put(item, condition="attribute_not_exists(pk)")
        return self._state.put(
            item, condition="execution_arn = :holder", values={":holder": expected_holder}
        )

    def release(self, dedup_key: str, claim: Claim) -> None:
        held = {
            ":arn": claim.execution_arn,
            ":started": "started",
            ":at": iso(claim.claimed_at),
        }
        condition = "execution_arn = :arn AND outcome = :started AND claimed_at = :at"
        for pk, sk in ((f"BUILD#{dedup_key}", "TRIGGER"), (LOCK_PK, "LOCK")):
            # A failed condition (None): no longer ours, another start took it over.
            self._state.take(pk, sk, condition=condition, values=held)

    # executions -----------------------------------------------------------------------------
    def running_executions(self) -> list[str]:
        return [arn for arn, _ in self._executions.running(self._machine)]

    def execution_status(self, execution_arn: str) -> str | None:
        return self._executions.status(execution_arn)

    def start_execution(self, name: str, payload: dict[str, Any]) -> str | None:
        arn, started = self._executions.start(self._machine, name, payload)
        return arn if started else None


# -- the handler's request ---------------------------------------------------------------------
class StartRequest(BaseModel):
    """StartBuildFunction's input: the schedule's Input ({"trigger": "schedule",
    "scheduled_time": ...}), an EventBridge "Scheduled Event" envelope (its `time` is the
    occurrence) or a direct invoke ({"trigger": "manual", "dedup_key": ...})."""

    trigger: str = "schedule"
    dedup_key: str | None = None
    scheduled_time: datetime | None = None
    time: datetime | None = None  # EventBridge envelope
    source: str | None = None
    detail_type: str | None = Field(None, alias="detail-type")

    @model_validator(mode="after")
    def _has_key(self) -> StartRequest:
        # Another rule's event sent here by mistake must not start a build at its time.
        foreign = self.source not in (None, "aws.events")
        if foreign or self.detail_type not in (None, "Scheduled Event"):
            raise ValueError(
                f"source {self.source!r} / detail-type {self.detail_type!r}: only a schedule's"
                " input, an aws.events 'Scheduled Event' or a direct request starts a build"
            )
        when = self.scheduled_time or self.time
        if self.dedup_key is None:
            if when is None:
                raise ValueError("give dedup_key, scheduled_time or an EventBridge time")
            self.dedup_key = f"{self.trigger}-{when:%Y-%m-%dT%H:%MZ}"
        return self
