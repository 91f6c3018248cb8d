"""Alarm episodes: which accuracy-alarm transitions may start a build (pure: no AWS calls).

An episode of an alarm starts with an ALARM transition and lasts `cooldown`. Inside it:
- the same transition again (duplicate delivery: same alarm, same detail.state.timestamp) is
  a REPEAT: it may only finish what the first delivery started, never start a second build;
- a later ALARM transition (the alarm flapped ALARM -> OK -> ALARM while the first episode's
  build runs or has just produced a model) is SUPPRESSED;
- a transition older than the episode (a late delivery) is STALE, suppressed too.
The first ALARM transition after the cool-down OPENS a new episode. The build started by an
episode is deduplicated on `dedup_key` (alarm name + episode start), so even two deliveries
that both believe they opened it start one build.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

__all__ = ["Episode", "Verdict", "classify"]


class Verdict(StrEnum):
    OPEN = "open"
    REPEAT = "repeat"
    SUPPRESS = "suppress"
    STALE = "stale"


@dataclass(frozen=True)
class Episode:
    alarm_name: str
    started_at: datetime
    build_status: str | None = None  # what start_build answered, once it did
    execution_arn: str | None = None

    @property
    def dedup_key(self) -> str:
        return f"{self.alarm_name}#{self.started_at.astimezone(UTC):%Y%m%dT%H%M%S}"

    def ends_at(self, cooldown: timedelta) -> datetime:
        return self.started_at + cooldown

    def to_dict(self) -> dict[str, Any]:
        return {
            "alarm_name": self.alarm_name,
            "started_at": self.started_at.astimezone(UTC).isoformat(),
            "dedup_key": self.dedup_key,
            "build_status": self.build_status,
            "execution_arn": self.execution_arn,
        }


def classify(transition_at: datetime, current: Episode | None, cooldown: timedelta) -> Verdict:
    """The verdict for an ALARM transition at `transition_at` given the alarm's latest episode."""
    if cooldown < timedelta(0):
        raise ValueError(f"cooldown must be >= 0, got {cooldown}")
    if current is None:
        return Verdict.OPEN
    if transition_at == current.started_at:
        return Verdict.REPEAT
    if transition_at < current.started_at:
        return Verdict.STALE
    if transition_at >= current.ends_at(cooldown):
        return Verdict.OPEN
    return Verdict.SUPPRESS
