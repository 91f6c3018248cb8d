"""docs/cost.md's generated tables from the cost model (bench/cost_model.py), and its CLI.

python -m bench.cost_docs                 # the itemised table for the defaults
python -m bench.cost_docs --write-docs    # rewrite the generated tables of docs/cost.md
python -m bench.cost_docs --check-docs    # exit 1 when docs/cost.md differs from the model
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path

from bench.cost_model import (
    ASSUMPTION_NOTES,
    GOAL_USD,
    ROOT,
    SCENARIOS,
    SEED_ITEMS,
    SEED_USD,
    TEMPLATE,
    Assumptions,
    Estimate,
    estimate,
    load_config,
    run_scenario,
    sensitivity,
)
from bench.cost_prices import PRICES, REGION

DOCS = ROOT / "docs" / "cost.md"


# ------------------------------------------------------------------------------ rendering
def _usd(value: float) -> str:
    return f"{value:,.2f}"


def _qty(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def table_itemised(est: Estimate) -> str:
    rows = [
        "| service | item | quantity a month | unit price (USD) | USD a month |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for line in est.lines:
        p = PRICES[line.price_key]
        rows.append(
            f"| {line.service} | {line.item} | {_qty(line.quantity)} {line.unit} | "
            f"{p.usd:.10g} | {_usd(line.usd)} |"
        )
    rows.append(f"| **total** | | | | **{_usd(est.total)}** |")
    return "\n".join(rows)


def table_by_service(est: Estimate) -> str:
    rows = ["| service | USD a month | share |", "| --- | ---: | ---: |"]
    total = est.total
    for service, usd in est.by_service().items():
        rows.append(f"| {service} | {_usd(usd)} | {usd / total:.1%} |")
    rows.append(f"| **total** | **{_usd(total)}** | |")
    return "\n".join(rows)


def table_headline(template: Path = TEMPLATE) -> str:
    rows = ["| configuration | USD a month | goal < 60 USD |", "| --- | ---: | --- |"]
    for name in (
        "defaults (template.yaml)",
        "Serverless + teardown",
        "EndpointType=Provisioned",
        "Provisioned + teardown",
    ):
        scenario = next(s for s in SCENARIOS if s.name == name)
        total = run_scenario(scenario, template).total
        rows.append(f"| {name} | {_usd(total)} | {'met' if total < GOAL_USD else 'missed'} |")
    return "\n".join(rows)


def table_sensitivity(template: Path = TEMPLATE) -> str:
    rows = [
        "| change from the defaults | USD a month | vs defaults | < 60 USD | what it costs users |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for row in sensitivity(template):
        rows.append(
            f"| {row['scenario']} | {_usd(row['total_usd'])} | {row['delta_usd']:+,.2f} | "
            f"{'yes' if row['under_goal'] else 'no'} | {row['trade_off']} |"
        )
    return "\n".join(rows)


def table_seed(template: Path = TEMPLATE) -> str:
    rows = [
        "| seed system component | quantity a month | USD a month | feecast instead |",
        "| --- | ---: | ---: | --- |",
    ]
    itemised = 0.0
    for item in SEED_ITEMS:
        itemised += item.usd
        rows.append(
            f"| {item.component} | {_qty(item.quantity)} {item.unit} | {_usd(item.usd)} | "
            f"{item.feecast} |"
        )
    rows.append(
        f"| not itemised by its authors (Lambda, DynamoDB, Studio domain, CodePipeline/"
        f"CodeBuild, Athena, logs, Container Insights ...) | | {_usd(SEED_USD - itemised)} | |"
    )
    rows.append(f"| **stated total** | | **{_usd(SEED_USD)}** | |")
    ingest_now = sum(
        line.usd
        for line in estimate(template=template).lines
        if line.item.startswith(("collector", "IngestTable", "PutRecord", "storage (IngestTable"))
    )
    rows.append(
        f"| feecast's ingestion (collector Lambda, IngestTable, PutRecord) | | "
        f"{_usd(ingest_now)} | |"
    )
    return "\n".join(rows)


def table_assumptions() -> str:
    defaults = Assumptions()
    rows = ["| assumption | value | why |", "| --- | ---: | --- |"]
    for f in fields(Assumptions):
        rows.append(f"| `{f.name}` | {getattr(defaults, f.name):g} | {ASSUMPTION_NOTES[f.name]} |")
    return "\n".join(rows)


def table_prices() -> str:
    rows = [
        f"| price key | {REGION} price | unit | source | basis |",
        "| --- | ---: | --- | --- | --- |",
    ]
    for key, p in PRICES.items():
        rows.append(f"| `{key}` | {p.usd:.10g} | {p.unit} | {p.source} | {p.basis} |")
    return "\n".join(rows)


def table_stack(template: Path = TEMPLATE) -> str:
    cfg = load_config(template)
    est = estimate(config=cfg)
    facts = est.facts
    rows = ["| read from template.yaml | value |", "| --- | --- |"]
    shown = [
        "EndpointType",
        "EndpointInstanceType",
        "ProductionInstanceCount",
        "ServerlessMemorySizeInMB",
        "TeardownStagingAfterPromotion",
        "TrainingInstanceType",
        "TransformInstanceType",
        "UseSpotTraining",
        "TrainingMaxRuntimeSeconds",
        "BuildScheduleState",
        "BuildScheduleExpression",
        "LogRetentionDays",
        "IngestScheduleState",
        "IngestPollsPerRun",
        "IngestPollIntervalSeconds",
    ]
    for name in shown:
        rows.append(f"| {name} | {cfg.parameters[name]} |")
    rows += [
        f"| collector MemorySize / Timeout | {cfg.collector_memory_mb} MB / {cfg.collector_timeout_s} s |",
        f"| MonitorEndpointFunction MemorySize | {cfg.memory_mb['MonitorEndpointFunction']} MB |",
        f"| hourly monitoring schedules | {', '.join(cfg.monitored_stages)} |",
        f"| Lambda / state machine tracing | {cfg.lambda_tracing} / {cfg.state_machine_tracing} |",
        f"| customer managed keys, secrets, alarms, dashboards | {cfg.customer_managed_keys}, "
        f"{cfg.secrets}, {cfg.template_alarms} ({cfg.alarm_metrics} alarm metrics), "
        f"{cfg.dashboards} |",
        f"| collector run (derived) | {facts['collector_polls']:g} polls, "
        f"{facts['collector_run_s']:.2f} s billed |",
        f"| builds / deployments a month (derived) | {facts['builds']:g} / {facts['deploys']:g} |",
        f"| staging endpoint hours / monitoring runs a month (derived) | "
        f"{facts['staging_hours']:g} / {facts['monitoring_runs']:,.0f} |",
    ]
    return "\n".join(rows)


def generated_blocks(template: Path = TEMPLATE) -> dict[str, str]:
    est = estimate(template=template)
    return {
        "headline": table_headline(template),
        "stack": table_stack(template),
        "by-service": table_by_service(est),
        "itemised": table_itemised(est),
        "sensitivity": table_sensitivity(template),
        "seed": table_seed(template),
        "assumptions": table_assumptions(),
        "prices": table_prices(),
    }


_BLOCK = re.compile(
    r"(<!-- BEGIN generated: (?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- END generated: (?P=name) -->)",
    re.S,
)


def render_docs(text: str, blocks: Mapping[str, str]) -> str:
    """`text` with every generated block replaced by the model's table."""
    seen: set[str] = set()

    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in blocks:
            raise KeyError(f"docs/cost.md has a block {name!r} the model does not generate")
        seen.add(name)
        return f"{match[1]}{blocks[name]}\n{match[4]}"

    out = _BLOCK.sub(fill, text)
    missing = set(blocks) - seen
    if missing:
        raise KeyError(f"docs/cost.md lacks the generated blocks {sorted(missing)}")
    return out


def docs_blocks_in(text: str) -> dict[str, str]:
    return {m["name"]: m["body"].rstrip("\n") for m in _BLOCK.finditer(text)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write-docs", action="store_true", help="rewrite docs/cost.md's tables")
    group.add_argument("--check-docs", action="store_true", help="fail if docs/cost.md is stale")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PARAM=VALUE",
        help="a template parameter override (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.write_docs or args.check_docs:
        text = DOCS.read_text()
        new = render_docs(text, generated_blocks())
        if args.check_docs:
            if new != text:
                print(
                    "docs/cost.md differs from the model: run python -m bench.cost_docs --write-docs"
                )
                return 1
            print("docs/cost.md matches the model")
            return 0
        DOCS.write_text(new)
        print(f"wrote {DOCS.relative_to(ROOT)}")
        return 0
    overrides = dict(item.split("=", 1) for item in args.set)
    est = estimate(overrides)
    print(table_by_service(est))
    print()
    print(table_itemised(est))
    return 0


if __name__ == "__main__":
    sys.exit(main())
