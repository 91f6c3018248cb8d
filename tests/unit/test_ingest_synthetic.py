"""The synthetic stream generator: format, seeding, arrivals, tails, regimes, duplicates."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from feecast.ingest.sources import BlockchainInfoTx

from feecast_testing.synthetic import SyntheticConfig, config_for, generate, write_jsonl

START = datetime(2026, 1, 5, tzinfo=UTC)
CALM = {"bursts_per_day": 0.0, "daily_rate_amplitude": 0.0, "daily_fee_amplitude": 0.0}


def test_lines_are_valid_blockchain_info_transactions_and_the_same_seed_gives_the_same_stream(
    tmp_path: Path,
):
    config = config_for(START, 0.01, seed=3, rate_per_second=2)
    path = tmp_path / "s.jsonl"
    lines = write_jsonl(path, config)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == len(rows) > 0
    for row in rows:
        tx = BlockchainInfoTx.model_validate(row)
        assert tx.size <= tx.weight <= 4 * tx.size
    assert list(itertools.islice(generate(config), 50)) == rows[:50]
    other = config_for(START, 0.01, seed=4, rate_per_second=2)
    assert list(itertools.islice(generate(other), 5)) != rows[:5]


def test_arrivals_follow_the_rate_and_fees_have_a_heavy_tail():
    rows = list(generate(config_for(START, 2 / 24, seed=1, rate_per_second=2.0, **CALM)))
    assert abs(len(rows) / (2 * 3600) - 2.0) < 0.1
    fee_rates = np.array([row["fee"] / (row["weight"] / 4) for row in rows])
    assert np.percentile(fee_rates, 99.9) > 10 * np.median(fee_rates)


def test_a_regime_change_multiplies_fees_from_its_time_on():
    change = START + timedelta(hours=1)
    rows = list(
        generate(
            config_for(
                START,
                2 / 24,
                seed=2,
                rate_per_second=1,
                regime_change_at=change,
                fee_multiplier=3.0,
                **CALM,
            )
        )
    )
    before = np.median([r["fee"] for r in rows if r["time"] < change.timestamp()])
    after = np.median([r["fee"] for r in rows if r["time"] >= change.timestamp()])
    assert 2.4 < after / before < 3.6


def test_the_daily_cycle_and_bursts_move_the_rate():
    rows = list(generate(config_for(START, 1, seed=5, rate_per_second=1, bursts_per_day=0.0)))
    per_hour = np.bincount([(r["time"] // 3600) % 24 for r in rows], minlength=24)
    assert per_hour[15] > 1.4 * per_hour[3]  # peak hour vs trough
    bursty = SyntheticConfig(
        start=START,
        duration=timedelta(days=1),
        seed=5,
        rate_per_second=1,
        bursts_per_day=12,
        burst_fee_multiplier=5,
        **{k: v for k, v in CALM.items() if k != "bursts_per_day"},
    )
    fees = np.array([r["fee"] for r in generate(bursty)])
    assert fees.mean() > 1.3 * np.array([r["fee"] for r in rows]).mean()


def test_duplicates_and_disorder_are_emitted_as_a_poller_would_see_them():
    config = config_for(
        START,
        0.05,
        seed=9,
        rate_per_second=2,
        duplicate_fraction=0.2,
        max_disorder_seconds=20,
        **CALM,
    )
    rows = list(generate(config))
    hashes = [r["hash"] for r in rows]
    share = 1 - len(set(hashes)) / len(hashes)
    assert 0.12 < share < 0.22
    times = [r["time"] for r in rows]
    assert times != sorted(times)
    # Never more than the disorder + re-poll delay behind the newest time already emitted.
    newest = np.maximum.accumulate(times)
    assert max(newest - np.array(times)) <= 20 + 60


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="aware"):
        SyntheticConfig(start=datetime(2026, 1, 5), duration=timedelta(hours=1))
    with pytest.raises(ValueError, match="duplicate_fraction"):
        config_for(START, 1, duplicate_fraction=1.5)
