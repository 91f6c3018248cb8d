"""Step "Update The Threshold": set the SSM threshold to the approved model's own, recoverably.

The model's threshold is the package's CustomerMetadataProperties["alarm_threshold"], which the
build computed from the model's backtest (deploy/thresholds.py says why it replaces, rather
than lowers, the old value); "mean_wql" and "baseline_wql" are its backtest losses.
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

from feecast.deploy import names, thresholds
from feecast.deploy.errors import retry_throttling
from feecast.deploy.ports import DeployState, Packages
from feecast.deploy.settings import DeploySettings
from feecast.observability import logger
from feecast.ports import Parameters

LOSS_KEY = "mean_wql"
BASELINE_KEY = "baseline_wql"
THRESHOLD_KEY = "alarm_threshold"
RATIO_KEY = "ratio_to_naive"


class MissingModelLoss(ValueError):
    """The package carries no usable loss or threshold: the build did not record its metrics."""


class ThresholdResult(BaseModel):
    model_package_arn: str
    loss: float
    baseline_loss: float | None
    ratio_to_naive: float | None = None
    old_threshold: float
    new_threshold: float
    changed: bool
    lowered: bool
    already_applied: bool
    ssm_version: int | None = None


def _meta_float(meta: dict[str, str], key: str) -> float | None:
    try:
        value = float(meta[key]) if key in meta else math.nan
    except ValueError:
        value = math.nan
    return value if math.isfinite(value) else None


def package_metadata(package: dict[str, Any]) -> dict[str, str]:
    return dict(package.get("CustomerMetadataProperties") or {})


def package_losses(package: dict[str, Any]) -> tuple[float, float | None]:
    """(mean_wql, baseline_wql or None) from the package's customer metadata."""
    meta = package_metadata(package)
    loss = _meta_float(meta, LOSS_KEY)
    if loss is None or loss < 0:
        raise MissingModelLoss(
            f"package {package.get('ModelPackageArn')} has no valid CustomerMetadataProperties"
            f"[{LOSS_KEY!r}] (got {meta.get(LOSS_KEY)!r}); the build stage records it when "
            "registering"
        )
    return loss, _meta_float(meta, BASELINE_KEY)


def package_threshold(package: dict[str, Any]) -> float:
    """The alarm threshold the model's backtest gave (CustomerMetadataProperties)."""
    meta = package_metadata(package)
    value = _meta_float(meta, THRESHOLD_KEY)
    if value is None or value <= 0:
        raise MissingModelLoss(
            f"package {package.get('ModelPackageArn')} has no valid CustomerMetadataProperties"
            f"[{THRESHOLD_KEY!r}] (got {meta.get(THRESHOLD_KEY)!r}): it was registered before "
            "builds calibrated thresholds on a backtest; rebuild it"
        )
    return value


class ThresholdRequest(BaseModel):
    """The step's input: the approved package whose threshold becomes the stage's."""

    model_package_arn: str


@retry_throttling
def update_threshold(
    model_package_arn: str,
    settings: DeploySettings,
    *,
    state: DeployState,
    packages: Packages,
    parameters: Parameters,
) -> ThresholdResult:
    table = state
    package = packages.describe(model_package_arn)
    loss, baseline = package_losses(package)
    model_threshold = package_threshold(package)
    ratio = _meta_float(package_metadata(package), RATIO_KEY)
    pk, sk = f"{names.THRESHOLD_PREFIX}{model_package_arn}", "THRESHOLD"

    existing = table.get(pk, sk)
    if existing and existing.get("state") == "applied":
        logger.info("threshold already updated for this model", extra={"record": existing})
        return ThresholdResult(
            model_package_arn=model_package_arn,
            loss=loss,
            baseline_loss=baseline,
            ratio_to_naive=ratio,
            old_threshold=float(existing["old"]),
            new_threshold=float(existing["new"]),
            changed=float(existing["new"]) != float(existing["old"]),
            lowered=float(existing["new"]) < float(existing["old"]),
            already_applied=True,
            ssm_version=existing.get("ssm_version"),
        )

    validation = parameters.load_config(settings.ssm_prefix, max_age=0).validation
    if existing:  # our own earlier attempt: finish it with the values it claimed
        decision = thresholds.ThresholdDecision(float(existing["old"]), float(existing["new"]))
    else:
        decision = thresholds.decide(model_threshold, validation.threshold)
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
            return update_threshold(
                model_package_arn,
                settings,
                state=state,
                packages=packages,
                parameters=parameters,
            )

    version = None
    if decision.changed:
        version = parameters.write_validation(
            settings.ssm_prefix, validation.model_copy(update={"threshold": decision.new})
        )
        logger.info("threshold set", extra={**decision.to_dict(), "ssm_version": version})
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
        ratio_to_naive=ratio,
        old_threshold=decision.old,
        new_threshold=decision.new,
        changed=decision.changed,
        lowered=decision.lowered,
        already_applied=False,
        ssm_version=version,
    )
