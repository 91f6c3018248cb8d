"""`feecast status` and `feecast logs`: what the lifecycle is doing, and what it did.

    feecast status [--json] [--hours 48]
        what is deployed where (endpoints, their model package and version), the current
        threshold, the last losses per stage, running builds and deployments, pending approvals
        (model packages waiting in the registry, deployments waiting for a person);
    feecast logs [--json] [--limit 30] [--hours 168]
        the last lifecycle events, oldest first: executions of the build and deploy state
        machines, model package registrations and approval changes, alarm state changes,
        deployments recorded per stage, and every notification (source "notify": the
        lifecycle events of docs/events.md, read from the stack's lifecycle event log).

Both read AWS APIs only (DescribeStacks for the names, then SageMaker, Step Functions,
CloudWatch, SSM and the StateTable), so they work the same on AWS and on the twin
(`--endpoint-url`). Times are the server's: the answer's Date header tells "now", so a twin
whose clock runs elsewhere in time still shows its recent hours.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from feecast_cli.context import NO_CREDENTIALS, CliError, Context, project_name, server_time
from feecast_cli.notifications import collect_notifications

LOSS_METRIC = "WeightedQuantileLoss"
BASELINE_METRIC = "BaselineWeightedQuantileLoss"
THRESHOLD_METRIC = "Threshold"
STAGE_OUTPUTS = (("staging", "StagingEndpointName"), ("production", "ProductionEndpointName"))
MACHINE_OUTPUTS = (("build", "ModelBuildStateMachineArn"), ("deploy", "ModelDeployStateMachineArn"))
_ENDED_BADLY = {"FAILED", "TIMED_OUT", "ABORTED"}
STATUS_HELP = """\
What is deployed where (endpoints, their model package and version), the current threshold,
the last losses per stage, the last build (and why it failed), running builds and deployments
with their current step, pending approvals (model packages waiting in the registry,
deployments waiting for a person)."""
LOGS_HELP = """\
The last lifecycle events, oldest first: executions of the build and deploy state machines
(with the error and cause of those that failed), model package registrations and approval
changes (and who decided), alarm state changes, deployments recorded per stage."""


def register(subparsers: Any) -> None:
    status = subparsers.add_parser(
        "status",
        help="what is deployed where, the threshold, last losses, running work, pending approvals",
        description=STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of tables")
    status.add_argument(
        "--hours", type=float, default=48, help="how far back to look for losses (default 48)"
    )
    status.set_defaults(func=run_status)

    logs = subparsers.add_parser(
        "logs",
        help="history of the last lifecycle events (builds, approvals, alarms, deployments)",
        description=LOGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    logs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    logs.add_argument("--limit", type=int, default=30, help="events to show (default 30)")
    logs.add_argument(
        "--hours", type=float, default=168, help="how far back to look (default 168 = a week)"
    )
    logs.set_defaults(func=run_logs)


# ------------------------------------------------------------------------------ helpers
def _call(what: str, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """One AWS call; credentials and access problems become CliErrors an operator can act on."""
    try:
        return fn(**kwargs)
    except NoCredentialsError as exc:
        raise CliError(NO_CREDENTIALS) from exc
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("AccessDenied", "AccessDeniedException", "UnrecognizedClientException"):
            raise CliError(f"{what}: not allowed with these credentials ({code})") from exc
        raise


def as_utc(value: Any) -> datetime | None:
    """An aware UTC datetime from a datetime or ISO-8601 text; None when empty or unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def package_version(arn: str | None) -> int | None:
    tail = (arn or "").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _use_library_session(context: Context) -> None:
    """The deploy library's adapters use the CLI's session (profile, region, endpoint)."""
    from feecast.adapters import clients

    clients.use_session(context.session, context.endpoint_url)


# ------------------------------------------------------------------------------ status
def collect_status(context: Context, hours: float = 48) -> dict[str, Any]:
    outputs = context.outputs
    project = project_name(outputs)
    sm = context.client("sagemaker")
    ssm = context.client("ssm")
    cw = context.client("cloudwatch")
    sfn = context.client("stepfunctions")
    table = outputs.get("StateTableName")
    if table:
        _use_library_session(context)

    threshold, now = _threshold(ssm, outputs, project)
    status: dict[str, Any] = {
        "stack": context.stack_name,
        "project": project,
        "now": now.isoformat(),
        "threshold": threshold,
        "endpoints": [],
        "alarms": [],
        "last_build": None,
        "running": [],
        "pending_packages": [],
        "pending_approvals": [],
    }
    for stage, key in STAGE_OUTPUTS:
        name = outputs.get(key)
        if not name:
            continue
        status["endpoints"].append(
            _endpoint(sm, cw, project, stage, name, table, now - timedelta(hours=hours), now)
        )
    alarms = _call(
        "CloudWatch DescribeAlarms", cw.describe_alarms, AlarmNamePrefix=f"{project}-"
    ).get("MetricAlarms", [])
    status["alarms"] = [
        {
            "name": a["AlarmName"],
            "state": a.get("StateValue"),
            "since": _iso(a.get("StateUpdatedTimestamp")),
            "reason": a.get("StateReason", ""),
        }
        for a in alarms
    ]
    for kind, key in MACHINE_OUTPUTS:
        arn = outputs.get(key)
        if arn:
            status["running"] += _running(sfn, kind, arn)
    if outputs.get("ModelBuildStateMachineArn"):
        status["last_build"] = _last_ended(sfn, outputs["ModelBuildStateMachineArn"])
    group = outputs.get("ModelPackageGroupName")
    if group:
        packages = _call(
            "SageMaker ListModelPackages",
            sm.list_model_packages,
            ModelPackageGroupName=group,
            ModelApprovalStatus="PendingManualApproval",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=20,
        ).get("ModelPackageSummaryList", [])
        status["pending_packages"] = [
            {
                "version": p.get("ModelPackageVersion") or package_version(p["ModelPackageArn"]),
                "arn": p["ModelPackageArn"],
                "created": _iso(p.get("CreationTime")),
                # What a person runs (or the Studio model registry's Approve button).
                "approve_with": "feecast approve --package "
                f"{p.get('ModelPackageVersion') or package_version(p['ModelPackageArn'])}",
            }
            for p in packages
        ]
    if table:
        from feecast.adapters.state_table import StateTable
        from feecast.deploy import approvals

        status["pending_approvals"] = [
            {
                **a.model_dump(),
                "approve_with": f"feecast approve {a.approval_id}",
                "reject_with": f"feecast reject {a.approval_id}",
            }
            for a in approvals.list_pending(StateTable(table), now=now.timestamp())
        ]
    return status


def _iso(value: Any) -> str | None:
    moment = as_utc(value)
    return moment.isoformat() if moment else None


def _threshold(ssm: Any, outputs: dict[str, str], project: str) -> tuple[dict[str, Any], datetime]:
    name = outputs.get("ValidationParameterName") or f"/{project}/validation"
    try:
        response = _call("SSM GetParameter", ssm.get_parameter, Name=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return {"parameter": name, "error": "parameter not found"}, datetime.now(UTC)
        raise
    now = server_time(response)
    parameter = response["Parameter"]
    out: dict[str, Any] = {
        "parameter": name,
        "version": parameter.get("Version"),
        "changed": _iso(parameter.get("LastModifiedDate")),
    }
    try:
        out["value"] = float(json.loads(parameter["Value"])["threshold"])
    except (ValueError, KeyError, TypeError) as exc:
        out["error"] = f"not a validation parameter: {exc}"
    try:
        history = ssm.get_parameter_history(Name=name, MaxResults=50).get("Parameters", [])
        values = [float(json.loads(h["Value"])["threshold"]) for h in history]
        if len(values) >= 2:
            out["previous"] = values[-2]
    except (ClientError, BotoCoreError, ValueError, KeyError, TypeError):
        pass  # the history is a nicety
    return out, now


def _endpoint(
    sm: Any,
    cw: Any,
    project: str,
    stage: str,
    name: str,
    table: str | None,
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    out: dict[str, Any] = {"stage": stage, "endpoint": name, "status": "absent"}
    try:
        desc = _call("SageMaker DescribeEndpoint", sm.describe_endpoint, EndpointName=name)
        out.update(
            status=desc.get("EndpointStatus"),
            config=desc.get("EndpointConfigName"),
            changed=_iso(desc.get("LastModifiedTime")),
        )
        if desc.get("FailureReason"):
            out["failure_reason"] = desc["FailureReason"]
    except ClientError as exc:
        if "not find" not in str(exc).lower():
            raise
    if table:
        from feecast.adapters.state_table import StateTable
        from feecast.deploy import outcome

        current = outcome.current(StateTable(table), stage)
        if current is not None:
            out.update(
                model_version=current.version,
                model_package=current.package_arn,
                deployed_at=current.deployed_at,
                mode=current.mode,
            )
    if out.get("model_version") is None and out.get("config"):
        # Only production's deployments are recorded; every endpoint configuration the deploy
        # stage creates is tagged with its package (feecast.deploy.deploy_endpoint), staging's too.
        package = _config_package(sm, out["config"])
        if package:
            out.update(model_version=package_version(package), model_package=package)
    dims = [{"Name": "Stage", "Value": stage}, {"Name": "EndpointName", "Value": name}]
    for label, metric in (
        ("loss", LOSS_METRIC),
        ("baseline_loss", BASELINE_METRIC),
        ("threshold", THRESHOLD_METRIC),
    ):
        points = _call(
            "CloudWatch GetMetricStatistics",
            cw.get_metric_statistics,
            Namespace=project,
            MetricName=metric,
            Dimensions=dims,
            StartTime=start,
            EndTime=end + timedelta(minutes=5),
            Period=3600,
            Statistics=["Maximum"],
        ).get("Datapoints", [])
        if points:
            last = max(points, key=lambda p: p["Timestamp"])
            out[f"last_{label}"] = float(last["Maximum"])
            out[f"last_{label}_at"] = _iso(last["Timestamp"])
    return out


def _config_package(sm: Any, config: str) -> str | None:
    """The model package an endpoint configuration serves (its `feecast:package` tag)."""
    try:
        arn = sm.describe_endpoint_config(EndpointConfigName=config)["EndpointConfigArn"]
        tags = sm.list_tags(ResourceArn=arn).get("Tags", [])
    except (ClientError, BotoCoreError, KeyError):
        return None
    return next((t["Value"] for t in tags if t.get("Key") == "feecast:package"), None)


def current_step(sfn: Any, execution_arn: str) -> str | None:
    """The state a running execution is in: the newest StateEntered event of its history."""
    try:
        events = sfn.get_execution_history(
            executionArn=execution_arn, reverseOrder=True, maxResults=25
        )["events"]
    except (ClientError, BotoCoreError, KeyError):
        return None
    entered = [e for e in events if "stateEnteredEventDetails" in e]
    return str(entered[0]["stateEnteredEventDetails"]["name"]) if entered else None


def failure_summary(error: Any, cause: Any, limit: int = 300) -> str | None:
    """`Error: cause` of an execution that ended badly, the cause's message when it is a
    Lambda error document ({"errorMessage": ...}), cut for a table."""
    if not error and not cause:
        return None
    text = str(cause or "")
    try:
        document = json.loads(text)
        if isinstance(document, dict):
            text = str(document.get("errorMessage") or document.get("Cause") or text)
    except ValueError:
        pass
    text = " ".join(text.split())
    summary = f"{error}: {text}" if error and text else str(error or text)
    return summary if len(summary) <= limit else summary[: limit - 3] + "..."


def _why(sfn: Any, execution_arn: str) -> dict[str, Any]:
    """The error and cause of an execution that ended badly (DescribeExecution)."""
    try:
        described = sfn.describe_execution(executionArn=execution_arn)
    except (ClientError, BotoCoreError):
        return {}
    error, cause = described.get("error"), described.get("cause")
    return {"error": error, "cause": cause, "why": failure_summary(error, cause)}


def _last_ended(sfn: Any, arn: str) -> dict[str, Any] | None:
    executions = _call(
        "Step Functions ListExecutions", sfn.list_executions, stateMachineArn=arn, maxResults=20
    ).get("executions", [])
    ended = [ex for ex in executions if ex.get("status") != "RUNNING"]
    if not ended:
        return None
    last = max(ended, key=lambda ex: ex.get("stopDate") or ex.get("startDate"))
    out: dict[str, Any] = {
        "name": last["name"],
        "status": last.get("status"),
        "started": _iso(last.get("startDate")),
        "stopped": _iso(last.get("stopDate")),
    }
    if last.get("status") in _ENDED_BADLY:
        out.update(_why(sfn, last["executionArn"]))
    return out


def _running(sfn: Any, kind: str, arn: str) -> list[dict[str, Any]]:
    executions = _call(
        "Step Functions ListExecutions",
        sfn.list_executions,
        stateMachineArn=arn,
        statusFilter="RUNNING",
        maxResults=20,
    ).get("executions", [])
    return [
        {
            "kind": kind,
            "name": ex["name"],
            "started": _iso(ex.get("startDate")),
            "step": current_step(sfn, ex["executionArn"]),
        }
        for ex in executions
    ]


# ------------------------------------------------------------------------------ logs
def collect_logs(context: Context, hours: float = 168, limit: int = 30) -> list[dict[str, Any]]:
    outputs = context.outputs
    project = project_name(outputs)
    sm = context.client("sagemaker")
    sfn = context.client("stepfunctions")
    cw = context.client("cloudwatch")
    events: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    for kind, key in MACHINE_OUTPUTS:
        arn = outputs.get(key)
        if not arn:
            continue
        response = _call(
            "Step Functions ListExecutions",
            sfn.list_executions,
            stateMachineArn=arn,
            maxResults=100,
        )
        now = server_time(response)
        for ex in response.get("executions", []):
            events.append(
                _event(ex.get("startDate"), kind, f"{kind} started", ex["name"], "RUNNING")
            )
            if ex.get("stopDate"):
                ended = _event(ex["stopDate"], kind, f"{kind} ended", ex["name"], ex.get("status"))
                if ex.get("status") in _ENDED_BADLY:
                    ended["detail"] = _why(sfn, ex["executionArn"]).get("why")
                events.append(ended)
    group = outputs.get("ModelPackageGroupName")
    if group:
        packages = _call(
            "SageMaker ListModelPackages",
            sm.list_model_packages,
            ModelPackageGroupName=group,
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=50,
        ).get("ModelPackageSummaryList", [])
        for p in packages:
            version = p.get("ModelPackageVersion") or package_version(p["ModelPackageArn"])
            events.append(
                _event(
                    p.get("CreationTime"),
                    "registry",
                    "package registered",
                    f"v{version}",
                    "PendingManualApproval",
                )
            )
            if p.get("ModelApprovalStatus") not in (None, "PendingManualApproval"):
                # The registry keeps the latest change only: its time is the package's last update.
                try:
                    desc = sm.describe_model_package(ModelPackageName=p["ModelPackageArn"])
                    when = desc.get("LastModifiedTime") or p.get("CreationTime")
                    by = decided_by(desc)
                except (ClientError, BotoCoreError):
                    when, by = p.get("CreationTime"), None
                decided = _event(
                    when, "registry", "package decided", f"v{version}", p["ModelApprovalStatus"]
                )
                decided["by"] = by
                events.append(decided)
    alarms = _call(
        "CloudWatch DescribeAlarms", cw.describe_alarms, AlarmNamePrefix=f"{project}-"
    ).get("MetricAlarms", [])
    events += _alarm_events(cw, alarms, now - timedelta(hours=hours), now)
    table = outputs.get("StateTableName")
    if table:
        _use_library_session(context)
        from feecast.adapters.state_table import StateTable
        from feecast.deploy import outcome

        for stage, _key in STAGE_OUTPUTS:
            for record in outcome.history(StateTable(table), stage)[:50]:
                verb = "rolled back to" if record.mode == "rollback" else "serves"
                events.append(
                    _event(
                        record.deployed_at,
                        "deploy",
                        f"{stage} {verb}",
                        f"v{record.version}",
                        "DEPLOYED",
                    )
                )
    since = now - timedelta(hours=hours)
    events += collect_notifications(context.client("logs"), outputs, since, _call)
    kept = [e for e in events if e["time"] is not None and as_utc(e["time"]) >= since]  # type: ignore[operator]
    kept.sort(key=lambda e: e["time"])
    return kept[-limit:] if limit > 0 else kept


def decided_by(package: dict[str, Any]) -> str | None:
    """Who approved or rejected a model package.

    `feecast approve|reject --package` writes "<status> by <caller ARN>" (STS
    GetCallerIdentity) into ApprovalDescription: read first, it is exact. Otherwise the
    registry's LastModifiedBy: IamIdentity for the AWS CLI and SDKs, UserProfileName for a
    SageMaker Studio user (AWS fills only that one for Studio)."""
    description = str(package.get("ApprovalDescription") or "")
    prefix = f"{package.get('ModelApprovalStatus') or ''} by "
    if len(prefix) > 4 and description.startswith(prefix):
        who = description.removeprefix(prefix).split(": ", 1)[0]
        if who:
            return who
    modified_by = package.get("LastModifiedBy") or {}
    identity = (modified_by.get("IamIdentity") or {}).get("Arn")
    return str(identity or modified_by.get("UserProfileName") or "") or None


def _event(when: Any, source: str, what: str, subject: str, status: Any) -> dict[str, Any]:
    # Stable keys: `by` and `detail` are in every event (null when they do not apply).
    return {
        "time": _iso(when),
        "source": source,
        "event": what,
        "subject": subject,
        "status": status,
        "by": None,
        "detail": None,
    }


def _alarm_events(
    cw: Any, alarms: list[dict[str, Any]], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    out = []
    for alarm in alarms:
        name = alarm["AlarmName"]
        try:
            items = cw.describe_alarm_history(
                AlarmName=name,
                HistoryItemType="StateUpdate",
                StartDate=start,
                EndDate=end + timedelta(minutes=5),
                MaxRecords=100,
            ).get("AlarmHistoryItems", [])
        except (ClientError, NotImplementedError):
            items = None  # no alarm history (plain moto): show the current state only
        if items is None:
            out.append(
                _event(
                    alarm.get("StateUpdatedTimestamp"),
                    "alarm",
                    "alarm state",
                    name,
                    alarm.get("StateValue"),
                )
            )
            continue
        for item in items:
            state = _state_from_history(item)
            out.append(_event(item.get("Timestamp"), "alarm", "alarm state", name, state))
    return out


def _state_from_history(item: dict[str, Any]) -> str:
    try:
        data = json.loads(item.get("HistoryData") or "{}")
        return str(data["newState"]["stateValue"])
    except (ValueError, KeyError, TypeError):
        summary = str(item.get("HistorySummary", ""))
        return summary.rsplit(" to ", 1)[-1] if " to " in summary else summary


# ------------------------------------------------------------------------------ rendering
def _fmt_time(value: Any) -> str:
    moment = as_utc(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _fmt_num(value: Any) -> str:
    return "-" if value is None else f"{float(value):.4f}"


def _short_arn(arn: Any) -> str | None:
    """`assumed-role/Operator/alice` rather than the whole ARN, for a table."""
    if not arn:
        return None
    text = str(arn)
    return text.split(":", 5)[-1] if text.startswith("arn:") else text


def table(headers: list[str], rows: Iterable[Iterable[Any]]) -> str:
    """A plain fixed-width table (no dependency)."""
    body = [[("-" if c is None or c == "" else str(c)) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in body
    ]
    return "\n".join(lines)


def render_status(status: dict[str, Any]) -> str:
    th = status.get("threshold") or {}
    value = th.get("value")
    out = [
        f"feecast stack {status['stack']!r} (project {status['project']}), server time "
        f"{_fmt_time(status['now'])} UTC",
        "",
        "Threshold: "
        + (f"{value:.4f}" if value is not None else f"unknown ({th.get('error', 'not read')})")
        + (f" (was {th['previous']:.4f})" if th.get("previous") is not None else "")
        + (f", changed {_fmt_time(th.get('changed'))}" if th.get("changed") else "")
        + f"  [{th.get('parameter')}]",
        "",
        "Endpoints:",
        table(
            ["stage", "endpoint", "status", "model", "since", "last loss", "baseline", "at"],
            [
                [
                    e["stage"],
                    e["endpoint"],
                    e.get("status"),
                    f"v{e['model_version']}"
                    + (" (rollback)" if e.get("mode") == "rollback" else "")
                    if e.get("model_version") is not None
                    else None,
                    _fmt_time(e.get("deployed_at")) if e.get("deployed_at") else None,
                    _fmt_num(e.get("last_loss")),
                    _fmt_num(e.get("last_baseline_loss")),
                    _fmt_time(e.get("last_loss_at")) if e.get("last_loss_at") else None,
                ]
                for e in status["endpoints"]
            ],
        ),
        "",
        "Alarms:",
        table(
            ["alarm", "state", "since"],
            [[a["name"], a["state"], _fmt_time(a["since"])] for a in status["alarms"]],
        )
        if status["alarms"]
        else "  (none: monitoring starts when an endpoint goes InService)",
        "",
        "Last build: " + _render_last_build(status.get("last_build")),
        "",
        "Running:",
        table(
            ["kind", "execution", "started", "current step"],
            [
                [r["kind"], r["name"], _fmt_time(r["started"]), r.get("step")]
                for r in status["running"]
            ],
        )
        if status["running"]
        else "  (no build or deployment running)",
        "",
        "Waiting for a person:",
    ]
    waiting = []
    for p in status["pending_packages"]:
        waiting.append(
            ["model package", f"v{p['version']}", _fmt_time(p["created"]), p["approve_with"]]
        )
    for a in status["pending_approvals"]:
        waiting.append(
            [
                "production promotion",
                f"v{a['version']} on {a['staging_endpoint']}",
                _fmt_time(a["created_at"]),
                f"{a['approve_with']}  |  {a['reject_with']}",
            ]
        )
    out.append(
        table(["what", "which", "since", "how"], waiting) if waiting else "  (nothing pending)"
    )
    return "\n".join(out) + "\n"


def _render_last_build(build: dict[str, Any] | None) -> str:
    if not build:
        return "(none yet)"
    line = f"{build['name']} {build['status']} at {_fmt_time(build.get('stopped'))}"
    if build.get("why"):
        line += f"\n  why: {build['why']}"
    return line


def render_logs(events: list[dict[str, Any]]) -> str:
    if not events:
        return "(no lifecycle events yet)\n"
    return (
        table(
            ["time (UTC)", "source", "event", "subject", "status", "by / why"],
            [
                [
                    _fmt_time(e["time"]),
                    e["source"],
                    e["event"],
                    e["subject"],
                    e["status"],
                    _short_arn(e.get("by")) or e.get("detail"),
                ]
                for e in events
            ],
        )
        + "\n"
    )


def run_status(args: argparse.Namespace, context: Context) -> int:
    status = collect_status(context, hours=args.hours)
    if args.json:
        print(json.dumps(status, indent=2, default=str))
    else:
        sys.stdout.write(render_status(status))
    return 0


def run_logs(args: argparse.Namespace, context: Context) -> int:
    events = collect_logs(context, hours=args.hours, limit=args.limit)
    if args.json:
        print(json.dumps(events, indent=2, default=str))
    else:
        sys.stdout.write(render_logs(events))
    return 0
