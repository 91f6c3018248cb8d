"""Deployment history (pure): which approved package a rollback brings back."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict


class DeploymentRecord(BaseModel):
    """One DEPLOY#<stage> record (also RecordDeploymentFunction's result, without the Nones)."""

    model_config = ConfigDict(frozen=True)

    stage: str
    package_arn: str
    version: int
    deployed_at: str  # ISO-8601 UTC
    execution: str
    previous_package_arn: str | None = None
    mode: str = "deploy"  # or "rollback"
    endpoint_config: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> DeploymentRecord:
        return cls(
            stage=str(item["stage"]),
            package_arn=str(item["package_arn"]),
            version=int(item["version"]),
            deployed_at=str(item["deployed_at"]),
            execution=str(item.get("execution", "")),
            previous_package_arn=item.get("previous_package_arn") or None,
            mode=str(item.get("mode", "deploy")),
            endpoint_config=item.get("endpoint_config") or None,
        )

    def to_item(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class NothingToRollBackTo(LookupError):
    """No earlier approved package is in the deployment history."""


def rollback_target(
    history_newest_first: Iterable[DeploymentRecord],
    current_package_arn: str | None,
    is_still_approved: Callable[[str], bool],
) -> DeploymentRecord:
    """The newest history entry of another package that is still approved.

    Rolling back twice goes further back, because each rollback becomes the current package.
    """
    seen: set[str] = set()
    for record in history_newest_first:
        arn = record.package_arn
        if arn == current_package_arn or arn in seen:
            continue
        seen.add(arn)
        if is_still_approved(arn):
            return record
    raise NothingToRollBackTo(
        "no earlier approved package was deployed to production: nothing to roll back to"
    )
