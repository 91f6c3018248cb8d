"""The build stage's settings, one model per function, read from the environment at cold start
(feecast.settings.load_settings: field `state_table` <- variable `STATE_TABLE`; a missing one
fails the first invocation naming it). Parameters that change without a deploy are SSM's
(feecast.config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from feecast.settings import BaseSettings

# Managed spot training: "SageMaker built-in algorithms and marketplace algorithms that do not
# checkpoint are currently limited to a MaxWaitTimeInSeconds of 3600 seconds", and MaxWait must
# be at least MaxRuntime (docs.aws.amazon.com/sagemaker/latest/dg/model-managed-spot-training.html;
# API_StoppingCondition). So with spot on, a DeepAR job may run at most 3600 s.
SPOT_MAX_WAIT_SECONDS = 3600
# StoppingCondition.MaxRuntimeInSeconds: at most 28 days (API_StoppingCondition).
MAX_RUNTIME_SECONDS = 28 * 86400


class PrepareSettings(BaseSettings):
    """Environment of PrepareDataFunction (template.yaml)."""

    artifact_bucket: str
    feature_group_name: str
    use_spot_training: bool = True
    # Template parameter TrainingMaxRuntimeSeconds (MaxValue 3600: the spot rule below).
    max_runtime_seconds: int = Field(3000, ge=60, le=MAX_RUNTIME_SECONDS)
    # Built-in algorithms that do not checkpoint are limited to 3600 s of spot waiting.
    max_wait_seconds: int = Field(SPOT_MAX_WAIT_SECONDS, ge=60, le=SPOT_MAX_WAIT_SECONDS)
    max_missing_fraction: float = Field(0.5, ge=0.0, le=1.0)
    max_data_age_minutes: int = Field(60, ge=1)
    # Where the deploy stage records what production serves (None: never compare).
    state_table: str | None = None
    production_stage_name: str = "production"
    # Stop reading the offline store this long before the function's timeout: time to write the
    # channels, or to fail with the retriable HistoryReadTimeout instead of a Lambda timeout.
    reserve_seconds: int = 60


class EvaluateSettings(BaseSettings):
    artifact_bucket: str


class RegisterSettings(BaseSettings):
    model_package_group_name: str
    # Comma-separated instance types the package declares (template parameters).
    realtime_instance_types: str = "ml.m5.large,ml.m5.xlarge,ml.c5.large,ml.c5.xlarge"
    transform_instance_types: str = "ml.m5.large,ml.m5.xlarge"


# -- the step: what the state machine caught -> a notification and the Fail state's error ------
class ReportSettings(BaseSettings):
    notification_topic_arn: str


class StartBuildSettings(BaseModel):
    """Where builds start. Field names match environment variables (load_settings):
    MODEL_BUILD_STATE_MACHINE_ARN, STATE_TABLE; the CLI fills them from the stack's Outputs."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    model_build_state_machine_arn: str = Field(min_length=1)
    state_table: str = Field(min_length=1)
    # A lock taken by a start whose execution is not visible yet is honoured this long.
    lock_grace_seconds: int = 300
    dedup_ttl_days: int = 30


class RegisterFunctionSettings(RegisterSettings):
    """RegisterModelFunction's: RegisterSettings and its Powertools Idempotency table."""

    idempotency_table: str
