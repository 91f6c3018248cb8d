"""The lifecycle dashboard (template.yaml MonitoringDashboard) shows the whole system, and every
metric it draws exists: one the product publishes (a metric name in its code, with the
dimensions it uses), or an AWS namespace metric of a resource the template creates.

The DashboardBody is substituted as CloudFormation would (default parameters, physical names =
the names the template gives) and parsed as JSON: a typo in a name, a dimension or the JSON
itself fails here instead of drawing an empty panel on AWS.
"""

from __future__ import annotations

import ast
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from feecast.deploy.endpoint_config import VARIANT_NAME

from feecast_twin.intrinsics import Resolver, load_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_yaml((ROOT / "template.yaml").read_text())
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
DEFAULTS = {name: p.get("Default") for name, p in TEMPLATE["Parameters"].items()}
REGION, ACCOUNT = "eu-west-1", "123456789012"
PROJECT = DEFAULTS["ProjectName"]
STAGES = (DEFAULTS["StagingStageName"], DEFAULTS["ProductionStageName"])

# The AWS namespace metrics the dashboard may use: the service's documented metrics, each with
# the dimension that names a resource of the template.
AWS_METRICS = {
    "AWS/States": (
        {"ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut",
         "ExecutionsAborted", "ExecutionTime"},
        "StateMachineArn",
    ),
    "AWS/SageMaker": (
        {"Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency",
         "OverheadLatency", "InvocationsPerInstance", "ModelSetupTime"},
        "EndpointName",
    ),
    "AWS/SQS": (
        {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage",
         "NumberOfMessagesSent"},
        "QueueName",
    ),
}  # fmt: skip


def _name(lid: str) -> str:
    props = RESOURCES[lid].get("Properties", {})
    for key in ("Name", "QueueName", "AlarmName", "DashboardName"):
        if key in props:
            return str(RESOLVER.resolve(props[key]))
    return lid


def _arn(lid: str) -> str:
    kind = RESOURCES[lid]["Type"]
    if kind == "AWS::Serverless::StateMachine":
        return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{_name(lid)}"
    if kind == "AWS::CloudWatch::Alarm":
        return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{_name(lid)}"
    raise KeyError(f"{lid}: no ARN modelled here")


def _ref(lid: str) -> str:
    return _arn(lid) if RESOURCES[lid]["Type"] == "AWS::Serverless::StateMachine" else _name(lid)


def _get_att(lid: str, attribute: str) -> str:
    return _arn(lid) if attribute == "Arn" else _name(lid)


RESOLVER = Resolver(
    parameters=DEFAULTS,
    pseudo={"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"},
    mappings=TEMPLATE.get("Mappings", {}),
    conditions=TEMPLATE.get("Conditions", {}),
    ref=_ref,
    get_att=_get_att,
)
BODY = json.loads(RESOLVER.resolve(RESOURCES["MonitoringDashboard"]["Properties"]["DashboardBody"]))
WIDGETS: list[dict[str, Any]] = BODY["widgets"]


def _metric_rows() -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, metric name, dimensions) of every metric drawn, SEARCH expressions included."""
    rows = []
    for widget in WIDGETS:
        for line in widget["properties"].get("metrics", []):
            if isinstance(
                line[0], dict
            ):  # [{"expression": "SEARCH('{ns,dims} MetricName=\"X\"'..."}]
                match = re.search(
                    r"SEARCH\('\{([^,}]+),([^}]*)\} MetricName=\"(\w+)\"", line[0]["expression"]
                )
                assert match, line
                keys = {k: "*" for k in match.group(2).split(",")}
                rows.append((match.group(1), match.group(3), keys))
                continue
            names = [x for x in line if not isinstance(x, dict)]
            namespace, metric, dims = names[0], names[1], names[2:]
            rows.append((namespace, metric, dict(zip(dims[::2], dims[1::2], strict=True))))
    return rows


@cache
def _names_in_product_code() -> frozenset[str]:
    """Every CamelCase string literal of the Lambda code: the metric names it can publish."""
    found = set()
    for folder in ("layers/feecast/feecast", "functions"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and re.fullmatch(r"[A-Z][a-z]+(?:[A-Z][a-z0-9]+)*", node.value)
                ):
                    found.add(node.value)
    return frozenset(found)


def _services() -> set[str]:
    return {
        str(v["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"])
        for v in RESOURCES.values()
        if "POWERTOOLS_SERVICE_NAME" in str(v.get("Properties", {}).get("Environment", {}))
    }


def test_every_project_metric_is_published_by_the_product_with_its_dimensions() -> None:
    published, services = _names_in_product_code(), _services()
    for namespace, metric, dims in _metric_rows():
        if namespace != PROJECT:
            continue
        assert metric in published, f"{metric}: no code publishes it"
        assert set(dims) in ({"service"}, {"Stage", "EndpointName"}, {"Stage", "service"}), dims
        if dims.get("service", "*") != "*":
            assert dims["service"] in services, dims
        if "Stage" in dims and dims["Stage"] != "*":
            assert dims["Stage"] in STAGES and dims["EndpointName"] == f"{PROJECT}-{dims['Stage']}"


def test_every_aws_metric_is_of_a_resource_in_the_template() -> None:
    machines = {
        _arn(lid) for lid, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::StateMachine"
    }
    queues = {_name(lid) for lid, r in RESOURCES.items() if r["Type"] == "AWS::SQS::Queue"}
    endpoints = {f"{PROJECT}-{stage}" for stage in STAGES}
    resources = {"StateMachineArn": machines, "QueueName": queues, "EndpointName": endpoints}
    for namespace, metric, dims in _metric_rows():
        if namespace == PROJECT:
            continue
        assert namespace in AWS_METRICS, f"{namespace}: not a namespace this stack has"
        known, key = AWS_METRICS[namespace]
        assert metric in known, f"{namespace} {metric}"
        assert dims[key] in resources[key], f"{namespace} {metric}: {dims[key]} is not ours"
        if namespace == "AWS/SageMaker":
            assert dims == {"EndpointName": dims["EndpointName"], "VariantName": VARIANT_NAME}


def test_the_dashboard_shows_the_whole_system() -> None:
    rows = _metric_rows()
    drawn = {(ns, m, tuple(sorted(d.items()))) for ns, m, d in rows}
    names = {(ns, m) for ns, m, _ in rows}
    # ingestion rate and source errors
    assert {(PROJECT, "TransactionsPolled"), (PROJECT, "SourceErrors")} <= names
    # builds started / succeeded / failed
    assert {("AWS/States", f"Executions{s}") for s in ("Started", "Succeeded", "Failed")} <= names
    # every stage's endpoint: invocations, latency, errors
    for stage in STAGES:
        for metric in ("Invocations", "ModelLatency", "Invocation4XXErrors", "Invocation5XXErrors"):
            dims = (("EndpointName", f"{PROJECT}-{stage}"), ("VariantName", VARIANT_NAME))
            assert ("AWS/SageMaker", metric, dims) in drawn, (stage, metric)
        # the loss against its threshold and against naive
        for metric in ("WeightedQuantileLoss", "Threshold", "BaselineWeightedQuantileLoss"):
            dims = (("EndpointName", f"{PROJECT}-{stage}"), ("Stage", stage))
            assert (PROJECT, metric, dims) in drawn, (stage, metric)
    # every dead-letter queue of the template
    dlqs = {
        _name(lid)
        for lid, r in RESOURCES.items()
        if r["Type"] == "AWS::SQS::Queue" and "dlq" in _name(lid)
    }
    assert dlqs and all(
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", (("QueueName", q),)) in drawn
        for q in dlqs
    )


def test_widgets_fit_the_grid_and_do_not_overlap() -> None:
    cells: set[tuple[int, int]] = set()
    for widget in WIDGETS:
        x, y, w, h = (widget[k] for k in ("x", "y", "width", "height"))
        assert x >= 0 and x + w <= 24, widget["properties"].get("title")
        mine = {(i, j) for i in range(x, x + w) for j in range(y, y + h)}
        assert not mine & cells, widget["properties"].get("title")
        cells |= mine


def test_the_checks_are_not_vacuous() -> None:
    assert "ModelsRejected" in _names_in_product_code()
    assert "ModelsRejectd" not in _names_in_product_code()
    assert len(_metric_rows()) >= 30
