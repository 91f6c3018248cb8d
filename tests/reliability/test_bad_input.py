"""Bad input (issue 9): events mutated from the real examples, and fuzzed, get a clear
validation error and change nothing.

Every function fed by an AWS event or a state-machine payload (template.yaml) is covered, except
ApprovalCallbackFunction (an HTTP API; its bad links have their own tests) and
TeardownEndpointFunction (it reads no input: the endpoint it deletes comes from its environment).

The rule, per kind of input:
- a field the handler reads removed, null or of the wrong type, an empty or non-object event:
  the handler raises ValidationError (pydantic, through the Powertools parser) or EventError
  (feecast.monitor.events) whose message names the field, before any AWS call that changes
  something;
- an event of another source or detail-type delivered directly (a rule never sends it: a wiring
  mistake or a hand-made event): refused the same way, naming `source` / `detail-type`;
- an event of the right kind that is not this project's (another endpoint, package group, alarm,
  status): a small "ignored" result, nothing changed;
- through EventBridge (`twin.send_event`), a foreign event matches no rule: nothing is invoked.

Timestamps: AWS sends them as ISO-8601 text or epoch numbers (reference README, caveat 4), so a
number is a valid timestamp; an object or unparseable text is not.

Sources: events/*.json (the project's fixtures) and tests/reliability/aws_events/ (verbatim
copies of the AWS documentation's examples, see its README). One twin serves the whole module:
each refused event is checked against the stack's state (`effects` in conftest.py) and the AWS
calls made while it ran.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.builds import WINDOW

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "events"
AWS_EVENTS = Path(__file__).resolve().parent / "aws_events"

pytestmark = [
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
    # RegisterModel's idempotency runs before its parser: with no execution_arn it skips itself.
    pytest.mark.filterwarnings("ignore:No idempotency key value found:UserWarning"),
]

REFUSED = {"ValidationError", "EventError"}  # pydantic's and feecast.monitor.events'

# Kinds of field, and the wrong values each is given.
TEXT, NUMBER, OBJECT, LIST, TIME, BOOL = "text", "number", "object", "list", "time", "bool"
WRONG: dict[str, list[Any]] = {
    TEXT: [12345],
    NUMBER: ["not-a-number"],
    OBJECT: [["not", "an", "object"]],
    LIST: [{"not": "a list"}],
    TIME: [{"not": "a time"}, "not-a-time"],
    BOOL: ["maybe"],
}


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())  # type: ignore[no-any-return]


def aws_event(name: str) -> dict[str, Any]:
    return json.loads((AWS_EVENTS / name).read_text())  # type: ignore[no-any-return]


# -- valid state-machine payloads, as the ASL Parameters build them ------------------------------
EXECUTION = "manual-2026-01-05T12-00Z-1a2b3c4d5e"
BUILD_ARN = f"arn:aws:states:eu-west-1:123456789012:execution:feecast-model-build:{EXECUTION}"
DEPLOY_ARN = (
    "arn:aws:states:eu-west-1:123456789012:execution:feecast-model-deploy:v3-20260105T101500"
)
PACKAGE = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/feecast-models/3"
DATA = {
    "execution_name": EXECUTION,
    "trigger": "manual",
    "prediction_length": 30,
    "quantiles": ["0.1", "0.5", "0.9"],
    "target_col": "avg_fee_1min",
    "hyperparameters": {"epochs": "5"},
    # feecast.backtest.BacktestPlan.to_dict, as Prepare The Data returns it
    "backtest": {
        "origins": 24,
        "skipped": 0,
        "first_index": 720,
        "spacing_steps": 30,
        "prediction_length": 30,
        "context_steps": 1440,
    },
    "window": WINDOW,
}
DEPLOYMENT = {
    "mode": "deploy",
    "deployment_id": "v3-20260105T101500",
    "model_package_arn": PACKAGE,
    "staging": {"endpoint_name": "feecast-staging", "endpoint_config_name": "cfg"},
}


@dataclass(frozen=True)
class Entry:
    """One handler: a valid input and the fields it must refuse when they are wrong."""

    function: str  # logical id in template.yaml
    folder: str  # functions/<folder>/app.py
    example: dict[str, Any]
    required: dict[str, str] = field(default_factory=dict)  # dotted path -> kind
    optional: dict[str, str] = field(default_factory=dict)  # may be absent, never wrong
    envelope: tuple[str, str] | None = None  # (source, detail-type) of an EventBridge rule
    parse: str = "Request"  # the parse layer, see PARSERS


ENVELOPE = {"id": TEXT, "source": TEXT, "account": TEXT, "region": TEXT, "resources": LIST}
PACKAGE_FIELDS = {
    **ENVELOPE,
    "time": TIME,
    "detail-type": TEXT,
    "detail": OBJECT,
    "detail.ModelPackageArn": TEXT,
    "detail.ModelPackageGroupName": TEXT,
    "detail.ModelApprovalStatus": TEXT,
}
PACKAGE_OPTIONAL = {
    "detail.ModelPackageVersion": NUMBER,
    "detail.LastModifiedTime": TIME,
    "detail.CreationTime": TIME,
    "detail.UpdatedModelPackageFields": LIST,
}
PACKAGE_ENVELOPE = ("aws.sagemaker", "SageMaker Model Package State Change")
ENDPOINT_ENVELOPE = ("aws.sagemaker", "SageMaker Endpoint State Change")
ALARM_ENVELOPE = ("aws.cloudwatch", "CloudWatch Alarm State Change")

ENTRIES = [
    # ---- fed by EventBridge rules and Scheduler schedules
    Entry(
        "CollectTransactionsFunction",
        "collect_transactions",
        event("ingest-scheduled-run.json"),
        required={"scheduled_time": TIME},
        parse="ScheduledRun",
    ),
    Entry(
        "StartBuildFunction",
        "start_build",
        event("build-start-schedule.json"),
        required={"scheduled_time": TIME},
        optional={"trigger": TEXT, "dedup_key": TEXT},
        parse="StartRequest",
    ),
    Entry(
        "StartDeployFunction",
        "start_deploy",
        event("deploy-package-approved.json"),
        required=PACKAGE_FIELDS,
        optional=PACKAGE_OPTIONAL,
        envelope=PACKAGE_ENVELOPE,
        parse="approved",
    ),
    Entry(
        "OnPackageRejectedFunction",
        "on_package_rejected",
        event("deploy-package-rejected.json"),
        required=PACKAGE_FIELDS,
        optional=PACKAGE_OPTIONAL,
        envelope=PACKAGE_ENVELOPE,
        parse="rejected",
    ),
    Entry(
        "ResumeEndpointWaiterFunction",
        "resume_endpoint_waiter",
        event("deploy-endpoint-in-service.json"),
        required={
            **ENVELOPE,
            "detail-type": TEXT,
            "detail": OBJECT,
            "detail.EndpointName": TEXT,
            "detail.EndpointStatus": TEXT,
        },
        envelope=ENDPOINT_ENVELOPE,
        parse="EndpointStateChange",
    ),
    Entry(
        "ActivateMonitoringFunction",
        "activate_monitoring",
        event("monitor-endpoint-in-service.json"),
        required={
            "source": TEXT,
            "detail-type": TEXT,
            "detail": OBJECT,
            "detail.EndpointName": TEXT,
            "detail.EndpointStatus": TEXT,
        },
        optional={"detail.LastModifiedTime": TIME, "detail.EndpointConfigName": TEXT},
        envelope=ENDPOINT_ENVELOPE,
        parse="endpoint_event",
    ),
    Entry(
        "MonitorEndpointFunction",
        "monitor_endpoint",
        event("monitor-hourly-input.json"),
        required={"stage": TEXT, "endpoint_name": TEXT, "scheduled_time": TIME},
        parse="run_request",
    ),
    Entry(
        "RetrainOnAlarmFunction",
        "retrain_on_alarm",
        event("retrain-accuracy-alarm.json"),
        required={
            "source": TEXT,
            "detail-type": TEXT,
            "detail": OBJECT,
            "detail.alarmName": TEXT,
            "detail.state": OBJECT,
            "detail.state.value": TEXT,
        },
        optional={"detail.state.timestamp": TIME, "detail.state.reason": TEXT},
        envelope=ALARM_ENVELOPE,
        parse="alarm_event",
    ),
    # ---- tasks of the ModelBuild state machine
    Entry(
        "PrepareDataFunction",
        "prepare_data",
        event("build-prepare-request.json"),
        required={"execution_name": TEXT, "execution_arn": TEXT, "started_at": TIME},
        optional={"input": OBJECT, "input.trigger": TEXT, "input.requested_at": TIME},
        parse="PrepareRequest",
    ),
    Entry(
        "EvaluateModelFunction",
        "evaluate_model",
        {
            "execution_arn": BUILD_ARN,
            "trigger": "manual",
            "training_job_name": f"feecast-{EXECUTION}",
            "data": DATA,
        },
        required={
            "execution_arn": TEXT,
            "training_job_name": TEXT,
            "data": OBJECT,
            "data.execution_name": TEXT,
            "data.prediction_length": NUMBER,
            "data.quantiles": LIST,
            "data.target_col": TEXT,
            "data.window": OBJECT,
            "data.backtest": OBJECT,
        },
        optional={"trigger": TEXT},
        parse="EvaluateRequest",
    ),
    Entry(
        "RegisterModelFunction",
        "register_model",
        {
            "execution_arn": BUILD_ARN,
            "trigger": "manual",
            "image": "224300973850.dkr.ecr.eu-west-1.amazonaws.com/forecasting-deepar:1",
            "model_data_url": f"s3://feecast-artifacts/builds/{EXECUTION}/output/model.tar.gz",
            "training_job_name": f"feecast-{EXECUTION}",
            "data": DATA,
            "evaluation": {
                "mean_wql": 0.2,
                "baseline_wql": 0.25,
                "alarm_threshold": 0.3,
                "windows": 24,
                "evaluation_uri": f"s3://feecast-artifacts/builds/{EXECUTION}/evaluation.json",
                "reason": "gate passed",
            },
        },
        required={
            "execution_arn": TEXT,
            "image": TEXT,
            "model_data_url": TEXT,
            "training_job_name": TEXT,
            "data": OBJECT,
            "evaluation": OBJECT,
            "evaluation.mean_wql": NUMBER,
            "evaluation.evaluation_uri": TEXT,
        },
        parse="RegisterRequest",
    ),
    Entry(
        "ReportBuildFailureFunction",
        "report_build_failure",
        event("build-training-failed-error.json"),
        required={"execution_name": TEXT, "execution_arn": TEXT, "state": OBJECT},
        optional={"state.errors": OBJECT, "state.trigger": TEXT},
        parse="Event",
    ),
    # ---- tasks of the ModelDeploy state machine
    Entry(
        "UpdateThresholdFunction",
        "update_threshold",
        {"model_package_arn": PACKAGE},
        required={"model_package_arn": TEXT},
        parse="ThresholdRequest",  # the step module's request model, imported by the handler
    ),
    Entry(
        "DeployEndpointFunction",
        "deploy_endpoint",
        {
            "stage": "staging",
            "guarded": False,
            "model_package_arn": PACKAGE,
            "deployment_id": "v3-20260105T101500",
        },
        required={"stage": TEXT, "model_package_arn": TEXT, "deployment_id": TEXT},
        optional={"guarded": BOOL},
        parse="DeployRequest",  # the step module's request model, imported by the handler
    ),
    Entry(
        "AwaitEndpointFunction",
        "await_endpoint",
        {
            "task_token": "token-1",
            "endpoint_name": "feecast-staging",
            "endpoint_config_name": "feecast-staging-v3-20260105T101500",
            "timeout_seconds": 1800,
            "execution": "v3-20260105T101500",
        },
        required={
            "task_token": TEXT,
            "endpoint_name": TEXT,
            "endpoint_config_name": TEXT,
            "timeout_seconds": NUMBER,
            "execution": TEXT,
        },
        parse="AwaitRequest",  # the step module's request model, imported by the handler
    ),
    Entry(
        "SmokeTestFunction",
        "smoke_test",
        {"endpoint_name": "feecast-staging"},
        required={"endpoint_name": TEXT},
        parse="SmokeRequest",  # the step module's request model, imported by the handler
    ),
    Entry(
        "RequestApprovalFunction",
        "request_approval",
        {
            "task_token": "token-1",
            "execution_arn": DEPLOY_ARN,
            "timeout_seconds": 3600,
            "deployment": DEPLOYMENT,
        },
        required={
            "task_token": TEXT,
            "execution_arn": TEXT,
            "timeout_seconds": NUMBER,
            "deployment": OBJECT,
        },
        parse="AskRequest",  # the step module's request model, imported by the handler
    ),
    Entry(
        "ReportOutcomeFunction",
        "report_outcome",
        {"outcome": "approved", "execution": "v3-20260105T101500", "deployment": DEPLOYMENT},
        required={"outcome": TEXT, "execution": TEXT, "deployment": OBJECT},
        optional={"failed_step": TEXT},
        parse="OutcomeRequest",  # the step module's request model, imported by the handler
    ),
    Entry(
        "RecordDeploymentFunction",
        "record_deployment",
        {
            "stage": "production",
            "mode": "deploy",
            "model_package_arn": PACKAGE,
            "execution": "v3-20260105T101500",
            "endpoint": {"endpoint_name": "feecast-production"},
            "reason": "Approved after a passing smoke test on staging.",
        },
        required={
            "stage": TEXT,
            "mode": TEXT,
            "model_package_arn": TEXT,
            "execution": TEXT,
            "endpoint": OBJECT,
        },
        optional={"reason": TEXT},
        parse="RecordRequest",  # the step module's request model, imported by the handler
    ),
]
BY_FUNCTION = {e.function: e for e in ENTRIES}


# -- mutations ----------------------------------------------------------------------------------
def _parent(doc: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    *head, last = path.split(".")
    for key in head:
        doc = doc[key]
    return doc, last


def removed(example: dict[str, Any], path: str) -> dict[str, Any]:
    doc = copy.deepcopy(example)
    parent, key = _parent(doc, path)
    del parent[key]
    return doc


def replaced(example: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(example)
    parent, key = _parent(doc, path)
    parent[key] = value
    return doc


@dataclass(frozen=True)
class Mutation:
    entry: Entry
    name: str
    event: Any
    names: tuple[str, ...]  # the refusal's message names one of these ("" = anything)


def mutations(entry: Entry) -> Iterator[Mutation]:
    """The refusals a handler owes: empty, non-object, every read field removed/null/mistyped."""
    yield Mutation(entry, "empty event", {}, ("",))
    for name, value in (("a list", [entry.example]), ("a string", "hello"), ("a number", 7)):
        yield Mutation(entry, f"event is {name}", value, ("",))
    for path, kind in entry.required.items():
        key = path.rsplit(".", 1)[-1]
        yield Mutation(entry, f"{path} removed", removed(entry.example, path), (key,))
        yield Mutation(entry, f"{path} null", replaced(entry.example, path, None), (key,))
        for value in WRONG[kind]:
            yield Mutation(
                entry, f"{path} = {value!r}", replaced(entry.example, path, value), (key,)
            )
    for path, kind in entry.optional.items():
        key = path.rsplit(".", 1)[-1]
        for value in WRONG[kind]:
            yield Mutation(
                entry, f"{path} = {value!r}", replaced(entry.example, path, value), (key,)
            )
    if entry.envelope:
        detail_type = entry.envelope[1]
        for key, foreign in (("source", "com.example.orders"), ("detail-type", "Order Placed")):
            yield Mutation(entry, f"foreign {key}", {**entry.example, key: foreign}, (key,))
        # The real examples of other kinds, delivered to this handler by mistake.
        for sample in sorted(AWS_EVENTS.glob("*.json")):
            other = aws_event(sample.name)
            if other["detail-type"] != detail_type:
                yield Mutation(entry, f"a {other['detail-type']}", other, ("source", "detail-type"))
    elif entry.function in ("CollectTransactionsFunction", "StartBuildFunction"):
        # Both also accept an EventBridge "Scheduled Event" envelope (its `time`): not others.
        for name in (
            "cloudwatch-alarm-state-change-single-metric.json",
            "sagemaker-endpoint-state-change.json",
        ):
            other = aws_event(name)
            yield Mutation(entry, f"a {other['detail-type']}", other, ("detail-type",))
        scheduled = {**aws_event("scheduled-event.json"), "source": "com.example.orders"}
        yield Mutation(entry, "a Scheduled Event of a foreign source", scheduled, ("source",))


ALL_MUTATIONS = [m for entry in ENTRIES for m in mutations(entry)]


# -- the twin, its state, and the in-process parse layers ----------------------------------------
@pytest.fixture(scope="module")
def twin() -> Iterator[Any]:
    from feecast_twin import Twin

    overrides = {"IngestScheduleState": "DISABLED", "ApprovalTimeoutSeconds": "20"}
    with Twin(parameter_overrides=overrides) as deployed:
        yield deployed


def _load_app(twin: Any, entry: Entry) -> ModuleType:
    """functions/<folder>/app.py imported in-process with the function's deployed environment
    (its settings are read at import), under a name of its own."""
    config = twin.client("lambda").get_function_configuration(
        FunctionName=twin.physical_id(entry.function)
    )
    env = {**config["Environment"]["Variables"], "POWERTOOLS_TRACE_DISABLED": "true"}
    path = REPO / "functions" / entry.folder / "app.py"
    spec = importlib.util.spec_from_file_location(f"bad_input_{entry.folder}_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        spec.loader.exec_module(module)
    return module


def _parse_layer(twin: Any, entry: Entry) -> Callable[[Any], Any]:
    """What the handler does with its input before any AWS call: parse, validate, derive."""
    from aws_lambda_powertools.utilities.parser import parse
    from feecast.build.evaluate_model import EvaluateRequest
    from feecast.build.prepare_data import PrepareRequest
    from feecast.build.register_model import RegisterRequest
    from feecast.deploy import trigger
    from feecast.events import PackageStateChange
    from feecast.ingest.collect_transactions import ScheduledRun
    from feecast.monitor import events

    def model(cls: Any) -> Callable[[Any], Any]:
        return lambda e: parse(event=e, model=cls)

    def package(wanted: str) -> Callable[[Any], Any]:
        def run(e: Any) -> Any:
            request = parse(event=e, model=PackageStateChange)
            detail = request.detail
            decision = trigger.classify(
                detail.detail(), wanted_status=wanted, group="feecast-models"
            )
            # start_deploy / handle_package_rejected derive these before acting
            return decision, detail.version, detail.changed_at(request.time)

        return run

    def endpoint(e: Any) -> Any:
        change = events.parse_endpoint_event(e)
        return change.action, change.change_key

    def alarm(e: Any) -> Any:
        change = events.parse_alarm_event(e)
        return change.latest_value, change.transitioned_at

    library: dict[str, Callable[[Any], Any]] = {
        "ScheduledRun": model(ScheduledRun),
        "approved": package(trigger.APPROVED),
        "rejected": package(trigger.REJECTED),
        "endpoint_event": endpoint,
        "run_request": events.parse_run_request,
        "alarm_event": alarm,
        "PrepareRequest": model(PrepareRequest),
        "EvaluateRequest": model(EvaluateRequest),
        "RegisterRequest": model(RegisterRequest),
    }
    if entry.parse in library:
        return library[entry.parse]
    app = _load_app(twin, entry)  # a model defined in the handler's module
    parsed = model(getattr(app, entry.parse))
    if entry.parse == "Event":  # ReportBuildFailure reads the trigger's name
        return lambda e: parsed(e).state.trigger_name
    if entry.parse == "EndpointStateChange":  # ResumeEndpointWaiter passes the detail on
        return lambda e: parsed(e).detail.model_dump()
    return parsed


@pytest.fixture(scope="module")
def parse_layers(twin: Any) -> dict[str, Callable[[Any], Any]]:
    return {entry.function: _parse_layer(twin, entry) for entry in ENTRIES}


@pytest.fixture(scope="module")
def known_state() -> dict[str, Any]:
    """The stack's state as the last test left it (the baseline for the next one)."""
    return {}


@pytest.fixture
def unchanged(
    twin: Any,
    known_state: dict[str, Any],
    effects_of: Callable[[Any], dict[str, Any]],
    aws_calls: Any,
) -> Callable[[], None]:
    """Call after the bad input: fails if the stack's state changed or a changing AWS call ran."""
    if not known_state:
        known_state.update(effects_of(twin))
    mark = len(aws_calls.calls)

    def check() -> None:
        twin.settle()
        assert aws_calls.since(mark) == [], (
            "a refused input made an AWS call that changes something"
        )
        after = effects_of(twin)
        changed = [key for key in after if after[key] != known_state.get(key)]
        known_state.clear()
        known_state.update(after)  # one failure, not a cascade
        assert changed == [], f"a refused input changed {changed}"

    return check


# -- the tests --------------------------------------------------------------------------------
def test_every_event_fed_function_of_the_template_is_covered_or_excused(twin: Any) -> None:
    """Given template.yaml, when a function is added, then it gets an entry here (or a reason)."""
    excused = {"ApprovalCallbackFunction", "TeardownEndpointFunction"}
    resources = twin.template.raw["Resources"]
    functions = {
        logical
        for logical, resource in resources.items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }
    assert functions - excused == set(BY_FUNCTION)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.function)
def test_each_example_is_valid_so_each_mutation_breaks_one_thing(
    entry: Entry, parse_layers: dict[str, Callable[[Any], Any]]
) -> None:
    """Given the valid example, its parse layer accepts it: a mutation's refusal is its own."""
    parse_layers[entry.function](copy.deepcopy(entry.example))


@pytest.mark.parametrize(
    "mutation", ALL_MUTATIONS, ids=[f"{m.entry.function}: {m.name}" for m in ALL_MUTATIONS]
)
def test_bad_input_is_refused_naming_the_field_with_no_side_effect(
    mutation: Mutation, twin: Any, unchanged: Callable[[], None]
) -> None:
    """Given a mutated example, when the function is invoked, then it raises a validation error
    naming the field, and nothing in the stack changed."""
    from feecast_twin.core import TwinInvokeError

    with pytest.raises(TwinInvokeError) as caught:
        result = twin.invoke(mutation.entry.function, mutation.event)
        pytest.fail(f"accepted: {json.dumps(result, default=str)[:300]}")
    error = caught.value
    assert error.error_type in REFUSED, f"{error.error_type}: {error.message[:500]}"
    assert any(name in error.message for name in mutation.names), error.message[:500]
    unchanged()


# Events of the right kind that are not this project's: an "ignored" result, nothing changed.
NOT_OURS = [
    (
        "ActivateMonitoringFunction",
        aws_event("sagemaker-endpoint-state-change.json"),
        lambda r: r["action"] == "ignored",
    ),
    (
        "ResumeEndpointWaiterFunction",
        aws_event("sagemaker-endpoint-state-change.json"),
        lambda r: r["status"] == "ignored",
    ),
    (
        "OnPackageRejectedFunction",
        aws_event("sagemaker-model-package-state-change.json"),
        lambda r: r["started"] is False and "group" in r["reason"],
    ),
    (
        "StartDeployFunction",
        aws_event("sagemaker-model-package-state-change.json"),
        lambda r: r["started"] is False and "group" in r["reason"],
    ),
    (
        "StartDeployFunction",
        event("deploy-package-created.json"),
        lambda r: r["started"] is False and "PendingManualApproval" in r["reason"],
    ),
    (
        "StartDeployFunction",
        event("deploy-package-lifecycle-update.json"),
        lambda r: r["started"] is False and "ModelLifeCycle" in r["reason"],
    ),
    (
        "OnPackageRejectedFunction",
        event("deploy-package-approved.json"),
        lambda r: r["started"] is False and "Approved" in r["reason"],
    ),
    (
        "RetrainOnAlarmFunction",
        aws_event("cloudwatch-alarm-state-change-single-metric.json"),
        lambda r: r["outcome"] == "ignored",
    ),
    (
        "RetrainOnAlarmFunction",
        event("retrain-other-alarm.json"),
        lambda r: r["outcome"] == "ignored",
    ),
]


@pytest.mark.parametrize(
    ("function", "payload", "ignored"),
    NOT_OURS,
    ids=[
        f"{f}: {e['detail'].get('EndpointName') or e['detail'].get('alarmName') or e['detail'].get('ModelPackageGroupName')} {e['detail'].get('ModelApprovalStatus', '')}"
        for f, e, _ in NOT_OURS
    ],
)
def test_events_of_the_right_kind_that_are_not_ours_are_ignored(
    function: str,
    payload: dict[str, Any],
    ignored: Callable[[Any], bool],
    twin: Any,
    unchanged: Callable[[], None],
) -> None:
    """Given a real event of another endpoint / package group / alarm / status, when it is
    delivered directly, then the result says ignored and nothing changed."""
    result = twin.invoke(function, payload)
    assert ignored(result), result
    unchanged()


FOREIGN = [
    ("foreign source", {**event("deploy-package-approved.json"), "source": "com.example.orders"}),
    (
        "foreign detail-type",
        {**event("monitor-endpoint-in-service.json"), "detail-type": "Order Placed"},
    ),
    ("foreign source", {**event("retrain-accuracy-alarm.json"), "source": "com.example.orders"}),
    ("foreign source", {**event("deploy-package-rejected.json"), "source": "aws.cloudwatch"}),
    *[(f"AWS example {p.stem}", aws_event(p.name)) for p in sorted(AWS_EVENTS.glob("*.json"))],
]


@pytest.mark.parametrize(
    ("name", "payload"), FOREIGN, ids=[f"{n}: {p['detail-type']}" for n, p in FOREIGN]
)
def test_foreign_events_on_the_bus_match_no_rule_and_invoke_nothing(
    name: str, payload: dict[str, Any], twin: Any, unchanged: Callable[[], None]
) -> None:
    """Given an event no rule of the stack is for, when it is put on the bus, then no rule
    matches, no target runs, no function is invoked and nothing changed."""
    invocations = len(twin.records_of("lambda"))
    report = twin.send_event(payload)
    assert report.rules_matched == [] and report.targets == [], report.to_dict()
    assert len(twin.records_of("lambda")) == invocations
    unchanged()


# -- fuzz: the parse layers, in-process --------------------------------------------------------
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _slots(doc: Any) -> list[tuple[Any, Any]]:
    """(container, key) of every value in the document, at every depth."""
    out: list[tuple[Any, Any]] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out.append((doc, key))
            out += _slots(value)
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            out.append((doc, index))
            out += _slots(value)
    return out


@st.composite
def mutated(draw: st.DrawFn, example: dict[str, Any]) -> Any:
    """The example with 1-4 values dropped or replaced by random JSON, at random depths."""
    doc: Any = copy.deepcopy(example)
    for _ in range(draw(st.integers(1, 4))):
        slots = _slots(doc)
        if not slots or draw(st.integers(0, 30)) == 0:
            return draw(JSON)  # now and then the whole event
        container, key = draw(st.sampled_from(slots))
        if draw(st.booleans()):
            del container[key]
        else:
            container[key] = draw(JSON)
    return doc


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.function)
def test_fuzzed_events_parse_or_fail_with_a_validation_error(
    entry: Entry, parse_layers: dict[str, Callable[[Any], Any]]
) -> None:
    """Given the example mutated at random, when the handler's parse layer reads it, then it
    either parses (and the derived values compute) or raises a validation error: never a
    KeyError, TypeError, AttributeError or ValueError from deep inside."""
    from feecast.monitor.events import EventError
    from pydantic import ValidationError

    layer = parse_layers[entry.function]

    @settings(
        max_examples=60,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(mutated(entry.example))
    def check(doc: Any) -> None:
        with contextlib.suppress(ValidationError, EventError):
            layer(doc)

    check()
