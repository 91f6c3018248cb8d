"""Endpoint configuration and deployment guardrails, as SageMaker API request shapes (pure).

Provisioned endpoints: one variant of `instance_count` instances. Serverless endpoints: a
ServerlessConfig (memory, max concurrency) and no instances.

Guardrails (production only, UpdateEndpoint DeploymentConfig): blue/green with auto-rollback on
CloudWatch alarms. Canary traffic shifting needs a canary of at most 50% of the new fleet, so
it needs at least 2 instances; with 1 instance (the default) or a serverless endpoint the
update is all-at-once with a baking period, during which an alarm still rolls it back.
Rolling updates are not used: SageMaker excludes serverless endpoints from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

VARIANT_NAME = "AllTraffic"  # guardrails require the same variant name across configs
EndpointType = Literal["Provisioned", "Serverless"]

# SageMaker's limits for BlueGreenUpdatePolicy.
_MIN_MAX_EXECUTION = 600
_MAX_MAX_EXECUTION = 28800
_MAX_WAIT = 3600
CANARY_PERCENT = 10  # SageMaker activates at least one instance for the canary


@dataclass(frozen=True)
class EndpointSpec:
    """How the project's endpoints are sized (template parameters)."""

    endpoint_type: EndpointType = "Provisioned"
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    serverless_memory_mb: int = 2048
    serverless_max_concurrency: int = 5

    def __post_init__(self) -> None:
        if self.endpoint_type not in ("Provisioned", "Serverless"):
            raise ValueError(
                f"endpoint_type {self.endpoint_type!r} must be Provisioned or Serverless"
            )
        if self.instance_count < 1:
            raise ValueError(f"instance_count must be >= 1, got {self.instance_count}")
        if self.serverless_memory_mb not in (1024, 2048, 3072, 4096, 5120, 6144):
            raise ValueError(
                f"serverless_memory_mb {self.serverless_memory_mb} must be 1024..6144 in 1024 steps"
            )
        if not 1 <= self.serverless_max_concurrency <= 200:
            raise ValueError("serverless_max_concurrency must be between 1 and 200")


def production_variant(model_name: str, spec: EndpointSpec) -> dict[str, Any]:
    """One ProductionVariants entry of CreateEndpointConfig."""
    if spec.endpoint_type == "Serverless":
        return {
            "VariantName": VARIANT_NAME,
            "ModelName": model_name,
            "ServerlessConfig": {
                "MemorySizeInMB": spec.serverless_memory_mb,
                "MaxConcurrency": spec.serverless_max_concurrency,
            },
        }
    return {
        "VariantName": VARIANT_NAME,
        "ModelName": model_name,
        "InitialInstanceCount": spec.instance_count,
        "InstanceType": spec.instance_type,
        "InitialVariantWeight": 1.0,
    }


def endpoint_config_request(name: str, model_name: str, spec: EndpointSpec) -> dict[str, Any]:
    """Keyword arguments of CreateEndpointConfig."""
    return {
        "EndpointConfigName": name,
        "ProductionVariants": [production_variant(model_name, spec)],
    }


def guardrails(spec: EndpointSpec, *, bake_seconds: int, alarm_names: list[str]) -> dict[str, Any]:
    """The DeploymentConfig of UpdateEndpoint for a guarded production update."""
    if not 0 <= bake_seconds <= _MAX_WAIT:
        raise ValueError(f"bake_seconds must be between 0 and {_MAX_WAIT}, got {bake_seconds}")
    routing: dict[str, Any]
    if spec.endpoint_type == "Provisioned" and spec.instance_count >= 2:
        routing = {
            "Type": "CANARY",
            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": CANARY_PERCENT},
            "WaitIntervalInSeconds": bake_seconds,
        }
    else:
        routing = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": bake_seconds}
    policy = {
        "TrafficRoutingConfiguration": routing,
        "TerminationWaitInSeconds": 0,
        # Enough for provisioning plus the bake, inside SageMaker's allowed range.
        "MaximumExecutionTimeoutInSeconds": min(
            max(_MIN_MAX_EXECUTION, 2 * bake_seconds + 1800), _MAX_MAX_EXECUTION
        ),
    }
    config: dict[str, Any] = {"BlueGreenUpdatePolicy": policy}
    if alarm_names:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarm_names]}
    return config


def guardrail_summary(config: dict[str, Any] | None) -> str:
    """One line for notifications: what protects this update."""
    if not config:
        return "none (all at once, no alarms)"
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    alarms = [a["AlarmName"] for a in config.get("AutoRollbackConfiguration", {}).get("Alarms", [])]
    shift = (
        f"canary {routing['CanarySize']['Value']}%"
        if routing["Type"] == "CANARY"
        else "all at once"
    )
    return (
        f"blue/green, {shift}, bake {routing['WaitIntervalInSeconds']} s, "
        f"auto-rollback on {', '.join(alarms) if alarms else 'no alarm'}"
    )


class _Configs(Protocol):
    def endpoint_config(self, name: str) -> dict[str, Any] | None: ...


def endpoint_type_of(configs: _Configs, endpoint: dict[str, Any]) -> str | None:
    """Provisioned | Serverless for a DescribeEndpoint answer (None when it cannot be told):
    from its variants, else from its endpoint config (`configs`: the Endpoints port)."""
    variants = endpoint.get("ProductionVariants") or []
    if variants:
        if any("CurrentServerlessConfig" in v or "DesiredServerlessConfig" in v for v in variants):
            return "Serverless"
        if any("CurrentInstanceCount" in v or "InstanceType" in v for v in variants):
            return "Provisioned"
    name = endpoint.get("EndpointConfigName")
    if not name:
        return None
    config = configs.endpoint_config(name)
    if config is None:
        return None  # the config was deleted since; nothing to compare
    config_variants = config.get("ProductionVariants") or []
    if not config_variants:
        return None
    return "Serverless" if "ServerlessConfig" in config_variants[0] else "Provisioned"
