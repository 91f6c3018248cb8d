"""The model in production, for the build to compare its candidate with on the same windows.

The deploy stage records what each stage serves (DEPLOY#<stage> / CURRENT in the StateTable);
its model package holds the image and model.tar.gz. The build creates a SageMaker model from
them and forecasts the same backtest origins with it (statemachines/model_build.asl.json). A
model that forecasts something else (another target, horizon or set of DeepAR features) cannot
answer the same transform input: it is reported as not comparable, and the gate says so.
Pydantic only: the shape is shared by Prepare, the state machine and Evaluate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from feecast.build.ports import BuildState, ModelPackages

__all__ = ["ProductionModel", "find_production_model", "package_features", "production_finder"]


class ProductionModel(BaseModel):
    """$.data.production: `present` is what "Is There A Production Model?" reads."""

    present: bool
    reason: str | None = None  # why there is nothing to compare with
    package_arn: str | None = None
    version: int | None = None
    image: str | None = None
    model_data_url: str | None = None
    model_name: str | None = None  # the SageMaker model and transform job of the comparison
    transform_output: str | None = None
    dynamic_features: list[str] = Field(default_factory=list)


def package_features(metadata: Mapping[str, str]) -> list[str]:
    """The DeepAR features a package's model was trained with (CustomerMetadataProperties)."""
    raw = metadata.get("dynamic_features", "none")
    return [] if raw in ("", "none") else raw.split()


def find_production_model(
    *,
    current_package_arn: Callable[[], str | None],
    describe_package: Callable[[str], Mapping[str, Any] | None],
    target_col: str,
    prediction_length: int,
    features: Sequence[str],
) -> ProductionModel:
    """What production serves, if the candidate's backtest input can be forecast by it."""
    arn = current_package_arn()
    if arn is None:
        return ProductionModel(present=False, reason="no model in production yet")
    package = describe_package(arn)
    if package is None:
        return ProductionModel(
            present=False, reason=f"the production package {arn} no longer exists"
        )
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    meta = dict(package.get("CustomerMetadataProperties") or {})
    version = package.get("ModelPackageVersion")
    if not containers or not containers[0].get("ModelDataUrl"):
        return ProductionModel(
            present=False, package_arn=arn, reason=f"the production package {arn} has no model"
        )
    theirs = package_features(meta)
    differences = []
    if meta.get("target_col", target_col) != target_col:
        differences.append(f"target {meta.get('target_col')} (candidate: {target_col})")
    if meta.get("prediction_length", str(prediction_length)) != str(prediction_length):
        differences.append(
            f"prediction_length {meta.get('prediction_length')} (candidate: {prediction_length})"
        )
    if theirs != list(features):
        differences.append(
            f"dynamic features {theirs or 'none'} (candidate: {list(features) or 'none'})"
        )
    if differences:
        return ProductionModel(
            present=False,
            package_arn=arn,
            version=int(version) if version is not None else None,
            reason="the production model forecasts something else: " + ", ".join(differences),
        )
    return ProductionModel(
        present=True,
        package_arn=arn,
        version=int(version) if version is not None else None,
        image=str(containers[0]["Image"]),
        model_data_url=str(containers[0]["ModelDataUrl"]),
        dynamic_features=theirs,
    )


def production_finder(
    stage: str, *, state: BuildState | None, packages: ModelPackages
) -> Callable[[str, int, Sequence[str]], ProductionModel]:
    """Prepare The Data's port: the deploy stage's record of `stage` (DEPLOY#<stage> / CURRENT)
    and its package; `state` None when the build has no state table to look it up in."""

    def find(target_col: str, prediction_length: int, features: Sequence[str]) -> ProductionModel:
        if state is None:
            return ProductionModel(present=False, reason="no state table to look production up")
        from feecast.deploy import names

        def current() -> str | None:
            item = state.get(f"{names.DEPLOY_PREFIX}{stage}", names.CURRENT_SK)
            return None if item is None else str(item["package_arn"])

        return find_production_model(
            current_package_arn=current,
            describe_package=packages.find,
            target_col=target_col,
            prediction_length=prediction_length,
            features=features,
        )

    return find
