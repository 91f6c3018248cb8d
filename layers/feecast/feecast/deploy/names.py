"""Deterministic names: executions, models, endpoint configs and StateTable keys.

Names derive from the package version and the approval's timestamp, so a retried step or a
duplicate event produces the same name and AWS itself refuses (or returns) the second create.
SageMaker names: at most 63 characters of [a-zA-Z0-9-]; Step Functions execution names: 80.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

_SAGEMAKER_MAX = 63
_EXECUTION_MAX = 80
_UNSAFE = re.compile(r"[^a-zA-Z0-9-]+")

# StateTable key prefixes owned by the deploy stage (docs/conventions.md).
APPROVAL_PREFIX = "APPROVAL#"
WAITER_PREFIX = "WAITER#"
THRESHOLD_PREFIX = "THRESHOLD#"
DEPLOY_PREFIX = "DEPLOY#"
CURRENT_SK = "CURRENT"
HISTORY_SK_PREFIX = "AT#"


def stamp(ts: datetime) -> str:
    """Compact UTC timestamp used inside names: 20260105T101500."""
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {ts.isoformat()} is naive; give a UTC time")
    return ts.astimezone(UTC).strftime("%Y%m%dT%H%M%S")


def _fit(name: str, limit: int) -> str:
    name = _UNSAFE.sub("-", name).strip("-")
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('-')}-{digest}"


def deploy_execution_name(version: int, approved_at: datetime) -> str:
    """`v7-20260105T101500`: one execution per approval of one package version."""
    return _fit(f"v{version}-{stamp(approved_at)}", _EXECUTION_MAX)


def rollback_execution_name(trigger: str, key: str) -> str:
    """`rollback-rejected-v7-20260105T101500` or `rollback-manual-<stamp>`."""
    return _fit(f"rollback-{trigger}-{key}", _EXECUTION_MAX)


def model_name(project: str, version: int, deployment_id: str) -> str:
    """One SageMaker model per deployment (a rollback makes its own)."""
    suffix = deployment_id.removeprefix(f"v{version}-")
    return _fit(f"{project}-v{version}-{suffix}", _SAGEMAKER_MAX)


def endpoint_config_name(endpoint: str, version: int, deployment_id: str) -> str:
    suffix = deployment_id.removeprefix(f"v{version}-")
    return _fit(f"{endpoint}-v{version}-{suffix}", _SAGEMAKER_MAX)


def package_version(model_package_arn: str) -> int:
    """The version at the end of a versioned package ARN (`.../model-package/group/7` -> 7)."""
    tail = model_package_arn.rsplit("/", 1)[-1]
    if not tail.isdigit():
        raise ValueError(f"{model_package_arn!r} is not a versioned model package ARN")
    return int(tail)
