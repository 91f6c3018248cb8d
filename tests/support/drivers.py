"""Drivers of the twin that the integration and reliability suites share: what AWS or a person
does to the stack (a build registers a package, a person approves it or follows a link, the
Feature Store holds minutes, the transaction source answers), and the twin's records they read."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from feecast.feature_schema import AVG_FEE, COUNT, EVENT_TIME, RECORD_ID, TOTAL_FEE

# -- deploy: packages, approvals, links -----------------------------------------------------------
GROUP = "feecast-models"
IMAGE = "224300973850.dkr.ecr.eu-west-1.amazonaws.com/forecasting-deepar:1"


def artifact_key(key: str) -> str:
    return f"models/{key}/model.tar.gz"


def register(
    twin: Any, data: bytes, *, loss: float = 0.2, threshold: float = 0.3, key: str = "good"
) -> str:
    """A package as a build registers it: its backtest loss and the alarm threshold it earned."""
    bucket = twin.physical_id("ArtifactBucket")
    twin.client("s3").put_object(Bucket=bucket, Key=artifact_key(key), Body=data)
    return str(
        twin.client("sagemaker").create_model_package(
            ModelPackageGroupName=GROUP,
            InferenceSpecification={
                "Containers": [
                    {"Image": IMAGE, "ModelDataUrl": f"s3://{bucket}/{artifact_key(key)}"}
                ],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            CustomerMetadataProperties={
                "mean_wql": str(loss),
                "baseline_wql": "0.25",
                "alarm_threshold": str(threshold),
            },
        )["ModelPackageArn"]
    )


def approve_package(twin: Any, arn: str) -> None:
    twin.client("sagemaker").update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved"
    )
    twin.settle(timeout=300)


def deploy_executions(twin: Any) -> list[dict[str, Any]]:
    sfn = twin.client("stepfunctions")
    return sfn.list_executions(stateMachineArn=twin.physical_id("ModelDeployStateMachine"))[  # type: ignore[no-any-return]
        "executions"
    ]


def approval_links(twin: Any) -> dict[str, str]:
    """The approve/reject links of the latest approval request on SNS (waited for)."""
    text = twin.wait_for_sns(
        lambda m: "Approve: " in (m["message"] or ""),
        what="the approval request (Ask A Person To Approve) on SNS",
    )["message"]
    return {
        "approve": re.search(r"Approve: (\S+)", text).group(1),  # type: ignore[union-attr]
        "reject": re.search(r"Reject:  (\S+)", text).group(1),  # type: ignore[union-attr]
    }


def follow(twin: Any, url: str, method: str = "POST", **tamper: str) -> dict[str, Any]:
    """Open an approval link as a browser would (`tamper` overrides query parameters)."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | tamper
    return twin.http_request(method, parts.path, query=query)  # type: ignore[no-any-return]


# -- monitor: minutes in the Feature Store, endpoint events ---------------------------------------
MONITOR_START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # the monitoring tests' twin clock
MONITOR_HP = {  # a tiny model that still follows fee(): monitoring scores it
    "epochs": "2",
    "prediction_length": "30",
    "context_length": "30",
    "time_freq": "1min",
    "mini_batch_size": "32",
    "num_cells": "16",
    "num_layers": "1",
}


def fee(minute: datetime, level: float = 20.0) -> float:
    """A fee-like value for a minute: a slow wave plus deterministic noise."""
    t = minute.timestamp() / 60
    return round(level + 4 * np.sin(t / 90) + 1.5 * np.sin(t * 7.3), 3)


def put_minutes(
    twin: Any,
    start: datetime,
    end: datetime,
    skip: set[datetime] = frozenset(),  # type: ignore[assignment]
    level: float = 20.0,
    value: Callable[[datetime], float] | None = None,
) -> None:
    """fee() (or `value`) for every minute in [start, end) but `skip`, written as the collector
    writes them."""
    runtime = twin.client("sagemaker-featurestore-runtime")
    minute = start
    while minute < end:
        if minute not in skip:
            stamp = minute.strftime("%Y-%m-%dT%H:%M:00Z")
            avg = value(minute) if value is not None else fee(minute, level)
            runtime.put_record(
                FeatureGroupName="feecast-fee-minutes",
                Record=[
                    {"FeatureName": RECORD_ID, "ValueAsString": stamp},
                    {"FeatureName": COUNT, "ValueAsString": "10"},
                    {"FeatureName": TOTAL_FEE, "ValueAsString": str(avg * 10)},
                    {"FeatureName": AVG_FEE, "ValueAsString": str(avg)},
                    {"FeatureName": EVENT_TIME, "ValueAsString": stamp},
                ],
            )
        minute += timedelta(minutes=1)


def on_bus(event: dict[str, Any]) -> dict[str, Any]:
    """The envelope as EventBridge delivers it: twin.send_event reads "time" as ISO-8601 only,
    so the epoch-milliseconds form of the published example (parsed by tests/unit) is converted."""
    raw = event.get("time", "")
    if raw.isdigit():
        event["time"] = datetime.fromtimestamp(int(raw) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


# -- retrain: what the twin recorded --------------------------------------------------------------
def builds_started(twin: Any) -> list[Any]:
    return [
        r
        for r in twin.records_of("execution-started")
        if r.get("state_machine") == "ModelBuildStateMachine"
    ]


def retrain_runs(twin: Any) -> list[Any]:
    return [r for r in twin.records_of("target-invoked") if "RetrainOnAlarm" in str(r.get("arn"))]


# -- ingest: the transaction source ---------------------------------------------------------------
INGEST_T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
INGEST_E0 = int(INGEST_T0.timestamp())


def tx(n: int, second: int, fee: int) -> dict[str, object]:
    """Transaction n, `second` seconds after INGEST_T0, in blockchain.info's format."""
    return {"hash": f"{n:064x}", "fee": fee, "size": 250, "weight": 661, "time": INGEST_E0 + second}


class SourceServer:
    """Answers GET with the current body (blockchain.info format); `body` can be swapped."""

    def __init__(self) -> None:
        self.body = b'{"txs": []}'
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = (
            f"http://127.0.0.1:{self.httpd.server_address[1]}/unconfirmed-transactions?format=json"
        )
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def serve(self, *txs: object) -> None:
        self.body = json.dumps({"txs": list(txs)}).encode()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
