"""Which model-package events start (or roll back) a deployment: the decision in pure Python.

The EventBridge rules in template.yaml already filter (ModelApprovalRule, PackageRejectedRule);
the same decision is repeated here so a broader rule, a replayed archive or a hand-sent event
cannot start a deployment by mistake (defence in depth, cheap).

SageMaker emits "SageMaker Model Package State Change" on creation, on approval changes and on
updates of other fields (ModelLifeCycle, CustomerMetadataProperties, ...). Updates list what
changed in detail.UpdatedModelPackageFields; a creation has no such list. An approval is:
status Approved AND (no UpdatedModelPackageFields, i.e. created approved, OR the list names
ModelApprovalStatus).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

APPROVED = "Approved"
REJECTED = "Rejected"
STATUS_FIELD = "ModelApprovalStatus"


@dataclass(frozen=True)
class PackageEventDecision:
    act: bool
    reason: str


def _status_changed(detail: dict[str, Any]) -> bool:
    updated = detail.get("UpdatedModelPackageFields")
    if updated is None:
        return True  # a creation: the status is the package's first one
    if isinstance(updated, str):
        updated = [updated]
    return STATUS_FIELD in updated


def classify(detail: dict[str, Any], *, wanted_status: str, group: str) -> PackageEventDecision:
    """Should this event act (deploy for Approved, roll back for Rejected)?"""
    if detail.get("ModelPackageGroupName") != group:
        return PackageEventDecision(
            False, f"package group {detail.get('ModelPackageGroupName')!r} is not {group!r}"
        )
    status = detail.get(STATUS_FIELD)
    if status != wanted_status:
        return PackageEventDecision(False, f"approval status is {status!r}, not {wanted_status!r}")
    if not _status_changed(detail):
        fields = detail.get("UpdatedModelPackageFields")
        return PackageEventDecision(
            False, f"update of {fields} without an approval status change (already {status})"
        )
    return PackageEventDecision(True, f"package became {status}")
