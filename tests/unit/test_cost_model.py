"""bench/cost_model.py (with cost_prices.py and cost_docs.py): its arithmetic on hand-computed cases, its reading of template.yaml, and
docs/cost.md staying what the model says (regenerate: python -m bench.cost_docs --write-docs)."""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest

# bench/ is a package at the repository root (`python -m bench`), not installed: import it from there.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import cost_docs, cost_prices
from bench import cost_model as cm
from bench.bench_cost import measure_collector


@pytest.fixture(scope="module")
def defaults() -> cm.StackConfig:
    return cm.load_config()


def test_docs_cost_md_tables_are_the_models_output() -> None:
    text = cost_docs.DOCS.read_text()
    blocks = cost_docs.generated_blocks()
    assert set(cost_docs.docs_blocks_in(text)) == set(blocks)
    stale = [name for name, body in cost_docs.docs_blocks_in(text).items() if body != blocks[name]]
    assert not stale, f"docs/cost.md is stale in {stale}: python -m bench.cost_docs --write-docs"
    assert cost_docs.render_docs(text, blocks) == text


def test_render_docs_refuses_unknown_and_missing_blocks() -> None:
    block = "<!-- BEGIN generated: {0} -->\nold\n<!-- END generated: {0} -->\n"
    assert cost_docs.render_docs(block.format("a"), {"a": "new"}) == block.format("a").replace(
        "old", "new"
    )
    with pytest.raises(KeyError, match="does not generate"):
        cost_docs.render_docs(block.format("b"), {"a": "new"})
    with pytest.raises(KeyError, match="lacks"):
        cost_docs.render_docs("no blocks", {"a": "new"})


def test_collector_run_seconds_by_hand() -> None:
    # 4 polls 12 s apart: the last starts at 36 s, takes 0.6 + 0.15 s, then 0.2 s to close.
    assert cm.collector_run_seconds(4, 12, 60, 0.6, 0.15, 0.2) == (4, pytest.approx(36.95))
    # 10 polls asked: none starts with less than 15 s of the 60 s left -> 0, 12, 24, 36.
    assert cm.collector_run_seconds(10, 12, 60, 0.6, 0.15, 0.2) == (4, pytest.approx(36.95))
    # No interval: back to back.
    assert cm.collector_run_seconds(3, 0, 60, 1.0, 0.0, 0.0) == (3, pytest.approx(3.0))
    # Polls slower than the interval start when the previous one is done.
    assert cm.collector_run_seconds(3, 1, 60, 2.0, 0.0, 0.0) == (3, pytest.approx(6.0))


@pytest.mark.parametrize(("polls", "interval"), [(4, 12.0), (1, 12.0), (10, 12.0), (4, 6.0)])
def test_collector_model_matches_the_real_pipeline(polls: int, interval: float) -> None:
    a = cm.Assumptions()
    measured = measure_collector(polls, interval, 60, a, runs=2)
    expected = cm.collector_run_seconds(
        polls, interval, 60, a.poll_latency_s, a.poll_processing_s, a.close_s, a.collector_reserve_s
    )
    assert (measured["polls"], measured["billed_s"]) == (expected[0], pytest.approx(expected[1]))


def test_template_defaults_are_read(defaults: cm.StackConfig) -> None:
    assert defaults.collector_memory_mb == 256 and defaults.collector_timeout_s == 60
    assert defaults.polls_per_run == int(defaults.parameters["IngestPollsPerRun"])
    assert defaults.monitored_stages == (
        "ProductionMonitoringSchedule",
        "StagingMonitoringSchedule",
    )
    assert defaults.staging_schedules == ("StagingMonitoringSchedule",)
    assert defaults.build_states[0] == "Prepare The Data"
    assert defaults.build_states[-1] == "Model Registered"
    assert defaults.deploy_states[-1] == "Deployment Succeeded"
    assert defaults.scheduled_builds_per_month == 0  # BuildScheduleState DISABLED
    torn = cm.load_config(overrides={"TeardownStagingAfterPromotion": "true"})
    assert torn.deploy_states[-2] == "Tear Down Staging"
    scheduled = cm.load_config(overrides={"BuildScheduleState": "ENABLED"})
    assert scheduled.scheduled_builds_per_month == pytest.approx(730 / (7 * 24))


def test_overrides_are_checked_like_cloudformation() -> None:
    with pytest.raises(KeyError, match="no parameter"):
        cm.load_config(overrides={"NoSuchParameter": "1"})
    with pytest.raises(ValueError, match="not one of"):
        cm.load_config(overrides={"EndpointType": "Spot"})


def _line(est: cm.Estimate, startswith: str) -> cm.Line:
    (line,) = [line for line in est.lines if line.item.startswith(startswith)]
    return line


def test_provisioned_bill_by_hand(defaults: cm.StackConfig) -> None:
    cfg = replace(
        defaults,
        endpoint_type="Provisioned",
        endpoint_instance_type="ml.m5.large",
        instance_count=1,
        teardown_staging=False,
        ingest_enabled=True,
        polls_per_run=4,
        poll_interval_s=12,
        collector_memory_mb=256,
    )
    est = cm.estimate(config=cfg, assumptions=cm.Assumptions())
    assert _line(est, "production").usd == pytest.approx(730 * 0.128)
    assert _line(est, "staging").usd == pytest.approx(730 * 0.128)
    # 43,800 runs x 36.95 s x 0.25 GB x 0.0000166667 USD
    assert _line(est, "collector").usd == pytest.approx(43_800 * 36.95 * 0.25 * 0.0000166667)
    # 4 builds x 1200 s x 0.3 (spot) at 0.461 USD/h
    assert _line(est, "DeepAR").usd == pytest.approx(4 * 1200 / 3600 * 0.3 * 0.461)
    # 6 ingest metrics all month + 6 per stage all month + 12 event metrics for 8 hours
    assert _line(est, "custom metrics").quantity == pytest.approx(6 + 12 + 12 * 8 / 730)
    assert est.total == pytest.approx(sum(line.usd for line in est.lines))
    assert sum(est.by_service().values()) == pytest.approx(est.total)


def test_serverless_and_teardown_by_hand(defaults: cm.StackConfig) -> None:
    cfg = replace(
        defaults, endpoint_type="Serverless", serverless_memory_mb=2048, teardown_staging=True
    )
    a = cm.Assumptions(builds_per_month=4, approval_wait_h=4, endpoint_update_h=0.25)
    est = cm.estimate(config=cfg, assumptions=a)
    staging_hours = 4 * (4 + 0.25)
    runs = 730 + staging_hours  # production all month, staging while it exists
    assert est.facts["monitoring_runs"] == pytest.approx(runs)
    requests = runs + 4  # one forecast per run, one smoke test per deployment
    assert _line(est, "serverless inference").usd == pytest.approx(requests * 2 * 2 * 0.0000224)
    assert not [line for line in est.lines if line.item.startswith(("production", "staging"))]
    # the monitor waits out the cold start: (8 + 30) s x 1 GB per run
    assert _line(est, "monitoring").quantity == pytest.approx(runs * 38)
    provisioned = cm.estimate(config=replace(cfg, endpoint_type="Provisioned"), assumptions=a)
    assert _line(provisioned, "staging").usd == pytest.approx(staging_hours * 0.128)


def test_every_price_is_sourced_and_every_line_priced() -> None:
    for key, p in cost_prices.PRICES.items():
        assert p.usd >= 0 and p.unit and p.source.startswith("https://"), key
        assert p.basis.startswith(("found", "assumed")), key
    for scenario in cm.SCENARIOS:
        est = cm.run_scenario(scenario)
        assert all(line.price_key in cost_prices.PRICES for line in est.lines)
        assert est.total > 0


def test_unknown_instance_type_names_the_missing_price(defaults: cm.StackConfig) -> None:
    with pytest.raises(KeyError, match=re.escape("sm_hosting:ml.p4d.24xlarge")):
        cm.estimate(
            config=replace(
                defaults, endpoint_type="Provisioned", endpoint_instance_type="ml.p4d.24xlarge"
            )
        )
