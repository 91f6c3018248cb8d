"""The monthly AWS bill of the default stack against the goal, and what moves it.

The arithmetic is bench/cost_model.py (template.yaml's defaults, eu-west-1 list prices, free tier
not counted); docs/cost.md prints the same tables (`python -m bench.cost_docs --write-docs`).
Goal (issue 10): under 60 USD a month with the default parameters.

One input is measured here rather than assumed: how long a collector run lasts. The real
pipeline (feecast.ingest.pipeline.run_ingest) runs four minutes of one-a-minute runs against an
in-memory store and a blockchain.info-shaped source of synthetic transactions, on a fake clock
that advances by the assumed network latency per poll and by every sleep; the run lengths it
produces must match the model's `collector_run_seconds` (the sleeps dominate). The pipeline's own
CPU time per run (validation, deduplication, closing) is measured too.

    python -m bench cost
"""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import cost_model, cost_prices
from bench.common import measurement, result

RUNS = 4  # one-a-minute collector runs measured


def measure_collector(
    polls: int,
    interval_s: float,
    timeout_s: float,
    assumptions: cost_model.Assumptions,
    runs: int = RUNS,
) -> dict[str, Any]:
    """Run the real ingestion pipeline on a fake clock: polls, billed seconds, CPU, log bytes."""
    from feecast.ingest.pipeline import RunPlan, run_ingest
    from feecast.ingest.sources import PollResult, parse_blockchain_info
    from feecast.observability import logger

    from feecast_testing.ingest_memory import InMemoryIngestStore, InMemorySink
    from feecast_testing.synthetic import config_for, generate

    start = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    stream = sorted(
        generate(config_for(start - timedelta(minutes=5), days=(runs + 7) / 1440, seed=1)),
        key=lambda tx: tx["time"],
    )
    now = [start.timestamp()]

    class FakeClock:
        def __call__(self) -> float:
            return now[0]

    class LatestHundred:
        """blockchain.info's answer: the ~100 latest transactions at poll time, parsed for real."""

        name = "blockchain.info"

        def poll(self, poll_time: int) -> PollResult:
            # the HTTPS round trip, then the store calls for this poll's minutes
            now[0] += assumptions.poll_latency_s + assumptions.poll_processing_s
            seen = [tx for tx in stream if tx["time"] <= poll_time][-100:]
            return parse_blockchain_info(json.dumps({"txs": seen}).encode(), poll_time)

    store, sink = InMemoryIngestStore(), InMemorySink()
    source = LatestHundred()
    measured: list[dict[str, Any]] = []
    for minute in range(runs):
        scheduled = start + timedelta(minutes=minute)
        now[0] = scheduled.timestamp()
        began = now[0]
        plan = RunPlan(
            polls=polls,
            interval_seconds=interval_s,
            close_at=int(scheduled.timestamp()),
        )

        def sleeper(seconds: float) -> None:
            now[0] += seconds

        def remaining(began: float = began) -> float:
            return timeout_s - (now[0] - began)

        logs = io.StringIO()
        handler = logger.registered_handler  # Powertools bound it to stdout when created
        cpu = time.process_time()
        previous = handler.setStream(logs)
        try:
            report = run_ingest(
                source, store, sink, plan, clock=FakeClock(), sleeper=sleeper, remaining=remaining
            )
        finally:
            handler.setStream(previous)
        cpu = time.process_time() - cpu
        billed = (now[0] - began) + assumptions.close_s  # then closing the final minute
        measured.append(
            {
                "polls": report.polls,
                "polling_s": round(now[0] - began, 3),
                "billed_s": round(billed, 3),
                "cpu_ms": round(cpu * 1000, 1),
                "log_bytes": len(logs.getvalue().encode()),
                "accepted": report.accepted,
                "duplicates": report.duplicates_dropped,
                "minutes_closed": report.minutes_closed,
            }
        )
    return {
        "runs": measured,
        "polls": measured[-1]["polls"],
        "billed_s": sum(r["billed_s"] for r in measured) / len(measured),
        "cpu_ms": sum(r["cpu_ms"] for r in measured) / len(measured),
        "log_bytes": sum(r["log_bytes"] for r in measured) / len(measured),
    }


def main() -> dict[str, Any]:
    config = cost_model.load_config()
    assumptions = cost_model.Assumptions()
    default = cost_model.estimate(config=config, assumptions=assumptions)
    rows = cost_model.sensitivity()
    measured = measure_collector(
        config.polls_per_run, config.poll_interval_s, config.collector_timeout_s, assumptions
    )
    model_polls, model_s = cost_model.collector_run_seconds(
        config.polls_per_run,
        config.poll_interval_s,
        config.collector_timeout_s,
        assumptions.poll_latency_s,
        assumptions.poll_processing_s,
        assumptions.close_s,
        assumptions.collector_reserve_s,
    )
    by_name = {row["scenario"]: row for row in rows}
    measurements = [
        measurement(
            "monthly_total_defaults",
            default.total,
            "USD",
            below=cost_model.GOAL_USD,
            note=f"{config.endpoint_type} {config.instance_count} x {config.endpoint_instance_type}, "
            f"staging kept: {not config.teardown_staging}; free tier not counted",
            digits=2,
        ),
        measurement(
            "seed_system_stated",
            cost_model.SEED_USD,
            "USD",
            note="the original system, eu-west-1",
            digits=2,
        ),
        measurement("defaults_vs_seed", default.total / cost_model.SEED_USD, "x", digits=3),
    ]
    for name in (
        "Serverless + teardown",
        "EndpointType=Provisioned",
        "Provisioned + teardown",
        "Provisioned ml.c5.large + teardown",
    ):
        row = by_name[name]
        measurements.append(
            measurement(
                f"monthly_total {name}",
                row["total_usd"],
                "USD",
                note=f"{row['delta_usd']:+.2f} vs defaults; < 60: {row['under_goal']}",
                digits=2,
            )
        )
    measurements += [
        measurement(
            "collector_billed_seconds_measured",
            measured["billed_s"],
            "s",
            note=f"real pipeline, fake clock; model assumes {model_s:.2f} s",
            digits=2,
        ),
        measurement(
            "collector_model_matches_pipeline",
            abs(measured["billed_s"] - model_s) <= 0.05 * model_s
            and measured["polls"] == model_polls,
            equals=True,
            note=f"{measured['polls']} polls measured, {model_polls} modelled (within 5%)",
        ),
        measurement(
            "collector_pipeline_cpu_ms",
            measured["cpu_ms"],
            "ms",
            note=f"per run, in-memory store; model assumes "
            f"{assumptions.poll_processing_s * 1000:.0f} ms of calls per poll",
            digits=1,
        ),
        measurement(
            "collector_pipeline_log_bytes",
            measured["log_bytes"],
            "B",
            note=f"pipeline logs per run, without Lambda's START/END/REPORT and EMF; "
            f"model assumes {assumptions.collector_log_kb:g} KB in all",
            digits=0,
        ),
    ]
    return result(
        "cost",
        "Monthly AWS cost (eu-west-1, list prices, no free tier) vs the 60 USD goal",
        measurements,
        {
            "by_service": {k: round(v, 2) for k, v in default.by_service().items()},
            "itemised": [
                {
                    "service": line.service,
                    "item": line.item,
                    "quantity": round(line.quantity, 3),
                    "unit": line.unit,
                    "usd": round(line.usd, 2),
                }
                for line in default.lines
            ],
            "sensitivity": rows,
            "collector_runs": measured["runs"],
            "prices_looked_up": cost_prices.PRICES_LOOKED_UP,
            "region": cost_prices.REGION,
        },
    )


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
