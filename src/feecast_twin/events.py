"""EventBridge delivery to Lambda / Step Functions targets, and schedules fired by the twin clock.

moto 5.2.5 matches patterns but raises NotImplementedError for Lambda and Step Functions targets,
lets schedule-only rules receive every put_events event, ignores the rule's State, ignores a
target's Input / InputPath, and never fires schedules. The twin replaces `Rule.send_to_targets`:

- a rule receives a put_events event only when it is ENABLED and has an event pattern that
  matches (schedule-only rules receive only their own "Scheduled Event"s);
- Lambda and Step Functions targets are queued and delivered asynchronously by one worker thread
  (as EventBridge does: PutEvents returns before targets run); a Lambda target is an async
  invocation (retried twice on a function error, as Lambda's async invoke does); a Step Functions
  target starts an execution with a unique name;
- the target input is the event, or Input, or InputPath, or InputTransformer, as on AWS;
- other targets (SQS, Logs, buses, archives) go to moto's own code.

`Schedules.fire_due(now)` fires EventBridge rule schedules (rate / cron) and EventBridge Scheduler
schedules (rate / cron / at, with their Input templated with <aws.scheduler.*>), reading each
one's current State at fire time.
"""

from __future__ import annotations

import calendar
import copy
import json
import logging
import queue
import re
import threading
import uuid
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from feecast_twin.patching import Patcher

if TYPE_CHECKING:
    from feecast_twin.host import Host, LambdaRunner

log = logging.getLogger("feecast_twin.events")

FINAL_EXECUTION_STATUSES = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


# ---------------------------------------------------------------------- reports
@dataclass
class TargetRun:
    """One target of one matched rule: what it received and how it ended."""

    rule: str
    target_id: str
    arn: str
    kind: str  # "lambda" | "stepfunctions" | "other"
    input: Any = None
    status: str = "PENDING"  # lambda: SUCCEEDED/FAILED; stepfunctions: the execution's status
    attempts: int = 0
    result: Any = None
    error_type: str | None = None
    error_message: str | None = None
    execution_arn: str | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "done"}


@dataclass
class DeliveryReport:
    """What one event did: the rules it matched and how each of their targets ended."""

    event_id: str | None
    event: dict[str, Any]
    rules_matched: list[str] = field(default_factory=list)
    targets: list[TargetRun] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(
            t.status in ("SUCCEEDED", "DELIVERED") for t in self.targets
        )

    @property
    def execution_arns(self) -> list[str]:
        return [t.execution_arn for t in self.targets if t.execution_arn]

    def targets_of(self, rule: str) -> list[TargetRun]:
        return [t for t in self.targets if t.rule == rule]

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "detail_type": self.event.get("detail-type"),
            "source": self.event.get("source"),
            "rules_matched": list(self.rules_matched),
            "targets": [t.to_dict() for t in self.targets],
            "error": self.error,
            "ok": self.ok,
        }


# ---------------------------------------------------------------------- inputs
@lru_cache(maxsize=256)
def _jsonpath(expr: str) -> Any:
    from jsonpath_ng.ext import parse

    return parse(expr)


def json_path_get(document: Any, expr: str) -> Any:
    """Value at a JSONPath ($.a.b[0]); None when absent (as EventBridge leaves it empty)."""
    if expr in ("$", ""):
        return document
    matches = _jsonpath(expr).find(document)
    if not matches:
        return None
    return matches[0].value


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def render_template(template: str, values: dict[str, Any]) -> Any:
    """EventBridge InputTemplate rendering: a placeholder inside a JSON string is inserted as
    text; outside strings as JSON (strings get quoted). The result is parsed JSON when it is
    JSON, else the text itself (a string input)."""
    out: list[str] = []
    in_string = False
    i = 0
    while i < len(template):
        c = template[i]
        if in_string and c == "\\":
            out.append(template[i : i + 2])
            i += 2
            continue
        if c == '"':
            in_string = not in_string
            out.append(c)
            i += 1
            continue
        if c == "<":
            m = _PLACEHOLDER.match(template, i)
            if m and m.group(1) in values:
                value = values[m.group(1)]
                if in_string:
                    text = value if isinstance(value, str) else json.dumps(value)
                    out.append("" if value is None else json.dumps(text)[1:-1])
                else:
                    out.append(json.dumps(value))
                i = m.end()
                continue
        out.append(c)
        i += 1
    text = "".join(out)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def target_input(
    target: dict[str, Any], event: dict[str, Any], rule_arn: str, rule_name: str
) -> Any:
    """What EventBridge passes to a target: Input, InputPath, InputTransformer or the event."""
    if target.get("Input") is not None:
        raw = target["Input"]
        try:
            return json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            return raw
    if target.get("InputPath"):
        return json_path_get(event, target["InputPath"])
    transformer = target.get("InputTransformer")
    if transformer:
        values = {
            name: json_path_get(event, path)
            for name, path in (transformer.get("InputPathsMap") or {}).items()
        }
        values.setdefault("aws.events.rule-arn", rule_arn)
        values.setdefault("aws.events.rule-name", rule_name)
        values.setdefault("aws.events.event.ingestion-time", event.get("time"))
        values.setdefault("aws.events.event", event)
        values.setdefault("aws.events.event.json", event)
        return render_template(transformer["InputTemplate"], values)
    return event


def iso_z(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _event_time(value: Any) -> str:
    if isinstance(value, datetime):
        return iso_z(value)
    try:
        return iso_z(datetime.fromtimestamp(float(value), UTC))
    except (TypeError, ValueError):
        return str(value)


def envelope(moto_event: dict[str, Any]) -> dict[str, Any]:
    """moto's internal event message -> the JSON EventBridge hands to targets."""
    return {
        "version": "0",
        "id": moto_event["id"],
        "detail-type": moto_event["detail-type"],
        "source": moto_event["source"],
        "account": moto_event["account"],
        "time": _event_time(moto_event.get("time")),
        "region": moto_event["region"],
        "resources": list(moto_event.get("resources") or []),
        "detail": moto_event.get("detail") or {},
    }


#: PutEventsRequestEntry's length constraints (EventBridge API reference; botocore's model has none).
_ENTRY_LIMITS = {"DetailType": 128, "Source": 256}


def entry_refusal(entry: dict[str, Any]) -> dict[str, str] | None:
    """The entry error AWS answers for a PutEvents entry moto accepts: a Detail that is valid
    JSON but not an object (MalformedDetail), a DetailType over 128 or a Source over 256
    characters (InvalidArgument). Invalid JSON and missing fields moto refuses itself."""
    for name, limit in _ENTRY_LIMITS.items():
        value = entry.get(name)
        if isinstance(value, str) and len(value) > limit:
            return {
                "ErrorCode": "InvalidArgument",
                "ErrorMessage": f"Parameter {name} is not valid. Reason: {name} is longer "
                f"than {limit} characters.",
            }
    detail = entry.get("Detail")
    if isinstance(detail, str) and detail:
        try:
            parsed = json.loads(detail)
        except ValueError:
            return None
        if not isinstance(parsed, dict):
            return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    return None


# ---------------------------------------------------------------------- delivery
@dataclass
class _Job:
    run: TargetRun
    payload: Any
    origin: str  # "rule:<name>" or "schedule:<arn>"


class EventDelivery:
    """Patches moto's rule dispatch and delivers Lambda / Step Functions targets."""

    def __init__(self, host: Host, runner: LambdaRunner, lambda_async_retries: int = 2) -> None:
        self.host = host
        self.runner = runner
        self.lambda_async_retries = lambda_async_retries
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._pending = 0
        self._pending_lock = threading.Condition()
        self._worker: threading.Thread | None = None
        self._original: Any = None  # moto's Rule.send_to_targets, for the targets it serves
        self._patches = Patcher("feecast_twin.events")
        #: event id -> (rules matched, target runs), filled while put_events runs
        self._by_event: dict[str, tuple[list[str], list[TargetRun]]] = {}

    # ------------------------------------------------------------------ wiring
    def install(self) -> None:
        from moto.events.models import Rule

        delivery = self
        self._original = Rule.send_to_targets

        def send_to_targets(rule: Any, original_event: Any, transform_input: bool = True) -> None:
            delivery.on_event(rule, original_event, transform_input)

        self._patches.replace(
            Rule,
            "send_to_targets",
            send_to_targets,
            reason="EventBridge delivers to Lambda and Step Functions targets, asynchronously "
            "with retries; moto raises NotImplementedError for Lambda targets",
        )
        from moto.events.models import EventsBackend

        original_put_events = EventsBackend.put_events

        def put_events(backend: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return delivery.put_events(original_put_events, backend, events)

        self._patches.replace(
            EventsBackend,
            "put_events",
            put_events,
            reason="EventBridge refuses an entry whose Detail is not a JSON object (moto only "
            "warns) or whose DetailType / Source is too long; and the twin records every event "
            "put on a bus (twin.bus_events)",
        )
        self._worker = threading.Thread(target=self._work, name="twin-eventbridge", daemon=True)
        self._worker.start()

    def uninstall(self) -> None:
        self._patches.undo()
        self._original = None
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=30)
            self._worker = None

    def busy(self) -> bool:
        with self._pending_lock:
            return self._pending > 0

    def wait_idle(self, timeout: float = 600) -> bool:
        with self._pending_lock:
            return self._pending_lock.wait_for(lambda: self._pending == 0, timeout=timeout)

    def runs_for(self, event_id: str) -> tuple[list[str], list[TargetRun]]:
        return self._by_event.get(event_id, ([], []))

    # ------------------------------------------------------------------ put_events
    def put_events(
        self, original: Any, backend: Any, events: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """moto's put_events, with AWS's entry errors moto lacks (`entry_refusal`), and a
        `bus-event` record of each entry accepted."""
        results: list[dict[str, Any] | None] = []
        accepted: list[dict[str, Any]] = []
        for event in events:
            refusal = entry_refusal(event)
            if refusal is not None:
                results.append(refusal)
            else:
                results.append(None)
                accepted.append(event)
        answered = iter(original(backend, accepted) if accepted else [])
        out = [r if r is not None else next(answered) for r in results]
        for event, result in zip(events, out, strict=True):
            if "EventId" not in result:
                continue
            self.host.record(
                "bus-event",
                event_id=result["EventId"],
                event_bus=event.get("EventBusName") or "default",
                source=event.get("Source"),
                detail_type=event.get("DetailType"),
                resources=list(event.get("Resources") or []),
                detail=json.loads(event["Detail"]),
            )
        return out

    # ------------------------------------------------------------------ dispatch
    def on_event(self, rule: Any, moto_event: dict[str, Any], transform_input: bool = True) -> None:
        """Replacement of moto's Rule.send_to_targets for put_events events."""
        pattern = rule.event_pattern.get_pattern()
        if not pattern:  # schedule-only rule (or no pattern): AWS never matches events to it
            return
        if rule.state != "ENABLED":
            return
        if not rule.event_pattern.matches_event(moto_event):
            return
        self.deliver_to_rule(rule, moto_event)

    def deliver_to_rule(self, rule: Any, moto_event: dict[str, Any]) -> list[TargetRun]:
        event = envelope(moto_event)
        rule_label = self.host.logical_id_of(rule.name)
        rules, runs = self._by_event.setdefault(event["id"], ([], []))
        rules.append(rule_label)
        self.host.record("rule-matched", rule=rule_label, rule_name=rule.name, event_id=event["id"])
        started: list[TargetRun] = []
        for target in list(rule.targets):
            arn = target["Arn"]
            service = arn.split(":")[2] if arn.count(":") >= 5 else ""
            payload = target_input(target, event, rule.arn, rule.name)
            kind = {"lambda": "lambda", "states": "stepfunctions"}.get(service, "other")
            run = TargetRun(
                rule=rule_label, target_id=target["Id"], arn=arn, kind=kind, input=payload
            )
            runs.append(run)
            started.append(run)
            if kind == "other":
                self._send_other(rule, target, moto_event, run)
            else:
                self.enqueue(run, payload, f"rule:{rule.name}")
        return started

    def _send_other(
        self, rule: Any, target: dict[str, Any], moto_event: dict[str, Any], run: TargetRun
    ) -> None:
        """SQS / Logs / buses / archives: moto's own delivery, one target at a time."""
        single = copy.copy(rule)
        single.targets = [target]
        try:
            self._original(single, copy.deepcopy(moto_event))
            run.status = "DELIVERED"
        except Exception as exc:  # NotImplementedError for target types nobody supports
            run.status = "FAILED"
            run.error_type = type(exc).__name__
            run.error_message = str(exc) or f"target type of {run.arn} is not supported"
        run.attempts = 1
        run.done.set()
        self.host.record(
            "target-invoked",
            rule=run.rule,
            target=run.target_id,
            arn=run.arn,
            target_type=run.kind,
            status=run.status,
            error=run.error_message,
        )

    def enqueue(self, run: TargetRun, payload: Any, origin: str) -> None:
        with self._pending_lock:
            self._pending += 1
        self._queue.put(_Job(run, payload, origin))

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                if job.run.kind == "lambda":
                    self._invoke_lambda(job)
                else:
                    self._start_execution(job)
            except Exception as exc:  # never let one delivery kill the worker
                log.exception("delivery to %s failed", job.run.arn)
                job.run.status = "FAILED"
                job.run.error_type = type(exc).__name__
                job.run.error_message = str(exc)
            finally:
                job.run.done.set()
                with self._pending_lock:
                    self._pending -= 1
                    self._pending_lock.notify_all()

    def _invoke_lambda(self, job: _Job) -> None:
        from moto.awslambda.models import lambda_backends

        run = job.run
        parts = run.arn.split(":")
        account, region, name = parts[4], parts[3], parts[6]
        fn = lambda_backends[account][region].get_function(name)
        for attempt in range(1 + self.lambda_async_retries):
            run.attempts = attempt + 1
            payload_str, errored, _logs = self.runner.run(fn, copy.deepcopy(job.payload))
            try:
                result = json.loads(payload_str)
            except json.JSONDecodeError:
                result = payload_str
            if not errored:
                run.status, run.result = "SUCCEEDED", result
                run.error_type = run.error_message = None
            else:
                run.status = "FAILED"
                run.error_type = result.get("errorType") if isinstance(result, dict) else None
                run.error_message = (
                    result.get("errorMessage") if isinstance(result, dict) else str(result)
                )
            self.host.record(
                "target-invoked",
                rule=run.rule,
                target=run.target_id,
                arn=run.arn,
                target_type="lambda",
                origin=job.origin,
                attempt=run.attempts,
                status=run.status,
                error_type=run.error_type,
            )
            if not errored:
                return

    def _start_execution(self, job: _Job) -> None:
        run = job.run
        payload = job.payload
        text = payload if isinstance(payload, str) else json.dumps(payload)
        sfn = self.host.client("stepfunctions")
        arn = sfn.start_execution(stateMachineArn=run.arn, name=str(uuid.uuid4()), input=text)[
            "executionArn"
        ]
        run.execution_arn = arn
        run.attempts = 1
        run.status = "RUNNING"
        self.host.record(
            "target-invoked",
            rule=run.rule,
            target=run.target_id,
            arn=run.arn,
            target_type="stepfunctions",
            origin=job.origin,
            execution_arn=arn,
        )


# ---------------------------------------------------------------------- schedule expressions
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_DOW = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_MON = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}


class ScheduleExpressionError(ValueError):
    pass


def _cron_field(
    text: str, lo: int, hi: int, names: dict[str, int] | None = None
) -> set[int] | None:
    """Values allowed by one AWS cron field; None for '*' / '?'."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            start, end = lo, hi
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _cron_value(a, names), _cron_value(b, names)
        else:
            start = _cron_value(part, names)
            end = hi if step != 1 else start
        values.update(range(start, end + 1, step))
    return values


def _cron_value(text: str, names: dict[str, int] | None) -> int:
    text = text.upper()
    if names and text in names:
        return names[text]
    try:
        return int(text)
    except ValueError as exc:
        raise ScheduleExpressionError(
            f"unsupported cron value {text!r} (L, W and # are not supported)"
        ) from exc


@dataclass
class Cron:
    minutes: set[int] | None
    hours: set[int] | None
    days: set[int] | None
    last_day: bool
    months: set[int] | None
    weekdays: set[int] | None  # AWS: 1 = Sunday ... 7 = Saturday
    years: set[int] | None

    @classmethod
    def parse(cls, body: str) -> Cron:
        fields = body.split()
        if len(fields) != 6:
            raise ScheduleExpressionError(f"cron needs 6 fields, got {body!r}")
        minute, hour, dom, month, dow, year = fields
        last_day = dom.upper() == "L"
        return cls(
            minutes=_cron_field(minute, 0, 59),
            hours=_cron_field(hour, 0, 23),
            days=None if last_day else _cron_field(dom, 1, 31),
            last_day=last_day,
            months=_cron_field(month, 1, 12, _MON),
            weekdays=_cron_field(dow, 1, 7, _DOW),
            years=_cron_field(year, 1970, 2199),
        )

    def matches(self, t: datetime) -> bool:
        def ok(allowed: set[int] | None, value: int) -> bool:
            return allowed is None or value in allowed

        aws_dow = (t.isoweekday() % 7) + 1  # Monday=1 -> 2, Sunday=7 -> 1
        if self.last_day and t.day != calendar.monthrange(t.year, t.month)[1]:
            return False
        return (
            ok(self.minutes, t.minute)
            and ok(self.hours, t.hour)
            and ok(self.days, t.day)
            and ok(self.months, t.month)
            and ok(self.weekdays, aws_dow)
            and ok(self.years, t.year)
        )


def due_times(
    expression: str,
    after: datetime,
    until: datetime,
    anchor: datetime,
    tz: str = "UTC",
) -> list[datetime]:
    """Fire times of a schedule expression in (after, until], UTC.

    rate(): every period counted from `anchor` (the rule's / schedule's creation or StartDate);
    cron(): minutes matching the expression in `tz`; at(): once, in `tz`."""
    expression = expression.strip()
    if until <= after:
        return []
    m = _RATE.match(expression)
    if m:
        n, unit = int(m.group(1)), m.group(2).rstrip("s")
        period = timedelta(**{f"{unit}s": n})
        if period <= timedelta(0):
            raise ScheduleExpressionError(expression)
        k = max(1, int((after - anchor) / period))
        out = []
        while True:
            t = anchor + k * period
            if t > until:
                return out
            if t > after:
                out.append(t)
            k += 1
    m = _AT.match(expression)
    if m:
        local = datetime.fromisoformat(m.group(1)).replace(tzinfo=ZoneInfo(tz))
        t = local.astimezone(UTC)
        return [t] if after < t <= until else []
    m = _CRON.match(expression)
    if m:
        cron = Cron.parse(m.group(1))
        zone = ZoneInfo(tz)
        t = (after + timedelta(minutes=1)).replace(second=0, microsecond=0)
        if t - timedelta(minutes=1) > after:  # `after` was not on a minute: include its next minute
            t -= timedelta(minutes=1)
        out = []
        while t <= until:
            if cron.matches(t.astimezone(zone)):
                out.append(t)
            t += timedelta(minutes=1)
        return out
    raise ScheduleExpressionError(f"unsupported schedule expression {expression!r}")


# ---------------------------------------------------------------------- schedules
class Schedules:
    """Fires EventBridge rule schedules and Scheduler schedules from the twin clock."""

    def __init__(self, host: Host, delivery: EventDelivery) -> None:
        self.host = host
        self.delivery = delivery
        self.cursor: datetime | None = None
        self._first_seen: dict[str, datetime] = {}
        self._lock = threading.RLock()

    def start(self, now: datetime) -> None:
        self.cursor = now
        self._note_new(now)

    def _rules(self) -> list[Any]:
        from moto.events.models import events_backends

        backend = events_backends[self.host.account_id][self.host.region]
        return [
            rule
            for bus in list(backend.event_buses.values())
            for rule in list(bus.rules.values())
            if rule.scheduled_expression
        ]

    def _schedules(self) -> list[Any]:
        from moto.scheduler.models import scheduler_backends

        backend = scheduler_backends[self.host.account_id][self.host.region]
        return [
            s for g in list(backend.schedule_groups.values()) for s in list(g.schedules.values())
        ]

    def _note_new(self, now: datetime) -> None:
        for rule in self._rules():
            self._first_seen.setdefault(rule.arn, now)

    def fire_due(self, now: datetime) -> int:
        """Fire everything due in (cursor, now]; returns how many fires happened."""
        with self._lock:
            if self.cursor is None:
                self.start(now)
                return 0
            after, self.cursor = self.cursor, now
            self._note_new(after)
            due: list[tuple[datetime, str, Any]] = []
            for rule in self._rules():
                try:
                    times = due_times(
                        rule.scheduled_expression, after, now, self._first_seen[rule.arn]
                    )
                except ScheduleExpressionError as exc:
                    log.warning("rule %s: %s", rule.name, exc)
                    continue
                due.extend((t, "rule", rule) for t in times)
            for sched in self._schedules():
                anchor = _schedule_anchor(sched)
                try:
                    times = due_times(
                        sched.schedule_expression,
                        after,
                        now,
                        anchor,
                        sched.schedule_expression_timezone or "UTC",
                    )
                except ScheduleExpressionError as exc:
                    log.warning("schedule %s: %s", sched.name, exc)
                    continue
                due.extend((t, "schedule", sched) for t in times)
            due.sort(key=lambda item: item[0])
            fired = 0
            for i, (t, kind, obj) in enumerate(due):
                if i:  # earlier fires' targets may change this one's state: let them run first
                    self.delivery.wait_idle()
                if kind == "rule":
                    fired += self._fire_rule(obj, t)
                else:
                    fired += self._fire_schedule(obj, t)
            return fired

    def _fire_rule(self, rule: Any, when: datetime) -> int:
        if rule.state != "ENABLED":  # read at fire time: functions enable / disable rules
            return 0
        from moto.events.models import events_backends  # noqa: F401 - same backend as the rule

        moto_event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.host.account_id,
            "time": when.timestamp(),
            "region": self.host.region,
            "resources": [rule.arn],
            "detail": {},
            "ingestion-time": when.timestamp(),
        }
        self.host.record(
            "schedule-fired",
            source="events-rule",
            rule=self.host.logical_id_of(rule.name),
            name=rule.name,
            scheduled_time=iso_z(when),
            event_id=moto_event["id"],
        )
        self.delivery.deliver_to_rule(rule, moto_event)
        return 1

    def _fire_schedule(self, sched: Any, when: datetime) -> int:
        if sched.state != "ENABLED":
            return 0
        if sched.end_date is not None and when.timestamp() > _as_ts(sched.end_date):
            return 0
        target = sched.target
        execution_id = str(uuid.uuid4())
        raw_input = target.get("Input")
        if raw_input is None:
            payload: Any = {}
        else:
            text = (
                str(raw_input)
                .replace("<aws.scheduler.scheduled-time>", iso_z(when))
                .replace("<aws.scheduler.schedule-arn>", sched.arn)
                .replace("<aws.scheduler.execution-id>", execution_id)
                .replace("<aws.scheduler.attempt-number>", "1")
            )
            try:
                payload = json.loads(text)
            except json.JSONDecodeError:
                payload = text
        arn = target["Arn"]
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        kind = {"lambda": "lambda", "states": "stepfunctions"}.get(service, "other")
        label = self.host.logical_id_of(sched.name)
        self.host.record(
            "schedule-fired",
            source="scheduler",
            schedule=label,
            name=sched.name,
            scheduled_time=iso_z(when),
            execution_id=execution_id,
        )
        run = TargetRun(rule=label, target_id=sched.name, arn=arn, kind=kind, input=payload)
        if kind == "other":
            run.status = "FAILED"
            run.error_message = (
                f"the twin delivers Scheduler targets to Lambda and Step Functions only, not {arn}"
            )
            self.host.record(
                "target-invoked",
                rule=label,
                target=sched.name,
                arn=arn,
                status="FAILED",
                error=run.error_message,
            )
        else:
            self.delivery.enqueue(run, payload, f"schedule:{sched.arn}")
        if (
            _AT.match(sched.schedule_expression.strip())
            and sched.action_after_completion == "DELETE"
        ):
            from moto.scheduler.models import scheduler_backends

            scheduler_backends[self.host.account_id][self.host.region].delete_schedule(
                sched.group_name, sched.name
            )
        return 1


def _as_ts(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return float(value)
    except (TypeError, ValueError):
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _schedule_anchor(sched: Any) -> datetime:
    start = sched.start_date if sched.start_date is not None else sched.creation_date
    return datetime.fromtimestamp(_as_ts(start), UTC)
