"""`feecast teardown`: remove what feecast created at run time, before `sam delete`.

    feecast teardown [--yes] [--json]

The deploy and monitoring stages create resources outside the stack, which `sam delete` does
not know about and which keep billing (a provisioned endpoint costs by the hour):
- running build and deployment executions (stopped first: they would create more);
- the stage endpoints (`<project>-<stage>`) and the endpoint configurations and models the
  deployments and builds created.
The accuracy alarms are the stack's (template.yaml): `sam delete` removes them.
Everything is found from the stack's Outputs and by name and tag: a config or model is the
project's when its name starts with `<project>-` and its `feecast:*` tags tie it to this
project (the package group, the build execution, or `feecast:project`), so a neighbour named
`<project>-x` is left alone. It lists what it will delete and asks; `--yes` skips the
question (scripts). Then it says how to delete the stack and what the stack keeps on purpose
(docs/aws-first-run.md, Teardown).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from feecast_cli.context import CliError, Context, project_name

STAGE_OUTPUTS = ("StagingEndpointName", "ProductionEndpointName")


@dataclass
class Plan:
    executions: list[str] = field(default_factory=list)  # execution ARNs
    endpoints: list[str] = field(default_factory=list)
    endpoint_configs: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)

    def size(self) -> int:
        return sum(len(v) for v in asdict(self).values())

    def lines(self) -> list[str]:
        out = []
        for kind, names in asdict(self).items():
            for name in names:
                out.append(f"  {kind.replace('_', ' ')[:-1]:<16} {name}")
        return out


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "teardown",
        help="delete what feecast created at run time (endpoints, configs, models) "
        "before `sam delete`",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("--yes", action="store_true", help="do not ask (for scripts)")
    parser.add_argument("--json", action="store_true", help="print the plan and result as JSON")
    parser.set_defaults(func=run_teardown)


def run_teardown(args: argparse.Namespace, context: Context) -> int:
    # The stream as the command starts: deleting endpoints sets off Lambda functions (on the
    # twin, in this process), and what the command says must not follow their output.
    out = sys.stdout
    outputs = context.outputs
    project = project_name(outputs)
    plan = make_plan(context, project, outputs)
    if not args.json:
        if plan.size():
            print(
                f"feecast teardown of stack {context.stack_name!r} (project {project}) deletes:",
                file=out,
            )
            print("\n".join(plan.lines()), file=out)
        else:
            print(f"Nothing created at run time is left for project {project}.", file=out)
    if plan.size() and not args.yes:
        if not sys.stdin.isatty():
            raise CliError("not asking without a terminal: pass --yes to delete")
        print(f"Delete these {plan.size()} resources? [y/N] ", end="", file=out, flush=True)
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            print("Nothing deleted.", file=out)
            return 1
    done = execute(context, plan)
    if args.json:
        print(json.dumps({"plan": asdict(plan), "deleted": done}, indent=2), file=out)
    else:
        if plan.size():
            print(f"Deleted {sum(len(v) for v in done.values())} resources.", file=out)
        print(next_steps(context, outputs), file=out)
    return 0


# ---------------------------------------------------------------------------------- the plan
def make_plan(context: Context, project: str, outputs: dict[str, str]) -> Plan:
    sm = context.client("sagemaker")
    plan = Plan()
    sfn = context.client("stepfunctions")
    for key in ("ModelBuildStateMachineArn", "ModelDeployStateMachineArn"):
        arn = outputs.get(key)
        if arn:
            for page in sfn.get_paginator("list_executions").paginate(
                stateMachineArn=arn, statusFilter="RUNNING"
            ):
                plan.executions += [e["executionArn"] for e in page.get("executions", [])]
    for key in STAGE_OUTPUTS:
        name = outputs.get(key)
        if name and _exists(lambda n=name: sm.describe_endpoint(EndpointName=n)):
            plan.endpoints.append(name)
    group = outputs.get("ModelPackageGroupName", f"{project}-models")
    endpoints = [outputs[k] for k in STAGE_OUTPUTS if outputs.get(k)]
    prefix = f"{project}-"
    for page in sm.get_paginator("list_endpoint_configs").paginate(NameContains=project):
        for config in page.get("EndpointConfigs", []):
            name, arn = config["EndpointConfigName"], config["EndpointConfigArn"]
            if name.startswith(prefix) and _owned(sm, arn, name, project, group, endpoints):
                plan.endpoint_configs.append(name)
    for page in sm.get_paginator("list_models").paginate(NameContains=project):
        for model in page.get("Models", []):
            name, arn = model["ModelName"], model["ModelArn"]
            if name.startswith(prefix) and _owned(sm, arn, name, project, group, endpoints):
                plan.models.append(name)
    return plan


def _exists(describe: Any) -> bool:
    try:
        describe()
    except ClientError as exc:
        if "not find" in str(exc).lower() or "does not exist" in str(exc).lower():
            return False
        raise
    return True


def _owned(sm: Any, arn: str, name: str, project: str, group: str, endpoints: list[str]) -> bool:
    """The resource's feecast tags tie it to this project (docs above)."""
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn).get("Tags", [])}
    if tags.get("feecast:project") == project:
        return True
    package = tags.get("feecast:package", "")
    if f":model-package/{group}/" in package:
        return True
    build = tags.get("feecast:build")
    # Build models are named <project>-<execution name>-<hash> (feecast.build.layout).
    if build and name.startswith(f"{project}-{build}"[:63]):
        return True
    # Endpoint configs made before the project tag: <endpoint>-v<version>-<stamp>.
    return any(name.startswith(f"{endpoint}-v") for endpoint in endpoints)


# ---------------------------------------------------------------------------------- deleting
def execute(context: Context, plan: Plan) -> dict[str, list[str]]:
    """Delete in dependency order; what is already gone counts as deleted."""
    sm = context.client("sagemaker")
    sfn = context.client("stepfunctions")
    done: dict[str, list[str]] = {k: [] for k in asdict(plan)}
    for arn in plan.executions:
        # A running deployment would create an endpoint again; a build, a training job.
        _tolerant(lambda a=arn: sfn.stop_execution(executionArn=a, cause="feecast teardown"))
        done["executions"].append(arn)
    for name in plan.endpoints:
        _tolerant(lambda n=name: sm.delete_endpoint(EndpointName=n))
        done["endpoints"].append(name)
    for name in plan.endpoint_configs:
        _tolerant(lambda n=name: sm.delete_endpoint_config(EndpointConfigName=n))
        done["endpoint_configs"].append(name)
    for name in plan.models:
        _tolerant(lambda n=name: sm.delete_model(ModelName=n))
        done["models"].append(name)
    return done


def _tolerant(call: Any) -> None:
    try:
        call()
    except ClientError as exc:
        message = str(exc).lower()
        if not ("not find" in message or "does not exist" in message or "not exist" in message):
            raise


def next_steps(context: Context, outputs: dict[str, str]) -> str:
    region = f" --region {context.region}" if context.region else ""
    bucket = outputs.get("ArtifactBucketName", "<ArtifactBucketName>")
    group = outputs.get("ModelPackageGroupName", "<project>-models")
    table = outputs.get("StateTableName", "<StateTableName>")
    return "\n".join(
        [
            "",
            "Now delete the stack:",
            f"  sam delete --stack-name {context.stack_name}{region}",
            "",
            "The stack keeps on purpose (your data and models; docs/aws-first-run.md, Teardown):",
            f"  the artifact bucket {bucket} and the access-log bucket (versioned: empty every",
            "    version first, e.g. in the S3 console's Empty button), then delete them;",
            f"  the StateTable {table} (aws dynamodb delete-table --table-name {table});",
            f"  the model registry {group}: delete each package, then the group",
            f"    (aws sagemaker delete-model-package-group --model-package-group-name {group}).",
        ]
    )
