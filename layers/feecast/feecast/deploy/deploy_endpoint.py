"""DeployEndpointFunction: steps "Deploy To Staging" / "Deploy To Production".

Model from the package's container, an endpoint config named after the deployment, then create
or update the endpoint (production with guardrails). Every name is deterministic, so a retried
step finds what its first attempt created. Waiting is await_endpoint.py's.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from feecast.adapters.errors import AlreadyExists
from feecast.deploy import endpoint_config, names, trigger
from feecast.deploy.errors import retry_throttling
from feecast.deploy.ports import Alarms, Endpoints, Packages
from feecast.deploy.settings import DeploySettings, EndpointSettings
from feecast.observability import logger

Stage = Literal["staging", "production"]


class EndpointBusy(RuntimeError):
    """The endpoint is changing (Creating/Updating/Deleting); the step retries later."""


class PackageNotDeployable(RuntimeError):
    """The package cannot be deployed (not approved, no container, a name taken by another)."""


class EndpointTypeChanged(RuntimeError):
    """Production runs on another endpoint type than the stack's EndpointType.

    SageMaker cannot update an instance-based endpoint to a serverless one ("Updating a
    real-time inference endpoint to on-demand serverless ... is currently not supported",
    docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-update.html), and feecast does
    not delete production by itself: the message says how (docs/aws-first-run.md)."""


class EndpointDeployment(BaseModel):
    stage: str
    endpoint_name: str
    endpoint_config_name: str
    model_name: str
    action: str  # created | updated | unchanged
    previous_endpoint_config_name: str | None = None
    guardrails: str


def _spec(settings: EndpointSettings, stage: str) -> endpoint_config.EndpointSpec:
    """How the stage's endpoint is sized: production by ProductionInstanceCount; staging only
    serves the smoke test and the hourly check, so one instance (a canary needs 2+ instances
    only in production)."""
    return endpoint_config.EndpointSpec(
        endpoint_type=settings.endpoint_type,  # type: ignore[arg-type]
        instance_type=settings.endpoint_instance_type,
        instance_count=settings.production_instance_count if stage == "production" else 1,
        serverless_memory_mb=settings.serverless_memory_size_in_mb,
        serverless_max_concurrency=settings.serverless_max_concurrency,
    )


def endpoint_for(stage: str, settings: DeploySettings) -> str:
    if stage == "staging":
        return settings.staging_endpoint_name
    if stage == "production":
        return settings.production_endpoint_name
    raise ValueError(f"stage {stage!r} must be staging or production")


def _container(package: dict[str, Any]) -> dict[str, Any]:
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    if not containers or not containers[0].get("Image") or not containers[0].get("ModelDataUrl"):
        raise PackageNotDeployable(
            f"package {package.get('ModelPackageArn')} has no inference container with an image "
            "and model data"
        )
    c = containers[0]
    out = {"Image": c["Image"], "ModelDataUrl": c["ModelDataUrl"]}
    if c.get("Environment"):
        out["Environment"] = c["Environment"]
    return out


def _create_model_once(endpoints: Endpoints, request: dict[str, Any]) -> None:
    """CreateModel; a model of that name is accepted only if it is this deployment's: a retry
    of this step created it (same image and model data), never someone else's model."""
    try:
        endpoints.create_model(request)
    except AlreadyExists as exc:
        existing = (endpoints.model(request["ModelName"]) or {}).get("PrimaryContainer") or {}
        wanted = request["PrimaryContainer"]
        if (existing.get("Image"), existing.get("ModelDataUrl")) != (
            wanted["Image"],
            wanted["ModelDataUrl"],
        ):
            raise PackageNotDeployable(
                f"model {request['ModelName']} already exists with other model data "
                f"({existing.get('ModelDataUrl')}); it is not this deployment's"
            ) from exc


def _create_config_once(endpoints: Endpoints, request: dict[str, Any]) -> None:
    """CreateEndpointConfig; an existing config is accepted only if it serves this model."""
    try:
        endpoints.create_endpoint_config(request)
    except AlreadyExists as exc:
        existing = endpoints.endpoint_config(request["EndpointConfigName"]) or {}
        models = [v.get("ModelName") for v in existing.get("ProductionVariants", [])]
        wanted = [v["ModelName"] for v in request["ProductionVariants"]]
        if models != wanted:
            raise PackageNotDeployable(
                f"endpoint config {request['EndpointConfigName']} already exists for {models}, "
                f"not {wanted}; it is not this deployment's"
            ) from exc


def _type_change_path(endpoint: str, current: str, wanted: str) -> str:
    return (
        f"{endpoint} is a {current} endpoint but the stack's EndpointType is {wanted}; SageMaker "
        "cannot update one into the other (serverless-endpoints-update.html). Production is "
        "left as it is. To switch: delete it (`aws sagemaker delete-endpoint --endpoint-name "
        f"{endpoint}`: no production forecasts until the next deployment), then deploy the "
        "model again (`feecast reject --package N` and `feecast approve --package N`), or set "
        f"EndpointType={current} again (docs/aws-first-run.md, Switching the endpoint type)"
    )


class DeployRequest(BaseModel):
    """The step's input, as the state machine's Parameters build it."""

    stage: Literal["staging", "production"]
    model_package_arn: str
    deployment_id: str
    guarded: bool = False


@retry_throttling
def deploy_endpoint(
    *,
    stage: Stage,
    model_package_arn: str,
    deployment_id: str,
    guarded: bool,
    settings: EndpointSettings,
    endpoints: Endpoints,
    packages: Packages,
    alarms: Alarms,
) -> EndpointDeployment:
    """Create or update the stage's endpoint with the package's model."""
    package = packages.describe(model_package_arn)
    if package.get("ModelApprovalStatus") != trigger.APPROVED:
        raise PackageNotDeployable(
            f"package {model_package_arn} is {package.get('ModelApprovalStatus')}; only approved "
            "packages are deployed"
        )
    version = names.package_version(model_package_arn)
    endpoint = endpoint_for(stage, settings)
    model = names.model_name(settings.project_name, version, deployment_id)
    config = names.endpoint_config_name(endpoint, version, deployment_id)
    spec = _spec(settings, stage)
    tags = [
        {"Key": "feecast:project", "Value": settings.project_name},
        {"Key": "feecast:package", "Value": model_package_arn},
    ]
    _create_model_once(
        endpoints,
        {
            "ModelName": model,
            "ExecutionRoleArn": settings.sagemaker_role_arn,
            "PrimaryContainer": _container(package),
            "Tags": tags,
        },
    )
    _create_config_once(
        endpoints, {**endpoint_config.endpoint_config_request(config, model, spec), "Tags": tags}
    )

    current = endpoints.describe_endpoint(endpoint)
    # Only an update can meet the other type (a Failed endpoint is deleted and created below).
    if current is not None and current["EndpointStatus"] == "InService":
        running = endpoint_config.endpoint_type_of(endpoints, current)
        if running is not None and running != spec.endpoint_type:
            if stage != "staging":
                raise EndpointTypeChanged(_type_change_path(endpoint, running, spec.endpoint_type))
            # Staging holds nothing to protect: recreate it with the new type.
            endpoints.delete_endpoint(endpoint)
            logger.warning(
                "staging endpoint type changed: deleted, the retry recreates it",
                extra={"endpoint": endpoint, "was": running, "now": spec.endpoint_type},
            )
            raise EndpointBusy(
                f"{endpoint} was {running}, the stack says {spec.endpoint_type}: deleted, "
                "retrying to create it anew"
            )
    deployment_config = None
    if current is None:
        # A first deployment has nothing to protect: create it directly.
        endpoints.create_endpoint(endpoint, config, tags[:1])
        action, previous = "created", None
    else:
        status = current["EndpointStatus"]
        previous = current.get("EndpointConfigName")
        if previous == config and status in ("InService", "Creating", "Updating"):
            action = "unchanged"  # a retry after our own update was accepted
        elif status == "Failed":
            # A failed endpoint cannot be updated: delete it; the retry recreates it.
            endpoints.delete_endpoint(endpoint)
            raise EndpointBusy(
                f"{endpoint} had failed ({current.get('FailureReason')}); deleted, retrying"
            )
        elif status != "InService":
            raise EndpointBusy(f"{endpoint} is {status}; waiting before updating it")
        else:
            if guarded:
                present = alarms.existing(settings.alarm_names)
                missing = sorted(set(settings.alarm_names) - set(present))
                if missing:
                    logger.warning(
                        "rollback alarms not found, not used", extra={"missing": missing}
                    )
                deployment_config = endpoint_config.guardrails(
                    spec, bake_seconds=settings.bake_seconds, alarm_names=present
                )
            endpoints.update_endpoint(endpoint, config, deployment_config)
            action = "updated"
    logger.info(
        "endpoint deployment requested",
        extra={"endpoint": endpoint, "config": config, "action": action},
    )
    return EndpointDeployment(
        stage=stage,
        endpoint_name=endpoint,
        endpoint_config_name=config,
        model_name=model,
        action=action,
        previous_endpoint_config_name=previous,
        guardrails=endpoint_config.guardrail_summary(deployment_config),
    )
