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
    approve.set_defaults(func=_approve)

    reject = subparsers.add_parser(
        "reject", help="reject a pending deployment (production untouched) or a model package"
    )
    reject.add_argument(
        "approval_id", nargs="?", help="the id from the notification or `feecast approve`"
    )
    reject.add_argument("--package", metavar="ARN|VERSION", help="reject this model package")
    reject.add_argument("--comment", default="", help="why (sent in the notification)")
    reject.set_defaults(func=_reject)

    rollback = subparsers.add_parser(
        "rollback", help="redeploy the previously approved model to production"
    )
    rollback.add_argument("--reason", default="", help="recorded and notified")
    rollback.add_argument(
        "--dry-run", action="store_true", help="show what would be deployed; change nothing"
    )
    rollback.set_defaults(func=_rollback)


def _bind(context: Context) -> None:
    """Point the library's adapters at the CLI's session (profile, region, --endpoint-url)."""
    from feecast.adapters import clients

    clients.use_session(context.session, context.endpoint_url)


def _who(context: Context) -> str:
    try:
        return str(context.client("sts").get_caller_identity()["Arn"])
    except Exception:  # identity is informative only
        return "feecast CLI"


def _print_pending(pending: list[Any], now: datetime) -> None:
    if not pending:
        print("No deployment is waiting for approval.")
        return
    for a in pending:
        left = datetime.fromtimestamp(a.expires_at, UTC) - now
        print(
            f"{a.approval_id}  model v{a.version}  loss {a.loss}  threshold {a.threshold}  "
            f"staging {a.staging_endpoint}  expires in {int(left.total_seconds() // 60)} min"
        )
    print("\nApprove with `feecast approve ID`, reject with `feecast reject ID`.")


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
    print(f"Model {result.model_package_arn} {verb} ({result.deployment_id}).")
    return 0


def _decide_package(args: argparse.Namespace, context: Context, status: str) -> int:
    from feecast_cli.packages import PackageRefused, decide_package

    _bind(context)
    try:
        result = decide_package(
            context.output("ModelPackageGroupName"),
            args.package,
            status,  # type: ignore[arg-type]
            by=_who(context),
            comment=args.comment,
        )
    except PackageRefused as exc:
        raise CliError(str(exc)) from exc
    follows = (
        "its deployment starts (staging first)"
        if status == "Approved"
        else "it will not be deployed; if production serves it, the previous model comes back"
    )
    print(f"Model package v{result.version} {status.lower()}: {follows}.")
    print(f"  {result.model_package_arn}")
    return 0


def _print_pending_packages(context: Context) -> None:
    from feecast_cli.packages import pending_packages

    packages = pending_packages(context.output("ModelPackageGroupName"))
    if not packages:
        print("No model package is waiting for approval.")
        return
    for p in packages:
        print(
            f"model package v{p.version}  loss {p.mean_wql}  naive baseline {p.baseline_wql}  "
            f"registered {p.created}"
        )
    print("Approve with `feecast approve --package VERSION` (starts its deployment).\n")


def _approve(args: argparse.Namespace, context: Context) -> int:
    if args.package:
        return _decide_package(args, context, "Approved")
    if not args.approval_id:
        from feecast.adapters.state_table import StateTable
        from feecast.deploy.approvals import list_pending

        _bind(context)
        _print_pending_packages(context)
        now = context.server_now()
        state = StateTable(context.output("StateTableName"))
        _print_pending(list_pending(state, now=now.timestamp()), now)
        return 0
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
    print(
        f"Production serves: {current.package_arn if current else 'unknown (no deployment recorded)'}"
    )
    print(f"Rollback target:   {target.package_arn} (deployed {target.deployed_at})")
    if args.dry_run:
        return 0
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
    )
    print(json.dumps(result.model_dump(), indent=2))
    return 0
