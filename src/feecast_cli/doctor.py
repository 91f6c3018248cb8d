"""`feecast doctor`: what usually stops a first run on AWS, checked before and after `sam deploy`.

    feecast doctor [--json] [--parameter Name=Value ...] [--template template.yaml]

One line per check, `OK`, `WARN` or `FAIL`, and exit status 1 when anything FAILs. Before the
stack exists it checks the account against the template's defaults (or `--parameter`
overrides): credentials, the region (DeepAR image, Serverless Inference), the SageMaker quotas
the configured instance types and serverless concurrency need, Lambda's concurrency, and
leftovers of an earlier stack that would make `sam deploy` fail (a retained model package group,
a secret awaiting deletion). Once deployed it also checks the stack's status and outputs, and
that the monitoring schedules, the accuracy alarms and the endpoints agree. Works against the
twin too (`--endpoint-url`); what the twin does not emulate (Service Quotas, Lambda account
settings) is reported as "not available here", never guessed. docs/aws-first-run.md explains
every check and what to do about it.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from feecast_cli.context import NO_CREDENTIALS, CliError, Context

OK, WARN, FAIL = "OK", "WARN", "FAIL"
STAGES = ("staging", "production")
# The outputs the operator commands read (feecast status, build, approve, teardown, doctor).
REQUIRED_OUTPUTS = (
    "ProjectName",
    "StateTableName",
    "ModelBuildStateMachineArn",
    "ModelDeployStateMachineArn",
    "ModelPackageGroupName",
    "StagingEndpointName",
    "ProductionEndpointName",
    "ValidationParameterName",
    "NotificationTopicArn",
    "AccuracyAlarmNames",
    "MonitorEndpointFunctionName",
    "FeatureGroupName",
)
# Service Quotas names of the SageMaker quotas feecast needs (Service Quotas console, SageMaker).
SERVERLESS_CONCURRENCY = (
    "Maximum total concurrency that can be allocated across all serverless endpoints"
)
LAMBDA_CONCURRENCY_WARN_BELOW = 100  # new accounts start at 10
_NOT_HERE = (ClientError, BotoCoreError, NotImplementedError)
DEFAULT_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@dataclass(frozen=True)
class Check:
    status: str
    name: str
    detail: str


# ---------------------------------------------------------------------------------- parsing
def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check the account and the stack for what usually stops a first run (OK/WARN/FAIL)",
        description=__doc__.split("\n\n")[2] if __doc__ else None,
    )
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a template parameter as you will deploy it (before `sam deploy`; repeatable)",
    )
    parser.add_argument(
        "--template",
        type=Path,
        default=DEFAULT_TEMPLATE if DEFAULT_TEMPLATE.exists() else None,
        help="template.yaml (defaults, DeepAR images per region; default: this repository's)",
    )
    parser.set_defaults(func=run_doctor)


def run_doctor(args: argparse.Namespace, context: Context) -> int:
    overrides = {}
    for item in args.parameter:
        name, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"--parameter {item!r}: expected NAME=VALUE")
        overrides[name] = value
    out = sys.stdout  # as the command starts (see teardown.py)
    checks = diagnose(context, template_path=args.template, overrides=overrides)
    if args.json:
        print(json.dumps([asdict(c) for c in checks], indent=2), file=out)
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            print(f"{c.status:<4}  {c.name:<{width}}  {c.detail}", file=out)
        fails = sum(c.status == FAIL for c in checks)
        warns = sum(c.status == WARN for c in checks)
        print(
            f"\n{len(checks)} checks: {fails} FAIL, {warns} WARN (docs/aws-first-run.md)", file=out
        )
    return 1 if any(c.status == FAIL for c in checks) else 0


# ---------------------------------------------------------------------------------- the checks
def diagnose(
    context: Context, *, template_path: Path | None, overrides: dict[str, str]
) -> list[Check]:
    template = _load_template(template_path)
    checks: list[Check] = []
    identity = _credentials(context, checks)
    if identity is None:
        return checks  # nothing else can be asked without credentials
    region = context.client("sts").meta.region_name
    stack = _stack(context, checks)
    params = _parameters(template, stack, overrides, checks)
    project = (stack or {}).get("outputs", {}).get("ProjectName") or params.get(
        "ProjectName", "feecast"
    )
    _region(template, region, params, checks)
    quotas = _sagemaker_quotas(context, checks)
    if quotas is not None:
        checks += quota_checks(params, quotas)
    _lambda_concurrency(context, checks)
    if stack is None:
        checks += _leftovers(context, project)
        return checks
    outputs = stack["outputs"]
    checks += _monitoring_agrees(context, project, outputs, params)
    checks += _notifications(context, outputs)
    return checks


def _load_template(path: Path | None) -> dict[str, Any]:
    if path is None or not path.exists():
        return {}
    from feecast_twin.intrinsics import load_yaml

    return dict(load_yaml(path.read_text()))


def _credentials(context: Context, checks: list[Check]) -> dict[str, Any] | None:
    try:
        identity = dict(context.client("sts").get_caller_identity())
    except NoCredentialsError:
        checks.append(Check(FAIL, "credentials", NO_CREDENTIALS))
        return None
    except ClientError as exc:
        checks.append(Check(FAIL, "credentials", f"refused: {exc}"))
        return None
    checks.append(
        Check(OK, "credentials", f"account {identity.get('Account')} as {identity.get('Arn')}")
    )
    return identity


def _stack(context: Context, checks: list[Check]) -> dict[str, Any] | None:
    cfn = context.client("cloudformation")
    try:
        (stack,) = cfn.describe_stacks(StackName=context.stack_name)["Stacks"]
    except ClientError as exc:
        if "does not exist" not in str(exc):
            raise
        checks.append(
            Check(
                WARN,
                "stack",
                f"{context.stack_name!r} is not deployed yet: checking the account against the "
                "template's parameters; run `sam deploy --guided`, then `feecast doctor` again",
            )
        )
        return None
    status = str(stack.get("StackStatus", "CREATE_COMPLETE"))
    if status.endswith("_COMPLETE") and "ROLLBACK" not in status and "DELETE" not in status:
        checks.append(Check(OK, "stack", f"{context.stack_name} {status}"))
    elif status.endswith("_IN_PROGRESS"):
        checks.append(Check(WARN, "stack", f"{context.stack_name} {status}: run again when done"))
    else:
        checks.append(
            Check(FAIL, "stack", f"{context.stack_name} {status}: see the stack's events")
        )
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = [k for k in REQUIRED_OUTPUTS if k not in outputs]
    checks.append(
        Check(FAIL, "outputs", f"missing {', '.join(missing)}: redeploy this version")
        if missing
        else Check(OK, "outputs", f"all {len(REQUIRED_OUTPUTS)} the commands read")
    )
    parameters = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
    return {"outputs": outputs, "parameters": parameters, "status": status}


def _parameters(
    template: dict[str, Any],
    stack: dict[str, Any] | None,
    overrides: dict[str, str],
    checks: list[Check],
) -> dict[str, str]:
    defaults = {
        name: str(p.get("Default", "")) for name, p in (template.get("Parameters") or {}).items()
    }
    deployed = {k: str(v) for k, v in ((stack or {}).get("parameters") or {}).items()}
    source = "the stack" if deployed else "the template's defaults"
    if overrides:
        source += " and --parameter"
    unknown = sorted(set(overrides) - set(defaults)) if defaults else []
    if unknown:
        checks.append(Check(FAIL, "parameters", f"not template parameters: {', '.join(unknown)}"))
    params = {**defaults, **deployed, **overrides}
    shown = ", ".join(
        f"{k}={params[k]}"
        for k in ("EndpointType", "TrainingInstanceType", "UseSpotTraining", "EndpointInstanceType")
        if k in params
    )
    checks.append(Check(OK, "parameters", f"from {source}: {shown}"))
    return params


def _region(
    template: dict[str, Any], region: str, params: dict[str, str], checks: list[Check]
) -> None:
    images = (template.get("Mappings") or {}).get("DeepARImage") or {}
    if not images:
        checks.append(Check(WARN, "region", f"{region}: no template to look the DeepAR image up"))
    elif region in images:
        checks.append(
            Check(OK, "region", f"{region} has the built-in DeepAR image {images[region]['Image']}")
        )
    else:
        checks.append(
            Check(
                FAIL,
                "region",
                f"{region} has no built-in DeepAR image (template Mappings.DeepARImage): deploy "
                f"to one of {len(images)} regions that have it, e.g. eu-west-1 or us-east-1",
            )
        )


def _list_quotas(client: Any, operation: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for page in client.get_paginator(operation).paginate(ServiceCode="sagemaker"):
        for quota in page.get("Quotas", []):
            found[str(quota["QuotaName"])] = float(quota.get("Value", 0))
    return found


def _sagemaker_quotas(context: Context, checks: list[Check]) -> dict[str, tuple[float, str]] | None:
    """Quota name -> (value, "applied" | "default"), from Service Quotas; None when it cannot
    be read (reported as WARN: the twin does not emulate Service Quotas)."""
    client = context.client("service-quotas")
    try:
        defaults = _list_quotas(client, "list_aws_default_service_quotas")
        applied = _list_quotas(client, "list_service_quotas")
    except _NOT_HERE as exc:
        checks.append(
            Check(
                WARN,
                "quotas",
                f"not available here ({type(exc).__name__}: {str(exc)[:120]}); check the "
                "SageMaker quotas named in docs/aws-first-run.md in the Service Quotas console",
            )
        )
        return None
    quotas = {name: (value, "default") for name, value in defaults.items()}
    quotas.update({name: (value, "applied") for name, value in applied.items()})
    return quotas


def quota_checks(params: dict[str, str], quotas: dict[str, tuple[float, str]]) -> list[Check]:
    """What the configured types and concurrency need against the account's quotas (pure)."""
    spot = params.get("UseSpotTraining", "true") == "true"
    needs: list[tuple[str, str, float, str]] = [
        (
            "quota training",
            f"{params.get('TrainingInstanceType', 'ml.c5.2xlarge')} for "
            f"{'spot ' if spot else ''}training job usage",
            1,
            "one training job per build",
        ),
        (
            "quota transform",
            f"{params.get('TransformInstanceType', 'ml.m5.large')} for transform job usage",
            1,
            "one transform job per build",
        ),
    ]
    if params.get("EndpointType", "Serverless") == "Serverless":
        concurrency = int(params.get("ServerlessMaxConcurrency", "5"))
        needs.append(
            (
                "quota serverless",
                SERVERLESS_CONCURRENCY,
                2 * concurrency,
                f"two endpoints x ServerlessMaxConcurrency {concurrency}",
            )
        )
    else:
        count = int(params.get("ProductionInstanceCount", "1"))
        needs.append(
            (
                "quota endpoints",
                f"{params.get('EndpointInstanceType', 'ml.m5.large')} for endpoint usage",
                count + 1,
                f"production {count} + staging 1 instance(s)",
            )
        )
    checks = []
    for name, quota, needed, why in needs:
        if quota not in quotas:
            status = WARN
            if name == "quota serverless":
                detail = (
                    f"Service Quotas lists no {quota!r} in this region: Serverless Inference may "
                    "not be offered here; use EndpointType=Provisioned"
                )
            else:
                detail = f"Service Quotas lists no {quota!r}: is the instance type offered here?"
            checks.append(Check(status, name, detail))
            continue
        value, kind = quotas[quota]
        if value >= needed:
            checks.append(Check(OK, name, f"{quota}: {value:g} ({kind}) >= {needed:g} ({why})"))
        else:
            checks.append(
                Check(
                    FAIL,
                    name,
                    f"{quota}: {value:g} ({kind}) < {needed:g} ({why}): request an increase in "
                    "Service Quotas, or choose another instance type / a lower concurrency",
                )
            )
    return checks


def _lambda_concurrency(context: Context, checks: list[Check]) -> None:
    try:
        limit = context.client("lambda").get_account_settings()["AccountLimit"]
    except _NOT_HERE as exc:
        checks.append(
            Check(WARN, "lambda concurrency", f"not available here ({type(exc).__name__})")
        )
        return
    concurrent = int(limit.get("ConcurrentExecutions", 0))
    if concurrent < LAMBDA_CONCURRENCY_WARN_BELOW:
        checks.append(
            Check(
                WARN,
                "lambda concurrency",
                f"{concurrent} concurrent executions for the account (new accounts start at "
                "10): enough for feecast, which reserves none; ask for more if other work runs",
            )
        )
    else:
        checks.append(Check(OK, "lambda concurrency", f"{concurrent} concurrent executions"))


def _leftovers(context: Context, project: str) -> list[Check]:
    """Names a new stack needs that a deleted one left behind (retained or awaiting deletion)."""
    checks = []
    sm = context.client("sagemaker")
    group = f"{project}-models"
    try:
        sm.describe_model_package_group(ModelPackageGroupName=group)
        checks.append(
            Check(
                FAIL,
                "leftover registry",
                f"model package group {group} exists (kept by an earlier stack): the stack "
                "cannot create it. Delete its packages and the group (docs/aws-first-run.md, "
                "Teardown) or choose another ProjectName",
            )
        )
    except ClientError:
        checks.append(Check(OK, "leftover registry", f"no model package group {group} yet"))
    secret = f"{project}/approval-link-key"
    try:
        description = context.client("secretsmanager").describe_secret(SecretId=secret)
        if description.get("DeletedDate"):
            checks.append(
                Check(
                    FAIL,
                    "leftover secret",
                    f"secret {secret} awaits deletion: its name is taken until then. `aws "
                    f"secretsmanager delete-secret --secret-id {secret} "
                    "--force-delete-without-recovery`, or choose another ProjectName",
                )
            )
        else:
            checks.append(
                Check(FAIL, "leftover secret", f"secret {secret} exists outside a stack: delete it")
            )
    except ClientError:
        checks.append(Check(OK, "leftover secret", f"no secret {secret}"))
    return checks


def _describe_endpoint(sm: Any, name: str) -> dict[str, Any] | None:
    try:
        return dict(sm.describe_endpoint(EndpointName=name))
    except ClientError as exc:
        if "not find" in str(exc).lower() or "does not exist" in str(exc).lower():
            return None
        raise


def _monitoring_agrees(
    context: Context, project: str, outputs: dict[str, str], params: dict[str, str]
) -> list[Check]:
    """Schedules and accuracy alarms (the template's) and endpoints."""
    checks = []
    sm = context.client("sagemaker")
    cw = context.client("cloudwatch")
    scheduler = context.client("scheduler")
    function = outputs.get("MonitorEndpointFunctionName", "")
    threshold = _threshold(context, outputs)
    for stage, key in zip(STAGES, ("StagingEndpointName", "ProductionEndpointName"), strict=True):
        endpoint_name = outputs.get(key, f"{project}-{stage}")
        schedule_name = f"{project}-{stage}-monitoring"
        try:
            schedule = scheduler.get_schedule(Name=schedule_name)
            target = str(schedule.get("Target", {}).get("Arn", ""))
            if schedule.get("State") != "ENABLED":
                checks.append(
                    Check(
                        FAIL,
                        f"schedule {stage}",
                        f"{schedule_name} is {schedule.get('State')}: no hourly accuracy run. "
                        "The template owns its state: `sam deploy` sets it ENABLED again",
                    )
                )
            elif function and not target.endswith(f":function:{function}"):
                checks.append(
                    Check(
                        FAIL,
                        f"schedule {stage}",
                        f"{schedule_name} targets {target}, not {function}",
                    )
                )
            else:
                checks.append(
                    Check(OK, f"schedule {stage}", f"{schedule_name} ENABLED -> {function}")
                )
        except ClientError as exc:
            checks.append(Check(FAIL, f"schedule {stage}", f"{schedule_name}: {exc}"))
        endpoint = _describe_endpoint(sm, endpoint_name)
        alarm_name = f"{project}-{stage}-accuracy"
        alarms = cw.describe_alarms(AlarmNames=[alarm_name]).get("MetricAlarms", [])
        alarm = alarms[0] if alarms else None
        checks += _endpoint_and_alarm(stage, endpoint_name, endpoint, alarm_name, alarm, threshold)
        if endpoint is not None and endpoint.get("EndpointStatus") == "InService":
            checks += _endpoint_type(sm, stage, endpoint, params)
    return checks


def _threshold(context: Context, outputs: dict[str, str]) -> float | None:
    name = outputs.get("ValidationParameterName")
    if not name:
        return None
    try:
        value = context.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
        return float(json.loads(value)["threshold"])
    except (ClientError, ValueError, KeyError, TypeError):
        return None


def _endpoint_and_alarm(
    stage: str,
    endpoint_name: str,
    endpoint: dict[str, Any] | None,
    alarm_name: str,
    alarm: dict[str, Any] | None,
    threshold: float | None,
) -> list[Check]:
    name = f"monitoring {stage}"
    if endpoint is None:
        # The alarm is the template's, so it exists (actions enabled) before any endpoint; it
        # can start a build only from ALARM.
        if (
            alarm is not None
            and alarm.get("ActionsEnabled", True)
            and alarm.get("StateValue") == "ALARM"
        ):
            return [
                Check(
                    WARN,
                    name,
                    f"{endpoint_name} does not exist but {alarm_name} is in ALARM with its "
                    "actions enabled (its DELETING event was not handled: see the monitoring DLQ)",
                )
            ]
        return [Check(OK, name, f"no {endpoint_name}; nothing to monitor (runs are skipped)")]
    status = str(endpoint.get("EndpointStatus"))
    if status == "Failed":
        return [Check(FAIL, name, f"{endpoint_name} Failed: {endpoint.get('FailureReason')}")]
    if status != "InService":
        return [Check(WARN, name, f"{endpoint_name} is {status}: run again when it settles")]
    if alarm is None:
        return [
            Check(
                FAIL,
                name,
                f"{endpoint_name} is InService but has no {alarm_name}: it was deleted by hand "
                "(the template makes it: `sam deploy` restores it)",
            )
        ]
    if not alarm.get("ActionsEnabled", True):
        return [
            Check(
                FAIL,
                name,
                f"{alarm_name} has its actions disabled: no retraining (its IN_SERVICE event "
                "was not handled: see the monitoring DLQ; docs/operations.md)",
            )
        ]
    # The alarm compares the rolling loss with the threshold each hourly run publishes from SSM.
    told = f"threshold {threshold:g} in SSM, published hourly" if threshold is not None else "armed"
    return [Check(OK, name, f"{endpoint_name} InService, {alarm_name} armed ({told})")]


def _endpoint_type(
    sm: Any, stage: str, endpoint: dict[str, Any], params: dict[str, str]
) -> list[Check]:
    from feecast.adapters.sagemaker import SageMakerEndpoints
    from feecast.deploy.endpoint_config import endpoint_type_of

    running = endpoint_type_of(SageMakerEndpoints(sm), endpoint)
    wanted = params.get("EndpointType")
    if running is None or wanted is None or running == wanted:
        return []
    what = (
        "the next deployment recreates it"
        if stage == "staging"
        else "deployments to production stop until it is switched (docs/aws-first-run.md, "
        "Switching the endpoint type)"
    )
    return [
        Check(
            WARN,
            f"endpoint type {stage}",
            f"{endpoint['EndpointName']} is {running}, the stack says {wanted}: {what}",
        )
    ]


def _notifications(context: Context, outputs: dict[str, str]) -> list[Check]:
    topic = outputs.get("NotificationTopicArn")
    if not topic:
        return []
    sns = context.client("sns")
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic).get("Subscriptions", [])
    pending = [s for s in subscriptions if s.get("SubscriptionArn") == "PendingConfirmation"]
    if pending:
        return [
            Check(
                WARN,
                "notifications",
                f"{len(pending)} subscription(s) wait for confirmation: open the mail from AWS "
                "Notifications and confirm, or approvals never reach you",
            )
        ]
    if not subscriptions:
        return [
            Check(
                WARN,
                "notifications",
                "nobody subscribes to the topic: set NotificationEmail, or subscribe yourself "
                f"to {topic}",
            )
        ]
    return [Check(OK, "notifications", f"{len(subscriptions)} subscription(s) on the topic")]
