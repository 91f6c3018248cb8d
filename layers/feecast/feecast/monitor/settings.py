"""The environment of the monitoring functions (template.yaml sections 4 Monitor and 5 Retrain)."""

from __future__ import annotations

from pydantic import Field

from feecast.settings import BaseSettings


class MonitorSettings(BaseSettings):
    """What every monitoring function receives."""

    notification_topic_arn: str
    idempotency_table: str
    staging_stage_name: str = "staging"
    production_stage_name: str = "production"

    @property
    def stages(self) -> tuple[str, str]:
        return (self.staging_stage_name, self.production_stage_name)


class ActivationSettings(MonitorSettings):
    """ActivateMonitoringFunction."""


class RunSettings(MonitorSettings):
    """MonitorEndpointFunction."""

    state_table: str
    feature_group_name: str
    # Minutes of history sent to the endpoint and used by the baseline. DeepAR looks at
    # context_length points plus lagged values of the target, so it gets more than
    # context_length; a day keeps the request small (~15 KB) and the feature-store read cheap.
    history_minutes: int = Field(1440, ge=60, le=20160)
    num_samples: int = Field(100, ge=10, le=1000)


class RetrainSettings(MonitorSettings):
    """RetrainOnAlarmFunction (also handed to feecast.build.start_build.start_build)."""

    state_table: str
    model_build_state_machine_arn: str
    retrain_cooldown_seconds: int = Field(43200, ge=0)
