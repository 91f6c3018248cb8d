"""The first human decision: approve or reject a model package in the registry.

Approving sets ModelApprovalStatus=Approved; SageMaker then emits the "Model Package State
Change" event that starts the ModelDeploy state machine (ModelApprovalRule). Rejecting a package
that production serves brings the previous approved one back (OnPackageRejectedFunction).
Used by `feecast approve --package` / `feecast reject --package`; the console and the AWS CLI
(`aws sagemaker update-model-package`) do the same thing.
"""

from __future__ import annotations

from typing import Any, Literal

from botocore.exceptions import ClientError
from feecast.adapters import clients
from feecast.adapters.errors import error_message
from pydantic import BaseModel

Decision = Literal["Approved", "Rejected"]


class PackageRefused(ValueError):
    """The package cannot be decided (unknown, or already in that state)."""


class PendingPackage(BaseModel):
    model_package_arn: str
    version: int
    created: str
    mean_wql: str | None = None
    baseline_wql: str | None = None


class PackageDecision(BaseModel):
    model_package_arn: str
    version: int
    previous_status: str
    status: Decision


def pending_packages(group: str) -> list[PendingPackage]:
    """Packages of `group` waiting for a person, newest first, with their losses."""
    sm = clients.client("sagemaker")
    found: list[PendingPackage] = []
    for page in sm.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=group,
        ModelApprovalStatus="PendingManualApproval",
        SortBy="CreationTime",
        SortOrder="Descending",
    ):
        for summary in page["ModelPackageSummaryList"]:
            described = sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            metadata = described.get("CustomerMetadataProperties") or {}
            found.append(
                PendingPackage(
                    model_package_arn=summary["ModelPackageArn"],
                    version=int(summary.get("ModelPackageVersion") or 0),
                    created=str(summary.get("CreationTime", "")),
                    mean_wql=metadata.get("mean_wql"),
                    baseline_wql=metadata.get("baseline_wql"),
                )
            )
    return found


def resolve(group: str, ref: str) -> str:
    """A package ARN from an ARN or a version number of `group`."""
    if ref.startswith("arn:"):
        return ref
    if not ref.isdigit():
        raise PackageRefused(f"{ref!r} is neither a model package ARN nor a version number")
    for page in (
        clients.client("sagemaker")
        .get_paginator("list_model_packages")
        .paginate(ModelPackageGroupName=group)
    ):
        for summary in page["ModelPackageSummaryList"]:
            if int(summary.get("ModelPackageVersion") or 0) == int(ref):
                return str(summary["ModelPackageArn"])
    raise PackageRefused(f"model package group {group!r} has no version {ref}")


def decide_package(
    group: str, ref: str, status: Decision, *, by: str, comment: str = ""
) -> PackageDecision:
    """Set the package's approval status, recording who decided and why."""
    arn = resolve(group, ref)
    sm = clients.client("sagemaker")
    try:
        described: dict[str, Any] = sm.describe_model_package(ModelPackageName=arn)
    except ClientError as exc:
        raise PackageRefused(f"{arn}: {error_message(exc)}") from exc
    previous = str(described.get("ModelApprovalStatus", ""))
    if previous == status:
        raise PackageRefused(
            f"model package v{described.get('ModelPackageVersion')} is already {status}"
        )
    description = f"{status} by {by}" + (f": {comment}" if comment else "")
    sm.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=description[:1024]
    )
    return PackageDecision(
        model_package_arn=arn,
        version=int(described.get("ModelPackageVersion") or 0),
        previous_status=previous,
        status=status,
    )
