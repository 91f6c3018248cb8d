"""What a stage serves: the DEPLOY#<stage> records record_deployment.py writes (CURRENT and
the history), read by the rollback, the CLI and the demo."""

from __future__ import annotations

from typing import Any

from feecast.deploy import names
from feecast.deploy.history import DeploymentRecord
from feecast.deploy.ports import DeployState


def int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def current(state: DeployState, stage: str) -> DeploymentRecord | None:
    item = state.get(f"{names.DEPLOY_PREFIX}{stage}", names.CURRENT_SK)
    return None if item is None else DeploymentRecord.from_item(item)


def history(state: DeployState, stage: str) -> list[DeploymentRecord]:
    """Deployments of a stage, newest first."""
    items = state.query(
        f"{names.DEPLOY_PREFIX}{stage}", sk_prefix=names.HISTORY_SK_PREFIX, newest_first=True
    )
    return [DeploymentRecord.from_item(i) for i in items]
