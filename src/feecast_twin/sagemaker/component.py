"""SageMakerTwin: moto's sagemaker backend, made to behave like SageMaker for feecast.

What it patches (all undone by uninstall()):
- SageMakerModelBackend.create_training_job / create_transform_job: the job starts InProgress
  and runs the local DeepAR on a worker thread (channels read from the twin's S3), ending
  Completed (artifacts, metrics) or Failed (FailureReason). New: stop_training_job.
- create_endpoint / update_endpoint (new) / delete_endpoint: Creating/Updating -> InService or
  Failed on a worker thread, loading the model from the variant's ModelDataUrl; blue/green
  DeploymentConfig with AutoRollbackConfiguration alarms honoured.
- create_model_package / update_model_package: default PendingManualApproval, keep
  CustomerMetadataProperties across updates (moto drops them), emit state-change events.
- SageMakerRuntimeResponse.invoke_endpoint: answers from the deployed model (DeepAR format).
- Step Functions' "sagemaker" service integration (see stepfunctions.py): .sync for jobs.
Every state change emits the EventBridge event SageMaker emits (source "aws.sagemaker") through
twin.emit_event, off the caller's thread and in order per resource, and a twin record.
"""

from __future__ import annotations

import copy
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from feecast_twin.components import Component
from feecast_twin.deepar.errors import AlgorithmError, ClientError
from feecast_twin.patching import Patcher
from feecast_twin.sagemaker.serialize import (
    OrderedEmitter,
    convert_times,
    epoch_ms,
    iso_z,
    tags_map,
)
from feecast_twin.sagemaker.storage import S3Store, parse_s3_uri

if TYPE_CHECKING:
    from feecast_twin.host import Host

DEEPAR_IMAGE_MARK = "forecasting-deepar"
DEEPAR_METRIC_DEFINITIONS = [
    {"Name": "test:RMSE", "Regex": r"#test_score \(algo-1, RMSE\): (\S+)"},
    {
        "Name": "test:mean_wQuantileLoss",
        "Regex": r"#test_score \(algo-1, mean_wQuantileLoss\): (\S+)",
    },
    {
        "Name": "train:final_loss",
        "Regex": r"#quality_metric: host=algo-1, epoch=\d+, train final_loss <loss>=(\S+)",
    },
]
ENDPOINT_EVENT_STATUS = {
    "Creating": "CREATING",
    "Updating": "UPDATING",
    "InService": "IN_SERVICE",
    "Failed": "FAILED",
    "Deleting": "DELETING",
    "RollingBack": "ROLLING_BACK",
    "OutOfService": "OUT_OF_SERVICE",
    "SystemUpdating": "SYSTEM_UPDATING",
    "UpdateRollbackFailed": "UPDATE_ROLLBACK_FAILED",
}


#: sagemaker-runtime errors without a model status -> the HTTP status SageMaker answers with.
_STATUS_OF_CODE = {"ThrottlingException": 429, "ValidationError": 400, "ServiceUnavailable": 503}


class DeployError(Exception):
    """An endpoint could not load its model(s); the message becomes FailureReason."""


@dataclass
class EndpointState:
    """What moto does not keep: the loaded models and the transition in flight."""

    generation: int = 0
    config_name: str | None = None
    models: dict[str, Any] = field(default_factory=dict)  # variant name -> ServingContainer
    variant_models: dict[str, str] = field(default_factory=dict)  # variant name -> model name


@dataclass(frozen=True)
class InvokeFault:
    code: str
    status: int
    message: str
    endpoint_name: str | None


def _below(uri: str, key: str) -> str:
    """Where SageMaker puts an object of an S3Prefix channel: its path below the prefix."""
    prefix = parse_s3_uri(uri)[1] if uri.startswith("s3://") else ""
    relative = key[len(prefix) :].lstrip("/") if key.startswith(prefix) else ""
    return relative or key.rsplit("/", 1)[-1]


def _split(data: bytes, split: str) -> list[bytes]:
    """The records of an input file: its non-empty lines (SplitType=Line) or the whole file."""
    if split == "Line":
        return [line + b"\n" for line in data.splitlines() if line.strip()]
    return [data] if data.strip() else []


def _mini_batches(records: list[bytes], limit: int) -> list[bytes]:
    """MultiRecord: as many whole records per request as fit in MaxPayloadInMB."""
    batches: list[bytes] = []
    current = b""
    for record in records:
        if current and len(current) + len(record) > limit:
            batches.append(current)
            current = b""
        current += record
    if current:
        batches.append(current)
    return batches


def _instance_based(variants: list[dict[str, Any]]) -> bool:
    return any("InstanceType" in v or "InitialInstanceCount" in v for v in variants)


def _image_of(container: dict[str, Any]) -> str:
    return str(container.get("Image") or container.get("TrainingImage") or "")


class SageMakerTwin(Component):
    name = "sagemaker"

    def __init__(self, twin: Host) -> None:
        super().__init__(twin)
        self._patches = Patcher("feecast_twin.sagemaker.component")
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="twin-sagemaker")
        self._futures: set[Future[Any]] = set()
        self._lock = threading.RLock()
        self._endpoints: dict[tuple[str, str, str], EndpointState] = {}
        self._stop_requests: set[tuple[str, str, str]] = set()
        self._stop_events: dict[tuple[str, str, str], threading.Event] = {}
        self._emitter = OrderedEmitter(self._deliver)
        self.errors: list[str] = []  # unexpected exceptions in worker threads (tests assert [])
        # Failures no input can cause (spot capacity, out of memory), injected by tests.
        self._injected_training_failures: list[str] = []
        self._injected_transform_failures: list[str] = []
        self._injected_endpoint_failures: list[tuple[str, str | None]] = []  # (reason, endpoint)
        self._injected_invoke_failures: list[InvokeFault] = []

    def inject_training_failure(self, reason: str, *, jobs: int = 1) -> None:
        """Make the next `jobs` training jobs fail with AlgorithmError(reason), as an
        infrastructure failure would on SageMaker (their input stays valid)."""
        with self._lock:
            self._injected_training_failures.extend([reason] * jobs)

    def inject_transform_failure(self, reason: str, *, jobs: int = 1) -> None:
        """Make the next `jobs` transform jobs fail with AlgorithmError(reason) (FailureReason
        "AlgorithmError: <reason>"), as a container crash would; their input stays valid."""
        with self._lock:
            self._injected_transform_failures.extend([reason] * jobs)

    def inject_endpoint_failure(
        self, reason: str, *, endpoints: int = 1, endpoint_name: str | None = None
    ) -> None:
        """Make the next `endpoints` CreateEndpoint / UpdateEndpoint transitions (of
        `endpoint_name` only, when given) fail with FailureReason `reason`, as an instance
        that cannot start would. A create ends `Failed`; an update of an InService endpoint
        ends `InService` on its previous configuration, with FailureReason (SageMaker's
        DescribeEndpoint: "Failed, or InService but the update operation failed"). Each emits
        "SageMaker Endpoint State Change" as SageMaker does."""
        with self._lock:
            self._injected_endpoint_failures.extend([(reason, endpoint_name)] * endpoints)

    def inject_invoke_failure(
        self,
        *,
        code: str = "ModelError",
        status: int = 500,
        message: str = "injected failure",
        times: int = 1,
        endpoint_name: str | None = None,
    ) -> None:
        """Make the next `times` InvokeEndpoint calls (to `endpoint_name` only, when given) of an
        endpoint that would answer fail as sagemaker-runtime fails them: `ModelError` (HTTP 424,
        the container answered `status` with `message`: OriginalStatusCode, OriginalMessage,
        LogStreamArn), or another runtime error code (InternalFailure 500, ServiceUnavailable
        503, ModelNotReadyException 429, ThrottlingException 400). Works for in-process boto3
        and `feecast local serve` alike."""
        with self._lock:
            self._injected_invoke_failures.extend(
                [InvokeFault(code, status, message, endpoint_name)] * times
            )

    def _take_endpoint_failure(self, endpoint_name: str) -> str | None:
        with self._lock:
            for i, (reason, name) in enumerate(self._injected_endpoint_failures):
                if name is None or name == endpoint_name:
                    del self._injected_endpoint_failures[i]
                    return reason
        return None

    def _take_invoke_failure(self, endpoint_name: str) -> InvokeFault | None:
        with self._lock:
            for i, fault in enumerate(self._injected_invoke_failures):
                if fault.endpoint_name is None or fault.endpoint_name == endpoint_name:
                    del self._injected_invoke_failures[i]
                    return fault
        return None

    # -- Component -----------------------------------------------------------------------------
    def install(self, twin: Host) -> None:
        from moto.sagemaker.models import SageMakerModelBackend
        from moto.sagemaker.responses import SageMakerResponse
        from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

        from feecast_twin.sagemaker import responses, unique_names
        from feecast_twin.sagemaker.stepfunctions import install_sfn_integration

        self.twin = twin
        b, patches = SageMakerModelBackend, self._patches
        patches.replace(
            b,
            "create_training_job",
            self._wrap_create_training_job(b.create_training_job),
            reason="SageMaker runs the training job (here the local DeepAR in its own process) "
            "and reports its states; moto only stores it",
        )
        patches.add(
            b,
            "stop_training_job",
            self._backend_stop_training_job(),
            reason="moto 5.2.5 has no StopTrainingJob (backend)",
        )
        patches.replace(
            b,
            "create_transform_job",
            self._wrap_create_transform_job(b.create_transform_job),
            reason="SageMaker runs the batch transform (the local DeepAR in its own process); "
            "moto only stores it",
        )
        patches.replace(
            b,
            "create_endpoint",
            self._wrap_create_endpoint(b.create_endpoint),
            reason="an endpoint goes Creating -> InService (or Failed) serving its model in a "
            "process; moto makes it InService at once",
        )
        patches.add(
            b,
            "update_endpoint",
            self._backend_update_endpoint(),
            reason="moto 5.2.5 has no UpdateEndpoint (backend)",
        )
        for name, wrapper in unique_names.wraps(b):
            patches.replace(
                b,
                name,
                wrapper,
                reason="SageMaker refuses a second model or endpoint configuration of a taken "
                "name (ValidationException); moto overwrites it",
            )
        patches.replace(
            b,
            "delete_endpoint",
            self._wrap_delete_endpoint(b.delete_endpoint),
            reason="deleting an endpoint passes Deleting and stops its model processes",
        )
        patches.replace(
            b,
            "create_model_package",
            self._wrap_create_model_package(b.create_model_package),
            reason="a versioned package starts PendingManualApproval and SageMaker emits its "
            "state-change event",
        )
        patches.replace(
            b,
            "update_model_package",
            self._wrap_update_model_package(b.update_model_package),
            reason="SageMaker merges CustomerMetadataProperties, keeps unsent fields and emits "
            "the state-change event",
        )
        patches.add(
            SageMakerResponse,
            "update_endpoint",
            responses.update_endpoint,
            reason="moto 5.2.5 has no UpdateEndpoint (API)",
        )
        patches.add(
            SageMakerResponse,
            "stop_training_job",
            responses.stop_training_job,
            reason="moto 5.2.5 has no StopTrainingJob (API)",
        )
        patches.replace(
            SageMakerRuntimeResponse,
            "invoke_endpoint",
            responses.runtime_invoke_endpoint(self),
            reason="InvokeEndpoint answers with the endpoint's model; moto returns canned results",
        )
        install_sfn_integration(patches.share("feecast_twin.sagemaker.stepfunctions"))

    def uninstall(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=False)
        self._emitter.join()
        with self._lock:
            states, self._endpoints = list(self._endpoints.values()), {}
        for state in states:
            self._stop_containers(state.models)
        self._patches.undo()

    def busy(self) -> bool:
        with self._lock:
            self._futures = {f for f in self._futures if not f.done()}
            running = bool(self._futures)
        return running or self._emitter.busy()

    def on_tick(self, now: datetime) -> None:
        # Transitions run on worker threads as soon as they are requested; settle() waits for
        # them through busy(). Nothing is time-driven on a tick.
        return None

    def wait_idle(self, timeout: float = 300.0) -> None:
        """Block until no job, endpoint transition or event delivery is in flight."""
        deadline = time.monotonic() + timeout
        while self.busy():
            if time.monotonic() > deadline:
                raise TimeoutError(f"SageMaker twin still busy after {timeout}s")
            time.sleep(0.02)

    # -- plumbing ------------------------------------------------------------------------------
    def _submit(self, fn: Callable[..., None], *args: Any) -> None:
        def run() -> None:
            try:
                fn(*args)
            except BaseException:  # a bug in the twin: keep it visible
                self.errors.append(traceback.format_exc())
                raise

        with self._lock:
            self._futures.add(self._executor.submit(run))

    def _deliver(self, event: dict[str, Any]) -> None:
        self.twin.emit_event(**event)

    def _emit(self, detail_type: str, arn: str, detail: dict[str, Any]) -> None:
        self._emitter.emit(
            arn,
            {
                "source": "aws.sagemaker",
                "detail_type": detail_type,
                "detail": detail,
                "resources": [arn],
            },
        )

    def _record(self, kind: str, **fields: Any) -> None:
        self.twin.record(kind, **fields)

    def s3(self, backend: Any) -> S3Store:
        return S3Store(backend.account_id, backend.region_name)

    @staticmethod
    def _now() -> datetime:
        from moto.core.utils import utcnow

        return utcnow()

    # -- training jobs -------------------------------------------------------------------------
    def _wrap_create_training_job(self, original: Callable[..., Any]) -> Callable[..., Any]:
        twin = self

        def create_training_job(backend: Any, training_job_name: str, **kwargs: Any) -> Any:
            from moto.sagemaker.exceptions import ResourceInUseException

            if training_job_name in backend.training_jobs:
                arn = backend.training_jobs[training_job_name].arn
                raise ResourceInUseException(
                    message=f"Training job names must be unique within an AWS account and region, "
                    f"and a training job with this name already exists ({arn})"
                )
            job = original(backend, training_job_name=training_job_name, **kwargs)
            # Every attribute the worker will set exists now: describe iterates __dict__.
            now = twin._now()
            job.training_job_status = "InProgress"
            job.secondary_status = "Starting"
            job.failure_reason = None
            job.training_start_time = None
            job.training_end_time = None
            job.model_artifacts = None
            job.final_metric_data_list = None
            job.algorithm_specification = {
                **{
                    k: v for k, v in job.algorithm_specification.items() if k != "MetricDefinitions"
                },
                "MetricDefinitions": copy.deepcopy(DEEPAR_METRIC_DEFINITIONS),
            }
            job.secondary_status_transitions = [
                {
                    "Status": "Starting",
                    "StartTime": now,
                    "StatusMessage": "Launching requested ML instances",
                }
            ]
            job.creation_time = job.last_modified_time = now
            twin._training_event(backend, job)
            twin._submit(twin._run_training, backend, job)
            return job

        return create_training_job

    def _backend_stop_training_job(self) -> Callable[..., Any]:
        twin = self

        def stop_training_job(backend: Any, training_job_name: str) -> None:
            from moto.sagemaker.exceptions import ValidationError

            job = backend.training_jobs.get(training_job_name)
            if job is None:
                raise ValidationError(message=f"Requested resource not found: {training_job_name}")
            if job.training_job_status != "InProgress":
                raise ValidationError(
                    message=f"The request was rejected because the training job is in status "
                    f"{job.training_job_status}."
                )
            key = (backend.account_id, backend.region_name, training_job_name)
            twin._stop_requests.add(key)
            twin._stop_event(key).set()
            job.training_job_status = "Stopping"
            job.secondary_status = "Stopping"
            job.last_modified_time = twin._now()
            twin._training_event(backend, job)

        return stop_training_job

    def _training_event(self, backend: Any, job: Any) -> None:
        detail = convert_times(job.response_object, lambda t: str(epoch_ms(t)))
        detail["Tags"] = tags_map(job.tags)
        self._emit("SageMaker Training Job State Change", job.arn, detail)
        self._record(
            "training-job",
            name=job.training_job_name,
            status=job.training_job_status,
            secondary_status=job.secondary_status,
            failure_reason=job.failure_reason,
        )

    @staticmethod
    def _transition(job: Any, now: datetime, status: str, message: str, *, last: bool) -> None:
        """End the open SecondaryStatusTransition and open `status` (closed at once if last)."""
        transitions = [dict(t) for t in job.secondary_status_transitions]
        if transitions and "EndTime" not in transitions[-1]:
            transitions[-1]["EndTime"] = now
        entry: dict[str, Any] = {"Status": status, "StartTime": now}
        if last:
            entry["EndTime"] = now
        entry["StatusMessage"] = message
        transitions.append(entry)
        job.secondary_status_transitions = transitions
        job.secondary_status = status
        job.last_modified_time = now

    def _secondary(self, backend: Any, job: Any, status: str, message: str) -> None:
        self._transition(job, self._now(), status, message, last=False)
        self._training_event(backend, job)

    def _end_training(
        self, backend: Any, job: Any, status: str, secondary: str, message: str, reason: str | None
    ) -> None:
        now = self._now()
        job.failure_reason = reason
        job.training_end_time = now
        if job.training_start_time is None:
            job.training_start_time = now
        self._transition(job, now, secondary, message, last=True)
        job.training_job_status = status
        self._training_event(backend, job)

    def _check_image(self, image: str, what: str) -> None:
        if DEEPAR_IMAGE_MARK not in image:
            raise ClientError(
                f"{what}: image {image!r} is not supported by the local twin, which runs only "
                f"SageMaker's built-in DeepAR ({DEEPAR_IMAGE_MARK})"
            )

    def _run_training(self, backend: Any, job: Any) -> None:
        from feecast_twin.sagemaker.containers import run_training_container

        key = (backend.account_id, backend.region_name, job.training_job_name)
        logs: list[str] = []
        try:
            spec = job.algorithm_specification or {}
            self._check_image(
                _image_of(spec) or str(spec.get("AlgorithmName", "")), "AlgorithmSpecification"
            )
            job.training_start_time = self._now()
            self._secondary(backend, job, "Downloading", "Downloading input data")
            store = self.s3(backend)
            channels: dict[str, list[tuple[str, bytes]]] = {}
            for channel in job.input_data_config or []:
                name = channel.get("ChannelName", "")
                source = (channel.get("DataSource") or {}).get("S3DataSource")
                if source is None:
                    raise ClientError(
                        f"Channel {name!r} has no S3DataSource (the only source supported)"
                    )
                files = store.read_data_source(source, f"channel {name!r}")
                channels[name] = [
                    (_below(source.get("S3Uri", ""), file_key), data) for file_key, data in files
                ]
            output_path = (job.output_data_config or {}).get("S3OutputPath", "")
            parse_s3_uri(output_path)
            self._secondary(
                backend, job, "Training", "Training image download completed. Training in progress."
            )
            with self._lock:
                injected = (
                    self._injected_training_failures.pop(0)
                    if self._injected_training_failures
                    else None
                )
            if injected is not None:
                raise AlgorithmError(injected)
            # The algorithm runs in its own process (the container); the twin only moves data.
            outcome = run_training_container(
                self.twin,
                channels,
                job.hyper_parameters,
                stop=self._stop_event(key),
                environment=getattr(job, "environment", None) or {},
            )
            logs.extend(outcome.logs)
            if outcome.stopped or key in self._stop_requests:
                self._end_training(backend, job, "Stopped", "Stopped", "Training job stopped", None)
                return
            if not outcome.succeeded:
                reason = outcome.failure_reason or "AlgorithmError: training failed"
                self._end_training(backend, job, "Failed", "Failed", "Training job failed", reason)
                return
            self._secondary(backend, job, "Uploading", "Uploading generated training model")
            model_uri = f"{output_path.rstrip('/')}/{job.training_job_name}/output/model.tar.gz"
            store.put(model_uri, outcome.model_tar)
            checkpoint_uri = (job.checkpoint_config or {}).get("S3Uri")
            if checkpoint_uri:
                for rel, data in outcome.checkpoint_files.items():
                    store.put(f"{checkpoint_uri.rstrip('/')}/{rel}", data)
            now = self._now()
            metrics = outcome.metrics(job.algorithm_specification.get("MetricDefinitions") or [])
            job.model_artifacts = {"S3ModelArtifacts": model_uri}
            job.final_metric_data_list = [
                {"MetricName": name, "Value": value, "Timestamp": now}
                for name, value in sorted(metrics.items())
            ]
            self._end_training(
                backend, job, "Completed", "Completed", "Training job completed", None
            )
        except (ClientError, AlgorithmError) as exc:
            logs.append(exc.failure_reason)
            status = "Stopped" if key in self._stop_requests else "Failed"
            self._end_training(
                backend, job, status, status, "Training job failed", exc.failure_reason
            )
        except Exception as exc:
            logs.append(traceback.format_exc())
            self._end_training(
                backend,
                job,
                "Failed",
                "Failed",
                "Training job failed",
                f"InternalServerError: {type(exc).__name__}: {exc}",
            )
        finally:
            self._stop_requests.discard(key)
            with self._lock:
                self._stop_events.pop(key, None)
            self._write_logs(backend, "/aws/sagemaker/TrainingJobs", job.training_job_name, logs)

    def _stop_event(self, key: tuple[str, str, str]) -> threading.Event:
        with self._lock:
            event = self._stop_events.setdefault(key, threading.Event())
            if key in self._stop_requests:
                event.set()
            return event

    def _write_logs(self, backend: Any, group: str, job_name: str, lines: list[str]) -> None:
        """The job's log lines to CloudWatch Logs, in the group and stream SageMaker uses."""
        if not lines:
            return
        from moto.logs.models import logs_backends

        logs = logs_backends[backend.account_id][backend.region_name]
        if group not in logs.groups:
            logs.create_log_group(group, tags={})
        stream = f"{job_name}/algo-1-{epoch_ms(self._now()) // 1000}"
        if stream not in logs.groups[group].streams:
            logs.create_log_stream(group, stream)
        stamp = epoch_ms(self._now())
        logs.put_log_events(
            group, stream, [{"timestamp": stamp, "message": line} for line in lines]
        )

    # -- transform jobs ------------------------------------------------------------------------
    def _wrap_create_transform_job(self, original: Callable[..., Any]) -> Callable[..., Any]:
        twin = self

        def create_transform_job(backend: Any, transform_job_name: str, **kwargs: Any) -> Any:
            from moto.sagemaker.exceptions import ResourceInUseException, ValidationError

            if transform_job_name in backend.transform_jobs:
                arn = backend.transform_jobs[transform_job_name].arn
                raise ResourceInUseException(
                    message=f"Job name must be unique within an AWS account and region, and a job "
                    f"with this name already exists ({arn})"
                )
            model_name = kwargs.get("model_name")
            if model_name not in backend._models:
                from moto.sagemaker.utils import arn_formatter

                arn = arn_formatter(
                    "model", str(model_name), backend.account_id, backend.region_name
                )
                raise ValidationError(message=f'Could not find model "{arn}".')
            job = original(backend, transform_job_name=transform_job_name, **kwargs)
            now = twin._now()
            job.transform_job_status = "InProgress"
            job.failure_reason = None
            job.transform_start_time = None
            job.transform_end_time = None
            job.creation_time = job.last_modified_time = now
            twin._transform_event(job)
            twin._submit(twin._run_transform, backend, job)
            return job

        return create_transform_job

    def _transform_event(self, job: Any) -> None:
        detail = convert_times(job.response_object, iso_z)
        detail["Tags"] = tags_map(job.tags)
        self._emit("SageMaker Transform Job State Change", job.arn, detail)
        self._record(
            "transform-job",
            name=job.transform_job_name,
            status=job.transform_job_status,
            failure_reason=job.failure_reason,
        )

    def _run_transform(self, backend: Any, job: Any) -> None:
        from feecast_twin.sagemaker.containers import ContainerError, ServingContainer

        logs: list[str] = []
        container: ServingContainer | None = None
        try:
            job.transform_start_time = self._now()
            with self._lock:
                injected = (
                    self._injected_transform_failures.pop(0)
                    if self._injected_transform_failures
                    else None
                )
            if injected is not None:
                raise AlgorithmError(injected)
            model = backend._models.get(job.model_name)
            if model is None:
                raise ClientError(f"Model {job.model_name!r} was deleted before the job started")
            container_spec = model.primary_container or (
                model.containers[0] if model.containers else {}
            )
            self._check_image(_image_of(container_spec), f"model {job.model_name!r}")
            model_url = container_spec.get("ModelDataUrl")
            if not model_url:
                raise ClientError(f"model {job.model_name!r} has no ModelDataUrl")
            store = self.s3(backend)
            tin = job.transform_input or {}
            split = tin.get("SplitType", "None")
            if split not in ("None", "Line"):
                raise ClientError(f"SplitType {split!r} is not supported by DeepAR (use Line)")
            strategy = job.batch_strategy or "MultiRecord"
            if strategy not in ("SingleRecord", "MultiRecord"):
                raise ClientError(f"BatchStrategy {strategy!r} is not valid")
            max_payload_mb = int(job.max_payload_in_mb or 6)
            source = (tin.get("DataSource") or {}).get("S3DataSource") or {}
            files = store.read_data_source(source, "TransformInput")
            input_uri = source.get("S3Uri", "")
            output_path = (job.transform_output or {}).get("S3OutputPath", "")
            parse_s3_uri(output_path)
            content_type = tin.get("ContentType") or "application/jsonlines"
            # What SageMaker sets in a batch transform's containers, then the model's and the
            # job's environment (the job's wins).
            environment = {
                "SAGEMAKER_BATCH": "true",
                "SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD"
                if strategy == "SingleRecord"
                else "MULTI_RECORD",
                "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(max_payload_mb),
                **(container_spec.get("Environment") or {}),
                **(job.environment or {}),
            }
            try:
                container = ServingContainer.start(self.twin, store.get(model_url), environment)
            except ContainerError as exc:
                raise ClientError(str(exc)) from None
            for key, data in files:
                # SageMaker keeps the path below the input prefix and appends ".out".
                rel = _below(input_uri, key)
                records = _split(data, split)
                requests = (
                    records
                    if strategy == "SingleRecord"
                    else _mini_batches(records, max_payload_mb * 1024 * 1024)
                )
                parts: list[bytes] = []
                for request in requests:
                    status, body, _ = container.invoke(request, content_type)
                    if status != 200:
                        raise ClientError(f"{key}: {body.decode('utf-8', errors='replace')}")
                    if body and not body.endswith(b"\n"):  # AssembleWith=Line
                        body += b"\n"
                    parts.append(body)
                out = b"".join(parts)
                store.put(f"{output_path.rstrip('/')}/{rel}.out", out)
                lines = out.count(b"\n")
                logs.append(f"Transformed {key}: {lines} record(s) -> {rel}.out")
            self._end_transform(job, "Completed", None)
        except (ClientError, AlgorithmError) as exc:
            logs.append(exc.failure_reason)
            self._end_transform(job, "Failed", exc.failure_reason)
        except Exception as exc:
            logs.append(traceback.format_exc())
            self._end_transform(job, "Failed", f"InternalServerError: {type(exc).__name__}: {exc}")
        finally:
            if container is not None:
                logs[:0] = container.logs()
                container.stop()
            self._write_logs(backend, "/aws/sagemaker/TransformJobs", job.transform_job_name, logs)

    def _end_transform(self, job: Any, status: str, reason: str | None) -> None:
        now = self._now()
        job.failure_reason = reason
        job.transform_end_time = now
        job.last_modified_time = now
        job.transform_job_status = status
        self._transform_event(job)

    # -- endpoints -----------------------------------------------------------------------------
    def _state(self, backend: Any, name: str) -> EndpointState:
        key = (backend.account_id, backend.region_name, name)
        with self._lock:
            return self._endpoints.setdefault(key, EndpointState())

    def endpoint_state(self, account_id: str, region: str, name: str) -> EndpointState | None:
        with self._lock:
            return self._endpoints.get((account_id, region, name))

    def _endpoint_event(self, backend: Any, endpoint: Any) -> None:
        detail: dict[str, Any] = {
            "EndpointName": endpoint.endpoint_name,
            "EndpointArn": endpoint.arn,
            "EndpointConfigName": endpoint.endpoint_config_name,
            "ProductionVariants": [
                {
                    k: v
                    for k, v in {
                        "VariantName": pv.get("VariantName"),
                        "DesiredWeight": pv.get("DesiredWeight"),
                        "DesiredInstanceCount": pv.get("DesiredInstanceCount"),
                        "DesiredServerlessConfig": pv.get("DesiredServerlessConfig"),
                    }.items()
                    if v is not None
                }
                for pv in endpoint.production_variants
            ],
            "EndpointStatus": ENDPOINT_EVENT_STATUS.get(
                endpoint.endpoint_status, endpoint.endpoint_status
            ),
            "CreationTime": float(epoch_ms(endpoint.creation_time)),
            "LastModifiedTime": float(epoch_ms(endpoint.last_modified_time)),
            "Tags": tags_map(endpoint.tags),
        }
        if endpoint.failure_reason:
            detail["FailureReason"] = endpoint.failure_reason
        self._emit("SageMaker Endpoint State Change", endpoint.arn, detail)
        self._record(
            "endpoint",
            name=endpoint.endpoint_name,
            status=endpoint.endpoint_status,
            config=endpoint.endpoint_config_name,
            failure_reason=endpoint.failure_reason,
        )

    def _set_endpoint_status(
        self, backend: Any, endpoint: Any, status: str, reason: str | None = None
    ) -> None:
        endpoint.failure_reason = reason
        endpoint.endpoint_status = status
        endpoint.last_modified_time = self._now()
        self._endpoint_event(backend, endpoint)

    def _wrap_create_endpoint(self, original: Callable[..., Any]) -> Callable[..., Any]:
        twin = self

        def create_endpoint(
            backend: Any, endpoint_name: str, endpoint_config_name: str, tags: Any
        ) -> Any:
            from moto.sagemaker.exceptions import ValidationError
            from moto.sagemaker.models import FakeEndpoint

            if endpoint_name in backend.endpoints:
                arn = FakeEndpoint.arn_formatter(
                    endpoint_name, backend.account_id, backend.region_name
                )
                raise ValidationError(message=f'Cannot create already existing endpoint "{arn}".')
            endpoint = original(
                backend,
                endpoint_name=endpoint_name,
                endpoint_config_name=endpoint_config_name,
                tags=tags,
            )
            endpoint.last_deployment_config = None
            state = twin._state(backend, endpoint_name)
            with twin._lock:
                state.generation += 1
                generation = state.generation
                old = state.models
                state.models, state.variant_models, state.config_name = {}, {}, None
            twin._stop_containers(old)
            twin._set_endpoint_status(backend, endpoint, "Creating")
            twin._submit(twin._finish_create, backend, endpoint, generation)
            return endpoint

        return create_endpoint

    def _load_variants(
        self, backend: Any, config_name: str
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Start one serving container per production variant (as SageMaker provisions each
        variant); DeployError, with every container stopped, when one cannot serve."""
        from feecast_twin.sagemaker.containers import ContainerError, ServingContainer

        config = backend.endpoint_configs.get(config_name)
        if config is None:
            raise DeployError(f"Could not find endpoint configuration {config_name!r}.")
        containers: dict[str, Any] = {}
        names: dict[str, str] = {}
        store = self.s3(backend)
        try:
            for variant in config.production_variants:
                variant_name = variant["VariantName"]
                model_name = variant.get("ModelName", "")
                model = backend._models.get(model_name)
                if model is None:
                    raise DeployError(
                        f"Could not find model {model_name!r} of variant {variant_name!r}."
                    )
                container = model.primary_container or (
                    model.containers[0] if model.containers else {}
                )
                try:
                    self._check_image(_image_of(container), f"model {model_name!r}")
                except ClientError as exc:
                    raise DeployError(str(exc)) from None
                url = container.get("ModelDataUrl")
                if not url:
                    raise DeployError(f"Model {model_name!r} has no ModelDataUrl.")
                try:
                    data = store.get(url)
                except ClientError as exc:
                    raise DeployError(
                        f'Could not download model data from "{url}" for variant {variant_name!r}: {exc}. '
                        "Please ensure that the object exists and the role can read it."
                    ) from None
                try:
                    containers[variant_name] = ServingContainer.start(
                        self.twin, data, container.get("Environment") or {}
                    )
                except ContainerError as exc:
                    raise DeployError(
                        f'Failed to extract model data archive from URL "{url}". Please ensure that the '
                        f"object located at the URL is a valid tar.gz archive of a DeepAR model ({exc})."
                    ) from None
                names[variant_name] = model_name
        except BaseException:
            for started in containers.values():
                started.stop()
            raise
        return containers, names

    @staticmethod
    def _stop_containers(containers: dict[str, Any]) -> None:
        for container in containers.values():
            container.stop()

    def _current(self, backend: Any, endpoint: Any, generation: int) -> bool:
        state = self._state(backend, endpoint.endpoint_name)
        return (
            backend.endpoints.get(endpoint.endpoint_name) is endpoint
            and state.generation == generation
        )

    def _finish_create(self, backend: Any, endpoint: Any, generation: int) -> None:
        try:
            injected = self._take_endpoint_failure(endpoint.endpoint_name)
            if injected is not None:
                raise DeployError(injected)
            models, names = self._load_variants(backend, endpoint.endpoint_config_name)
        except DeployError as exc:
            if self._current(backend, endpoint, generation):
                self._set_endpoint_status(backend, endpoint, "Failed", str(exc))
            return
        if not self._current(backend, endpoint, generation):
            self._stop_containers(models)
            return  # deleted (or recreated) while it was being created
        state = self._state(backend, endpoint.endpoint_name)
        with self._lock:
            old, state.models, state.variant_models = state.models, models, names
            state.config_name = endpoint.endpoint_config_name
        self._stop_containers(old)
        self._set_endpoint_status(backend, endpoint, "InService")

    def _backend_update_endpoint(self) -> Callable[..., Any]:
        twin = self

        def update_endpoint(
            backend: Any,
            endpoint_name: str,
            endpoint_config_name: str,
            deployment_config: dict[str, Any] | None = None,
            retain_all_variant_properties: bool = False,
            retain_deployment_config: bool = False,
        ) -> str:
            from moto.sagemaker.exceptions import ValidationError
            from moto.sagemaker.models import FakeEndpoint

            arn = FakeEndpoint.arn_formatter(endpoint_name, backend.account_id, backend.region_name)
            endpoint = backend.endpoints.get(endpoint_name)
            if endpoint is None:
                raise ValidationError(message=f'Could not find endpoint "{arn}".')
            if endpoint.endpoint_status != "InService":
                raise ValidationError(
                    message=f'Cannot update in-progress endpoint "{arn}".'
                    if endpoint.endpoint_status
                    in ("Creating", "Updating", "Deleting", "RollingBack")
                    else f'Cannot update endpoint "{arn}" in status {endpoint.endpoint_status}.'
                )
            new_config = backend.describe_endpoint_config(endpoint_config_name)  # missing: error
            # serverless-endpoints-update.html: "Updating a real-time inference endpoint to
            # on-demand serverless endpoint ... is currently not supported."
            old_config = backend.endpoint_configs.get(endpoint.endpoint_config_name)
            if (
                old_config is not None
                and _instance_based(old_config.production_variants)
                and any("ServerlessConfig" in v for v in new_config.get("ProductionVariants", []))
            ):
                raise ValidationError(
                    message=f'Cannot update endpoint "{arn}" with an instance-based endpoint '
                    "configuration to a serverless endpoint configuration."
                )
            if retain_deployment_config and not deployment_config:
                deployment_config = endpoint.last_deployment_config
            state = twin._state(backend, endpoint_name)
            with twin._lock:
                state.generation += 1
                generation = state.generation
            twin._set_endpoint_status(backend, endpoint, "Updating")
            twin._submit(
                twin._finish_update,
                backend,
                endpoint,
                generation,
                endpoint_config_name,
                deployment_config,
            )
            return endpoint.arn

        return update_endpoint

    def _alarms_in_alarm(self, backend: Any, deployment_config: dict[str, Any] | None) -> list[str]:
        names = [
            a.get("AlarmName")
            for a in ((deployment_config or {}).get("AutoRollbackConfiguration") or {}).get(
                "Alarms", []
            )
        ]
        if not names:
            return []
        from moto.cloudwatch.models import cloudwatch_backends

        alarms = cloudwatch_backends[backend.account_id][backend.region_name].alarms
        return [n for n in names if n in alarms and alarms[n].state_value == "ALARM"]

    def _finish_update(
        self,
        backend: Any,
        endpoint: Any,
        generation: int,
        config_name: str,
        deployment_config: dict[str, Any] | None,
    ) -> None:
        try:
            injected = self._take_endpoint_failure(endpoint.endpoint_name)
            if injected is not None:
                raise DeployError(injected)
            models, names = self._load_variants(backend, config_name)
        except DeployError as exc:
            # A failed update leaves the endpoint serving its previous configuration.
            if self._current(backend, endpoint, generation):
                self._set_endpoint_status(
                    backend,
                    endpoint,
                    "InService",
                    f"Endpoint update failed and was rolled back: {exc}",
                )
            return
        if not self._current(backend, endpoint, generation):
            self._stop_containers(models)
            return
        # Blue/green with auto-rollback: SageMaker watches the alarms while the new fleet takes
        # traffic (instant here); any alarm in ALARM rolls the whole update back.
        tripped = self._alarms_in_alarm(backend, deployment_config)
        if tripped:
            self._stop_containers(models)
            self._set_endpoint_status(
                backend,
                endpoint,
                "InService",
                f"Endpoint update was rolled back to endpoint configuration "
                f"{endpoint.endpoint_config_name!r} because alarm(s) {tripped} were in ALARM "
                "during the deployment.",
            )
            return
        config = backend.endpoint_configs[config_name]
        state = self._state(backend, endpoint.endpoint_name)
        with self._lock:
            old = state.models
            state.models, state.variant_models, state.config_name = models, names, config_name
        self._stop_containers(old)  # the blue fleet, once the green one serves
        endpoint.endpoint_config_name = config_name
        endpoint.production_variants = endpoint._process_production_variants(
            config.production_variants
        )
        if deployment_config:
            endpoint.last_deployment_config = deployment_config
        self._set_endpoint_status(backend, endpoint, "InService")

    def _wrap_delete_endpoint(self, original: Callable[..., Any]) -> Callable[..., Any]:
        twin = self

        def delete_endpoint(backend: Any, endpoint_name: str) -> None:
            endpoint = backend.endpoints.get(endpoint_name)
            if endpoint is not None:
                twin._set_endpoint_status(backend, endpoint, "Deleting")
            original(backend, endpoint_name)
            with twin._lock:
                state = twin._endpoints.pop(
                    (backend.account_id, backend.region_name, endpoint_name), None
                )
            if state is not None:
                twin._stop_containers(state.models)

        return delete_endpoint

    # -- invocation ----------------------------------------------------------------------------
    def invoke(
        self,
        account_id: str,
        region: str,
        endpoint_name: str,
        body: bytes,
        content_type: str,
        target_variant: str | None = None,
    ) -> tuple[bytes, str]:
        """(response body, invoked variant); raises the runtime's errors (see responses.py).
        Each call that reached a variant is recorded as `endpoint-invocation` (status, latency),
        from which feecast_twin.awsmetrics writes the endpoint's AWS/SageMaker metrics."""
        from feecast_twin.sagemaker.responses import RuntimeValidationError

        started = time.perf_counter()
        status, variant = 200, target_variant
        try:
            answer, variant = self._invoke(
                account_id, region, endpoint_name, body, content_type, target_variant
            )
            return answer, variant
        except RuntimeValidationError:
            status = 0  # refused before any variant: SageMaker counts no invocation
            raise
        except Exception as exc:
            status = int(
                getattr(exc, "original_status", None)
                or _STATUS_OF_CODE.get(str(getattr(exc, "code", "")), 500)
            )
            raise
        finally:
            if status:
                self._record(
                    "endpoint-invocation",
                    endpoint=endpoint_name,
                    variant=variant or self._first_variant(account_id, region, endpoint_name),
                    status=status,
                    latency_us=int((time.perf_counter() - started) * 1e6),
                )

    def _first_variant(self, account_id: str, region: str, endpoint_name: str) -> str:
        state = self.endpoint_state(account_id, region, endpoint_name)
        with self._lock:
            names = list(state.models) if state is not None else []
        return names[0] if names else "AllTraffic"

    def _invoke(
        self,
        account_id: str,
        region: str,
        endpoint_name: str,
        body: bytes,
        content_type: str,
        target_variant: str | None = None,
    ) -> tuple[bytes, str]:
        from moto.sagemaker.models import sagemaker_backends

        from feecast_twin.sagemaker.containers import ContainerError
        from feecast_twin.sagemaker.responses import ModelError, RuntimeValidationError

        backend = sagemaker_backends[account_id][region]
        endpoint = backend.endpoints.get(endpoint_name)
        state = self.endpoint_state(account_id, region, endpoint_name)
        # An Updating endpoint keeps serving its previous configuration.
        if (
            endpoint is None
            or state is None
            or not state.models
            or endpoint.endpoint_status
            not in (
                "InService",
                "Updating",
            )
        ):
            raise RuntimeValidationError(
                f"Endpoint {endpoint_name} of account {account_id} not found."
            )
        with self._lock:
            models = dict(state.models)
        fault = self._take_invoke_failure(endpoint_name)
        if fault is not None:
            self._raise_invoke_fault(fault, account_id, region, endpoint_name)
        if target_variant is not None:
            if target_variant not in models:
                raise RuntimeValidationError(
                    f"Variant {target_variant} not found for endpoint {endpoint_name}."
                )
            variant = target_variant
        else:
            variant = next(iter(models))
        log_arn = (
            f"arn:aws:logs:{region}:{account_id}:log-group:/aws/sagemaker/Endpoints/{endpoint_name}"
        )
        try:
            status, answer, _ = models[variant].invoke(body, content_type)
        except ContainerError as exc:  # the container died or hung: the runtime says so
            raise ModelError(
                f"Received server error (500) from primary: {exc}",
                original_status=500,
                original_message=str(exc),
                log_stream_arn=log_arn,
            ) from None
        if status == 200:
            return answer, variant
        # The container answered with an error: sagemaker-runtime's ModelError (424).
        message = answer.decode("utf-8", errors="replace")
        kind = "server" if status >= 500 else "client"
        raise ModelError(
            f'Received {kind} error ({status}) from primary with message "{message}". See '
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logEventViewer:"
            f"group=/aws/sagemaker/Endpoints/{endpoint_name} in account {account_id} for more "
            "information.",
            original_status=status,
            original_message=message,
            log_stream_arn=log_arn,
        )

    @staticmethod
    def _raise_invoke_fault(
        fault: InvokeFault, account_id: str, region: str, endpoint_name: str
    ) -> None:
        from moto.core.exceptions import ServiceException

        from feecast_twin.sagemaker.responses import ModelError

        if fault.code == "ModelError":
            kind = "server" if fault.status >= 500 else "client"
            raise ModelError(
                f"Received {kind} error ({fault.status}) from primary with message "
                f'"{fault.message}". See https://{region}.console.aws.amazon.com/cloudwatch/home?'
                f"region={region}#logEventViewer:group=/aws/sagemaker/Endpoints/{endpoint_name} "
                f"in account {account_id} for more information.",
                original_status=fault.status,
                original_message=fault.message,
                log_stream_arn=f"arn:aws:logs:{region}:{account_id}:log-group:"
                f"/aws/sagemaker/Endpoints/{endpoint_name}",
            )
        # moto serialises the HTTP status of a code the runtime's model declares (500, 503, 429).
        error = type(fault.code, (ServiceException,), {"code": fault.code})
        raise error(fault.message)

    # -- model packages ------------------------------------------------------------------------
    def _model_package_event(self, package: Any, updated_fields: list[str] | None) -> None:
        detail = convert_times(package.gen_response_object(), iso_z)
        if updated_fields is not None:
            detail["UpdatedModelPackageFields"] = updated_fields
        self._emit("SageMaker Model Package State Change", package.arn, detail)
        self._record(
            "model-package",
            arn=package.arn,
            status=package.model_approval_status,
            updated_fields=updated_fields,
        )

    def _wrap_create_model_package(self, original: Callable[..., Any]) -> Callable[..., Any]:
        twin = self

        def create_model_package(backend: Any, **kwargs: Any) -> str:
            arn = original(backend, **kwargs)
            package = backend.model_packages[arn]
            if package.model_approval_status is None and package.model_package_group_name:
                # SageMaker's default for a versioned package.
                package.model_approval_status = "PendingManualApproval"
            twin._model_package_event(package, None)
            return arn

        return create_model_package

    def _wrap_update_model_package(self, original: Callable[..., Any]) -> Callable[..., Any]:
        twin = self
        watched = {
            "ModelApprovalStatus": "model_approval_status",
            "ApprovalDescription": "approval_description",
            "CustomerMetadataProperties": "customer_metadata_properties",
            "AdditionalInferenceSpecifications": "additional_inference_specifications",
        }

        def update_model_package(
            backend: Any,
            model_package_arn: str,
            model_approval_status: str | None,
            approval_description: str | None,
            customer_metadata_properties: dict[str, str] | None,
            customer_metadata_properties_to_remove: list[str],
            additional_inference_specifications_to_add: list[Any] | None,
        ) -> str:
            mapped = backend.model_package_name_mapping.get(model_package_arn, model_package_arn)
            package = backend.model_packages.get(mapped)
            before = (
                {field: copy.deepcopy(getattr(package, attr)) for field, attr in watched.items()}
                if package is not None
                else {}
            )
            arn = original(
                backend,
                model_package_arn=model_package_arn,
                model_approval_status=model_approval_status,
                approval_description=approval_description,
                customer_metadata_properties=customer_metadata_properties,
                customer_metadata_properties_to_remove=customer_metadata_properties_to_remove,
                additional_inference_specifications_to_add=additional_inference_specifications_to_add,
            )
            assert package is not None  # original raised otherwise
            # moto replaces the properties with what was sent (None if nothing): SageMaker adds
            # the sent keys to the existing ones, then removes the ones listed to remove.
            merged = dict(before.get("CustomerMetadataProperties") or {})
            merged.update(customer_metadata_properties or {})
            for name in customer_metadata_properties_to_remove or []:
                merged.pop(name, None)
            package.customer_metadata_properties = merged or None
            if model_approval_status is None:
                package.model_approval_status = before.get("ModelApprovalStatus")
            if approval_description is None:
                package.approval_description = before.get("ApprovalDescription")
            changed = [f for f, attr in watched.items() if getattr(package, attr) != before.get(f)]
            if changed:
                twin._model_package_event(package, changed)
            return arn

        return update_model_package
