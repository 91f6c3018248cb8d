"""Environment of the deploy stage's functions (set in template.yaml, section 3 Deploy)."""

from __future__ import annotations

from pydantic import Field

from feecast.settings import BaseSettings


class DeploySettings(BaseSettings):
    """What every deploy function needs."""

    state_table: str
    notification_topic_arn: str
    model_package_group_name: str
    staging_endpoint_name: str
    production_endpoint_name: str


class StartSettings(DeploySettings):
    idempotency_table: str
    deploy_state_machine_arn: str


class EndpointSettings(DeploySettings):
    sagemaker_role_arn: str
    endpoint_type: str = "Provisioned"
    endpoint_instance_type: str = "ml.m5.large"
    production_instance_count: int = Field(1, ge=1)
    serverless_memory_size_in_mb: int = 2048
    serverless_max_concurrency: int = 5
    # Comma-separated CloudWatch alarms that roll a production update back.
    production_alarm_names: str = ""
    bake_seconds: int = Field(600, ge=0, le=3600)

    @property
    def alarm_names(self) -> list[str]:
        return [a.strip() for a in self.production_alarm_names.split(",") if a.strip()]


class SmokeSettings(DeploySettings):
    feature_group_name: str
    endpoint_type: str = ""  # Provisioned | Serverless (template EndpointType): the advice


class ApprovalSettings(DeploySettings):
    """The approval links' callback: verifies links, so it needs the key but not the URL."""

    approval_secret_arn: str


class ApprovalRequestSettings(ApprovalSettings):
    """The function that sends links. Only it gets APPROVAL_API_URL: the callback cannot (the
    HTTP API's routes name the callback, a reference back would be a circular dependency)."""

    approval_api_url: str
