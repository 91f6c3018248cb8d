"""Step "Update The Threshold": lower the SSM threshold once per approved model, recoverably.

The model's loss is the package's CustomerMetadataProperties["mean_wql"] (written by the build).
Order of work, safe under retries and duplicate executions:
1. read the current validation parameter (fresh, not cached);
2. claim THRESHOLD#<package arn> with the decided old/new values (conditional put: only the
   first claim wins; a retry finds its own claim in state "pending");
3. write the claimed `new` value to SSM (never recomputed, so a retry cannot lower it twice);
4. mark the record "applied" with the SSM version. SSM's parameter history keeps the old value.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from feecast.adapters.parameters import load_config, write_validation
from feecast.deploy import aws, names, thresholds
from feecast.deploy.errors import retry_throttling
from feecast.deploy.settings import DeploySettings
from feecast.observability import logger

LOSS_KEY = "mean_wql"
BASELINE_KEY = "baseline_wql"


class MissingModelLoss(ValueError):
    """The package carries no usable loss: the build did not record its metrics."""


class ThresholdResult(BaseModel):
    model_package_arn: str
    loss: float
    baseline_loss: float | None
    old_threshold: float
    new_threshold: float
    lowered: bool
    already_applied: bool
    ssm_version: int | None = None


def package_losses(package: dict[str, Any]) -> tuple[float, float | None]:
    """(mean_wql, baseline_wql or None) from the package's customer metadata."""
    meta = aws.package_metadata(package)
    raw = meta.get(LOSS_KEY)
    try:
        loss = float(raw) if raw is not None else math.nan
    except ValueError:
        loss = math.nan
    if not math.isfinite(loss) or loss < 0:
        raise MissingModelLoss(
            f"package {package.get('ModelPackageArn')} has no valid CustomerMetadataProperties"
            f"[{LOSS_KEY!r}] (got {raw!r}); the build stage records it when registering"
        )
    baseline = None
    try:
        baseline = float(meta[BASELINE_KEY]) if BASELINE_KEY in meta else None
    except ValueError:
        baseline = None
    return loss, baseline


@retry_throttling
def update_threshold(model_package_arn: str, settings: DeploySettings) -> ThresholdResult:
    table = aws.StateTable(settings.state_table)
    package = aws.describe_package(model_package_arn)
    loss, baseline = package_losses(package)
    pk, sk = f"{names.THRESHOLD_PREFIX}{model_package_arn}", "THRESHOLD"

    existing = table.get(pk, sk)
    if existing and existing.get("state") == "applied":
        logger.info("threshold already updated for this model", extra={"record": existing})
        return ThresholdResult(
            model_package_arn=model_package_arn,
            loss=loss,
            baseline_loss=baseline,
            old_threshold=float(existing["old"]),
            new_threshold=float(existing["new"]),
            lowered=bool(existing["lowered"]),
            already_applied=True,
            ssm_version=existing.get("ssm_version"),
        )

    validation = load_config(settings.ssm_prefix, max_age=0).validation
    if existing:  # our own earlier attempt: finish it with the values it claimed
        decision = thresholds.ThresholdDecision(
            loss, float(existing["old"]), float(existing["new"]), float(existing["update_rate"])
        )
    else:
        decision = thresholds.decide(loss, validation.threshold, validation.update_rate)
        claimed = table.put(
            {
                "pk": pk,
                "sk": sk,
                "state": "pending",
                "package_arn": model_package_arn,
                "version": names.package_version(model_package_arn),
                "claimed_at": datetime.now(UTC).isoformat(),
                **decision.to_dict(),
            },
            condition="attribute_not_exists(pk)",
        )
        if not claimed:  # a concurrent duplicate claimed it first: use its values
            return update_threshold(model_package_arn, settings)

    version = None
    if decision.lowered:
        version = write_validation(
            settings.ssm_prefix, validation.model_copy(update={"threshold": decision.new})
        )
        logger.info("threshold lowered", extra={**decision.to_dict(), "ssm_version": version})
    table.put(
        {
            "pk": pk,
            "sk": sk,
            "state": "applied",
            "package_arn": model_package_arn,
            "version": names.package_version(model_package_arn),
            "applied_at": datetime.now(UTC).isoformat(),
            "ssm_version": version,
            **decision.to_dict(),
        }
    )
    return ThresholdResult(
        model_package_arn=model_package_arn,
        loss=loss,
        baseline_loss=baseline,
        old_threshold=decision.old,
        new_threshold=decision.new,
        lowered=decision.lowered,
        already_applied=False,
        ssm_version=version,
    )
