"""Step Functions' optimized SageMaker integration (arn:aws:states:::sagemaker:<action>[.sync]).

moto forwards sagemaker tasks untouched and refuses `.sync` ("Unsupported .sync callback
procedure"). This integration, like AWS's (connect-sagemaker.html):
- request/response for every supported action (createModel, createEndpointConfig,
  createEndpoint, updateEndpoint, createTrainingJob, createTransformJob, ...): the API response
  is the task result; an API error fails the task with "SageMaker.<modeled error>Exception"
  (e.g. ResourceLimitExceededException, ResourceInUseException) or, for a code SageMaker does not
  model (ThrottlingException, ValidationException), "SageMaker.AmazonSageMakerException";
- `.sync` for createTrainingJob / createTransformJob / createProcessingJob: creates the job,
  polls Describe* until it ends; Completed -> the Describe* response is the task result
  (timestamps as epoch milliseconds, as the service serialises them); Failed/Stopped -> the task
  fails with States.TaskFailed and the Describe* response (with FailureReason) as Cause.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from botocore.exceptions import ClientError as BotoClientError
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials import (
    StateCredentials,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
    ResourceRuntimePart,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

from feecast_twin.patching import Patcher
from feecast_twin.sagemaker.serialize import convert_times, epoch_ms

# Actions of the optimized integration (connect-sagemaker.html), boto3 spelling.
_REQUEST_RESPONSE_ACTIONS: Final[set[str]] = {
    "create_endpoint",
    "create_endpoint_config",
    "create_hyper_parameter_tuning_job",
    "create_labeling_job",
    "create_model",
    "create_processing_job",
    "create_training_job",
    "create_transform_job",
    "update_endpoint",
    "stop_training_job",
    "describe_training_job",
}
# action -> (describe action, name parameter, status field)
_SYNC_ACTIONS: Final[dict[str, tuple[str, str, str]]] = {
    "create_training_job": ("describe_training_job", "TrainingJobName", "TrainingJobStatus"),
    "create_transform_job": ("describe_transform_job", "TransformJobName", "TransformJobStatus"),
    "create_processing_job": (
        "describe_processing_job",
        "ProcessingJobName",
        "ProcessingJobStatus",
    ),
}
_TERMINAL_OK: Final[set[str]] = {"Completed"}
_TERMINAL_BAD: Final[set[str]] = {"Failed", "Stopped"}


def _sfn_json(value: Any) -> Any:
    """The service's serialisation of a response: timestamps as epoch milliseconds."""
    return convert_times(value, epoch_ms)


class StateTaskServiceSageMaker(StateTaskServiceCallback):
    def __init__(self) -> None:
        # WaitForTaskToken is listed only so moto's callback machinery sets up the endpoint its
        # .sync path dereferences (moto 5.2.5 calls callback_endpoint.interrupt_all() on None
        # otherwise); a .waitForTaskToken resource is still refused below, as AWS refuses it.
        super().__init__(
            supported_integration_patterns={
                ResourceCondition.Sync,
                ResourceCondition.WaitForTaskToken,
            }
        )

    def _assert_integration_pattern_is_supported(self) -> None:
        if self.resource.condition not in (ResourceCondition.Sync, None):
            raise RuntimeError(
                f"Unsupported {self.resource.condition} callback procedure in resource "
                f"{self.resource.resource_arn}"
            )

    def _get_supported_parameters(self) -> set[str] | None:
        action = self._get_boto_service_action()
        if action not in _REQUEST_RESPONSE_ACTIONS:
            return None
        return _api_parameters(self.resource.api_action[:1].upper() + self.resource.api_action[1:])

    def _client(self, runtime: ResourceRuntimePart, credentials: StateCredentials) -> Any:
        return boto_client_for(
            service="sagemaker", region=runtime.region, state_credentials=credentials
        )

    def _from_error(self, env: Environment, ex: Exception) -> FailureEvent:
        if isinstance(ex, BotoClientError):
            from feecast_twin.faults import sfn_error_cause, sfn_error_name

            # SageMaker.ResourceLimitExceededException for a modeled error, else
            # SageMaker.AmazonSageMakerException (e.g. ThrottlingException, ValidationException).
            error = sfn_error_name("sagemaker", ex.response["Error"].get("Code", ""))
            cause = sfn_error_cause("AmazonSageMaker", ex)
            return FailureEvent(
                env=env,
                error_name=CustomErrorName(error),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(
                    taskFailedEventDetails=TaskFailedEventDetails(
                        error=error,
                        cause=cause,
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type(),
                    )
                ),
            )
        return super()._from_error(env=env, ex=ex)

    def _eval_service_task(
        self,
        env: Environment,
        resource_runtime_part: ResourceRuntimePart,
        normalised_parameters: dict[str, Any],
        state_credentials: StateCredentials,
    ) -> None:
        action = self._get_boto_service_action()
        client = self._client(resource_runtime_part, state_credentials)
        response = getattr(client, action)(**normalised_parameters)
        response.pop("ResponseMetadata", None)
        env.stack.append(_sfn_json(response))

    def _build_sync_resolver(
        self,
        env: Environment,
        resource_runtime_part: ResourceRuntimePart,
        normalised_parameters: dict[str, Any],
        state_credentials: StateCredentials,
    ) -> Callable[[], Any] | None:
        action = self._get_boto_service_action()
        if action not in _SYNC_ACTIONS:
            raise RuntimeError(
                f"Unsupported .sync callback procedure in resource {self.resource.resource_arn}"
            )
        describe, name_param, status_field = _SYNC_ACTIONS[action]
        env.stack.pop()  # the Create* response: .sync returns the Describe* response instead
        name = normalised_parameters[name_param]
        client = self._client(resource_runtime_part, state_credentials)

        def resolve() -> Any | None:
            response = getattr(client, describe)(**{name_param: name})
            response.pop("ResponseMetadata", None)
            status = response.get(status_field)
            if status in _TERMINAL_OK:
                return _sfn_json(response)
            if status in _TERMINAL_BAD:
                raise FailureEventException(
                    FailureEvent(
                        env=env,
                        error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                        event_type=HistoryEventType.TaskFailed,
                        event_details=EventDetails(
                            taskFailedEventDetails=TaskFailedEventDetails(
                                resource=self._get_sfn_resource(),
                                resourceType=self._get_sfn_resource_type(),
                                error=StatesErrorNameType.StatesTaskFailed.to_name(),
                                cause=json.dumps(_sfn_json(response), default=_default),
                            )
                        ),
                    )
                )
            return None

        return resolve


@functools.lru_cache(maxsize=32)
def _api_parameters(operation: str) -> set[str]:
    """The request members of a SageMaker API operation (what the integration passes on)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return set(model.operation_model(operation).input_shape.members)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return epoch_ms(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def install_sfn_integration(patches: Patcher) -> None:
    """Route Step Functions' "sagemaker" tasks to this integration (undone by `patches`)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory

    original = state_task_factory.state_task_service_for

    def state_task_service_for(service_name: str) -> Any:
        if service_name == "sagemaker":
            return StateTaskServiceSageMaker()
        return original(service_name=service_name)

    patches.replace(
        state_task_factory,
        "state_task_service_for",
        state_task_service_for,
        reason="Step Functions' SageMaker integration waits for .sync jobs and names their "
        "errors; moto refuses .sync",
    )
