"""`feecast approve | reject | rollback`: the deploy stage's operator commands (AWS credentials).

approve [ID]   list what waits for a person (model packages and deployments), or approve a
               deployment by its id
approve --package ARN|VERSION   approve a model package (this starts its deployment)
reject ID      reject a deployment (it ends cleanly, production untouched)
reject --package ARN|VERSION    reject a model package (if production serves it, the previous
               approved model comes back)
rollback       redeploy the previously approved model to production (--dry-run shows which)

They use the same library as the signed links (feecast.deploy.approvals, .rollback): an
approval is consumed once, whichever way it is decided.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from feecast_cli.context import CliError, Context, project_name
from feecast_cli.progress import human

_JSON_HELP = "print one JSON object instead of text"


def register(subparsers: Any) -> None:
    approve = subparsers.add_parser(
        "approve", help="list what waits for a person, or approve a deployment or a model package"
    )
    approve.add_argument(
        "approval_id", nargs="?", help="a deployment's id from the notification (omit to list)"
    )
    approve.add_argument(
        "--package",
        metavar="ARN|VERSION",
        help="approve this model package (starts its deployment)",
    )
    approve.add_argument("--comment", default="", help="recorded with the decision")
    approve.add_argument("--json", action="store_true", help=_JSON_HELP)
    approve.set_defaults(func=_approve)

    reject = subparsers.add_parser(
        "reject", help="reject a pending deployment (production untouched) or a model package"
    )
    reject.add_argument(
        "approval_id", nargs="?", help="the id from the notification or `feecast approve`"
    )
    reject.add_argument("--package", metavar="ARN|VERSION", help="reject this model package")
    reject.add_argument("--comment", default="", help="why (sent in the notification)")
    reject.add_argument("--json", action="store_true", help=_JSON_HELP)
    reject.set_defaults(func=_reject)

    rollback = subparsers.add_parser(
        "rollback", help="redeploy the previously approved model to production"
    )
    rollback.add_argument("--reason", default="", help="recorded and notified")
    rollback.add_argument(
        "--dry-run", action="store_true", help="show what would be deployed; change nothing"
    )
    rollback.add_argument("--json", action="store_true", help=_JSON_HELP)
    rollback.set_defaults(func=_rollback)


def _bind(context: Context) -> None:
    """Point the library's adapters at the CLI's session (profile, region, --endpoint-url)."""
    from feecast.adapters import clients

    clients.use_session(context.session, context.endpoint_url)


def _who(context: Context) -> str:
    """The caller's ARN (STS GetCallerIdentity): recorded as who decided, on AWS as on the twin."""
    try:
        return str(context.client("sts").get_caller_identity()["Arn"])
    except Exception:  # identity is informative only
        return "feecast CLI"


def _emit(args: argparse.Namespace, result: dict[str, Any], text: str) -> int:
    print(json.dumps(result, indent=2, default=str) if args.json else text)
    return 0


def _pending_text(pending: list[Any], now: datetime) -> str:
    if not pending:
        return "No deployment is waiting for approval."
    lines = []
    for a in pending:
        left = datetime.fromtimestamp(a.expires_at, UTC) - now
        lines.append(
            f"{a.approval_id}  model v{a.version}  loss {human(a.loss)}  "
            f"threshold {human(a.threshold)}  naive {human(a.baseline_loss)}  "
            f"staging {a.staging_endpoint}  expires in {int(left.total_seconds() // 60)} min"
        )
    lines.append("\nApprove with `feecast approve ID`, reject with `feecast reject ID`.")
    return "\n".join(lines)


def _decide(args: argparse.Namespace, context: Context, decision: str) -> int:
    from feecast.adapters.state_table import StateTable
    from feecast.adapters.stepfunctions import StepFunctionsTasks
    from feecast.deploy.approvals import ApprovalRefused, decide

    _bind(context)
    try:
        result = decide(
            StateTable(context.output("StateTableName")),
            StepFunctionsTasks(),
            args.approval_id,
            decision,
            by=_who(context),
            comment=args.comment,
            now=context.server_now().timestamp(),
        )
    except ApprovalRefused as exc:
        raise CliError(exc.reason) from exc
    verb = (
        "approved: production is being updated"
        if decision == "approve"
        else "rejected: the deployment ends"
    )
    return _emit(
        args,
        result.model_dump(),
        f"Model {result.model_package_arn} {verb} ({result.deployment_id}), by {result.by}.",
    )


def _decide_package(args: argparse.Namespace, context: Context, status: str) -> int:
    from feecast_cli.packages import PackageRefused, decide_package

    _bind(context)
    who = _who(context)
    try:
        result = decide_package(
            context.output("ModelPackageGroupName"),
            args.package,
            status,  # type: ignore[arg-type]
            by=who,
            comment=args.comment,
        )
    except PackageRefused as exc:
        raise CliError(str(exc)) from exc
    follows = (
        "its deployment starts (staging first)"
        if status == "Approved"
        else "it will not be deployed; if production serves it, the previous model comes back"
    )
    return _emit(
        args,
        {**result.model_dump(), "by": who},
        f"Model package v{result.version} {status.lower()} by {who}: {follows}.\n"
        f"  {result.model_package_arn}",
    )


def _packages_text(packages: list[Any]) -> str:
    if not packages:
        return "No model package is waiting for approval.\n"
    lines = [
        f"model package v{p.version}  loss {human(p.mean_wql)}  naive baseline "
        f"{human(p.baseline_wql)}  registered {str(p.created)[:19]}"
        for p in packages
    ]
    lines.append("Approve with `feecast approve --package VERSION` (starts its deployment).\n")
    return "\n".join(lines)


def _approve(args: argparse.Namespace, context: Context) -> int:
    if args.package:
        return _decide_package(args, context, "Approved")
    if not args.approval_id:
        from feecast.adapters.state_table import StateTable
        from feecast.deploy.approvals import list_pending

        from feecast_cli.packages import pending_packages

        _bind(context)
        packages = pending_packages(context.output("ModelPackageGroupName"))
        now = context.server_now()
        pending = list_pending(StateTable(context.output("StateTableName")), now=now.timestamp())
        return _emit(
            args,
            {
                "pending_packages": [p.model_dump() for p in packages],
                "pending_approvals": [a.model_dump() for a in pending],
            },
            _packages_text(packages) + "\n" + _pending_text(pending, now),
        )
    return _decide(args, context, "approve")


def _reject(args: argparse.Namespace, context: Context) -> int:
    if args.package:
        return _decide_package(args, context, "Rejected")
    if not args.approval_id:
        raise CliError("say what to reject: a deployment ID, or --package ARN|VERSION")
    return _decide(args, context, "reject")


def _rollback(args: argparse.Namespace, context: Context) -> int:
    from feecast.adapters import notify
    from feecast.adapters.sagemaker import SageMakerPackages
    from feecast.adapters.state_table import StateTable
    from feecast.adapters.stepfunctions import StepFunctionsExecutions
    from feecast.deploy import rollback
    from feecast.deploy.history import NothingToRollBackTo
    from feecast.deploy.settings import DeploySettings

    _bind(context)
    outputs = context.outputs
    table = context.output("StateTableName")
    ports = rollback.RollbackPorts(
        state=StateTable(table),
        packages=SageMakerPackages(),
        executions=StepFunctionsExecutions(),
        notifier=notify,
    )
    try:
        current, target = rollback.choose_target(ports.state, ports.packages)
    except NothingToRollBackTo as exc:
        raise CliError(str(exc)) from exc
    plan: dict[str, Any] = {
        "production_serves": current.package_arn if current else None,
        "target": target.package_arn,
        "target_deployed_at": target.deployed_at,
        "dry_run": bool(args.dry_run),
        "rollback": None,
    }
    text = (
        f"Production serves: {current.package_arn if current else 'unknown (no deployment recorded)'}\n"
        f"Rollback target:   {target.package_arn} (deployed {target.deployed_at})"
    )
    if args.dry_run:
        return _emit(args, plan, text)
    settings = DeploySettings(
        project_name=project_name(outputs),
        ssm_prefix="",
        state_table=table,
        notification_topic_arn=context.output("NotificationTopicArn"),
        model_package_group_name=context.output("ModelPackageGroupName"),
        staging_endpoint_name=outputs.get("StagingEndpointName", ""),
        production_endpoint_name=outputs.get("ProductionEndpointName", ""),
    )
    result = rollback.manual_rollback(
        reason=args.reason or f"manual rollback by {_who(context)}",
        state_machine_arn=context.output("ModelDeployStateMachineArn"),
        settings=settings,
        ports=ports,
        now=context.server_now(),  # one rollback per server minute, whoever's clock is off
    )
    plan["rollback"] = result.model_dump()
    started = (
        f"rollback started: {result.execution_name}"
        if result.started
        else f"no rollback started: {result.reason}"
    )
    return _emit(args, plan, f"{text}\n{started}")
