"""Update The Threshold: the approved model's own threshold, set once, on in-memory ports."""

from __future__ import annotations

from typing import Any

import pytest
from feecast.config import FeecastConfig
from feecast.deploy import names
from feecast.deploy.update_threshold import MissingModelLoss, update_threshold

from tests.support.deploy import deploy_settings, package, package_arn
from tests.support.fakes import FakePackages, FakeParameters, FakeState

ARN = package_arn(7)
KEY = (f"{names.THRESHOLD_PREFIX}{ARN}", "THRESHOLD")


class World:
    def __init__(self, *packages: dict[str, Any], threshold: float = 0.24) -> None:
        config = FeecastConfig()
        config = config.model_copy(
            update={"validation": config.validation.model_copy(update={"threshold": threshold})}
        )
        self.state = FakeState()
        self.packages = FakePackages(*(packages or (package(7, ratio_to_naive="0.66"),)))
        self.parameters = FakeParameters(config, version=3)

    def update(self) -> Any:
        return update_threshold(
            ARN,
            deploy_settings(),
            state=self.state,
            packages=self.packages,
            parameters=self.parameters,
        )


def test_the_threshold_becomes_the_models_own_and_the_record_keeps_the_old_one() -> None:
    w = World()
    result = w.update()
    assert (result.old_threshold, result.new_threshold) == (0.24, 0.25)
    assert result.changed and not result.lowered and not result.already_applied
    assert (result.loss, result.baseline_loss, result.ratio_to_naive) == (0.2, 0.3, 0.66)
    assert result.ssm_version == 4
    assert [v.threshold for v in w.parameters.writes] == [0.25]
    assert w.parameters.reads == [0]  # read fresh, never from the cache
    record = w.state.get(*KEY)
    assert record is not None and record["state"] == "applied" and record["old"] == 0.24


def test_a_repeat_finds_it_applied_and_writes_nothing() -> None:
    w = World()
    first = w.update()
    writes = w.state.writes
    again = w.update()
    assert again.already_applied and again.new_threshold == first.new_threshold
    assert again.ssm_version == 4
    assert len(w.parameters.writes) == 1 and w.state.writes == writes


def test_an_earlier_attempt_is_finished_with_the_values_it_claimed() -> None:
    w = World()
    # A first attempt claimed (old 0.3 -> new 0.25) and died before writing SSM.
    w.state.put(
        {"pk": KEY[0], "sk": KEY[1], "state": "pending", "old": 0.3, "new": 0.25},
    )
    result = w.update()
    assert (result.old_threshold, result.new_threshold) == (0.3, 0.25)
    assert [v.threshold for v in w.parameters.writes] == [0.25]
    assert w.state.get(*KEY)["state"] == "applied"  # type: ignore[index]


def test_the_same_threshold_is_recorded_without_a_new_ssm_version() -> None:
    w = World(threshold=0.25)
    result = w.update()
    assert not result.changed and result.ssm_version is None
    assert w.parameters.writes == []
    assert w.state.get(*KEY)["state"] == "applied"  # type: ignore[index]


@pytest.mark.parametrize(
    ("metadata", "match"),
    [
        ({"mean_wql": "nan"}, "mean_wql"),
        ({"mean_wql": "-1"}, "mean_wql"),
        ({"alarm_threshold": "0"}, "alarm_threshold"),
        ({"alarm_threshold": "high"}, "alarm_threshold"),
    ],
)
def test_a_package_without_usable_metrics_changes_nothing(
    metadata: dict[str, str], match: str
) -> None:
    w = World(package(7, **metadata))
    with pytest.raises(MissingModelLoss, match=match):
        w.update()
    assert w.parameters.writes == [] and w.state.items == {}
