"""The AWS-namespace metrics CloudWatch holds for the services the template uses.

On AWS, Step Functions, SageMaker endpoints and SQS publish their own metrics, which the
template's alarms (production invocation errors, dead-letter queues) and the lifecycle
dashboard read. moto publishes none, and PutMetricData refuses `AWS/` namespaces, so this
component writes them into moto's CloudWatch backend itself, at the twin clock's time:

- AWS/States (dimension StateMachineArn): ExecutionsStarted, ExecutionsSucceeded,
  ExecutionsFailed, ExecutionsTimedOut, ExecutionsAborted, one datum per execution record;
- AWS/SageMaker (EndpointName, VariantName): Invocations, ModelLatency (microseconds),
  Invocation4XXErrors, Invocation5XXErrors, one datum each per InvokeEndpoint that reached a
  variant (the SageMaker component records `endpoint-invocation`);
- AWS/SQS (QueueName): ApproximateNumberOfMessagesVisible of every queue, at most once per twin
  minute, while the queue holds messages and once more when it empties (AWS stops sending the
  metrics of an inactive queue; alarms treat the gap as missing data, as on AWS).
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from feecast_twin.components import Component
from feecast_twin.host import Host

_EXECUTION_METRIC = {
    "SUCCEEDED": "ExecutionsSucceeded",
    "FAILED": "ExecutionsFailed",
    "TIMED_OUT": "ExecutionsTimedOut",
    "ABORTED": "ExecutionsAborted",
}


def state_machine_arn(execution_arn: str) -> str:
    """arn:...:execution:<machine>:<name> -> arn:...:stateMachine:<machine>."""
    head, _, rest = execution_arn.partition(":execution:")
    return f"{head}:stateMachine:{rest.split(':', 1)[0]}"


class AwsMetricsTwin(Component):
    name = "awsmetrics"

    def __init__(self, twin: Host) -> None:
        super().__init__(twin)
        self._unsubscribe: Any = None
        self._lock = threading.Lock()
        self._queue_depth: dict[str, int] = {}  # queue name -> last published depth
        self._last_minute: datetime | None = None

    def install(self, twin: Host) -> None:
        self._unsubscribe = twin.subscribe(self._on_record)

    def uninstall(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # ------------------------------------------------------------------ writing
    def _put(self, namespace: str, metrics: list[dict[str, Any]]) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        now = self.twin.clock.now()
        backend = cloudwatch_backends[self.twin.account_id][self.twin.region]
        backend.put_metric_data(namespace, [{"Timestamp": now, **m} for m in metrics])

    def _on_record(self, record: Any) -> None:
        if record.kind == "execution-started":
            self._execution("ExecutionsStarted", record["execution_arn"])
        elif record.kind == "execution-ended":
            metric = _EXECUTION_METRIC.get(str(record["status"]))
            if metric:
                self._execution(metric, record["execution_arn"])
        elif record.kind == "endpoint-invocation":
            self._invocation(record)

    def _execution(self, metric: str, execution_arn: str) -> None:
        dims = [{"Name": "StateMachineArn", "Value": state_machine_arn(execution_arn)}]
        self._put(
            "AWS/States",
            [{"MetricName": metric, "Value": 1.0, "Unit": "Count", "Dimensions": dims}],
        )

    def _invocation(self, record: Any) -> None:
        dims = [
            {"Name": "EndpointName", "Value": record["endpoint"]},
            {"Name": "VariantName", "Value": record["variant"]},
        ]
        status = int(record["status"])
        self._put(
            "AWS/SageMaker",
            [
                {"MetricName": "Invocations", "Value": 1.0, "Unit": "Count", "Dimensions": dims},
                {
                    "MetricName": "ModelLatency",
                    "Value": float(record["latency_us"]),
                    "Unit": "Microseconds",
                    "Dimensions": dims,
                },
                {
                    "MetricName": "Invocation4XXErrors",
                    "Value": 1.0 if 400 <= status < 500 else 0.0,
                    "Unit": "Count",
                    "Dimensions": dims,
                },
                {
                    "MetricName": "Invocation5XXErrors",
                    "Value": 1.0 if status >= 500 else 0.0,
                    "Unit": "Count",
                    "Dimensions": dims,
                },
            ],
        )

    # ------------------------------------------------------------------ ticks
    def on_tick(self, now: datetime) -> None:
        minute = now.replace(second=0, microsecond=0)
        with self._lock:
            if self._last_minute == minute:
                return
            self._last_minute = minute
        from moto.sqs.models import sqs_backends

        backend = sqs_backends[self.twin.account_id][self.twin.region]
        for name, queue in list(backend.queues.items()):
            depth = int(queue.approximate_number_of_messages)
            if depth == 0 and self._queue_depth.get(name, 0) == 0:
                continue
            self._queue_depth[name] = depth
            self._put(
                "AWS/SQS",
                [
                    {
                        "MetricName": "ApproximateNumberOfMessagesVisible",
                        "Value": float(depth),
                        "Unit": "Count",
                        "Dimensions": [{"Name": "QueueName", "Value": name}],
                    }
                ],
            )
