"""The local DeepAR image: what SageMaker runs for `forecasting-deepar`, as a process.

    python -m feecast_twin.procs.deepar_container train ROOT
    python -m feecast_twin.procs.deepar_container serve ROOT

ROOT stands for the container's /opt/ml (SageMaker's container contract):

train  reads input/config/hyperparameters.json and input/data/<channel>/*, trains the local
       DeepAR (feecast_twin.deepar), writes the model to model/ and checkpoints to checkpoints/,
       prints its log (with DeepAR's metric lines, which the job's MetricDefinitions parse) and
       exits 0; on bad input or an algorithm failure it writes output/failure and exits 1.
serve  loads model/ and answers HTTP on 127.0.0.1: GET /ping, POST /invocations. With
       SAGEMAKER_BATCH=true (what SageMaker sets in a batch transform's containers) a request is
       JSON Lines of series and the answer one JSON line each, configured by
       DEEPAR_INFERENCE_CONFIG; otherwise a request is DeepAR's real-time JSON. A request the
       model refuses gets 400 with the reason. It prints the port it listens on first.

Like every process of the twin it follows the twin's clock and exits with the twin.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

#: First line a serving container prints: "<MARK><port>".
LISTENING_MARK = "\x1efeecast-twin-listening "


def _channels(root: Path) -> dict[str, list[tuple[str, bytes]]]:
    data = root / "input" / "data"
    channels: dict[str, list[tuple[str, bytes]]] = {}
    for channel in sorted(p for p in data.iterdir() if p.is_dir()) if data.is_dir() else []:
        channels[channel.name] = [
            (str(path.relative_to(channel)), path.read_bytes())
            for path in sorted(channel.rglob("*"))
            if path.is_file()
        ]
    return channels


def train(root: Path) -> int:
    import io
    import tarfile

    from feecast_twin.deepar.errors import AlgorithmError, ClientError
    from feecast_twin.deepar.training import run_training

    def fail(reason: str) -> int:
        (root / "output").mkdir(parents=True, exist_ok=True)
        (root / "output" / "failure").write_text(reason)
        print(reason, flush=True)
        return 1

    try:
        config = root / "input" / "config" / "hyperparameters.json"
        hyperparameters = json.loads(config.read_text()) if config.exists() else {}
        result = run_training(
            _channels(root), hyperparameters, log=lambda line: print(line, flush=True)
        )
    except (ClientError, AlgorithmError) as exc:
        return fail(exc.failure_reason)
    except Exception as exc:
        traceback.print_exc()
        return fail(f"InternalServerError: {type(exc).__name__}: {exc}")
    model_dir = root / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(result.model_tar), mode="r:*") as tar:
        tar.extractall(model_dir, filter="data")
    checkpoints = root / "checkpoints"
    for relative, data in result.checkpoint_files.items():
        path = checkpoints / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return 0


def serve(root: Path) -> int:
    from feecast_twin.deepar.errors import ClientError, InferenceError
    from feecast_twin.deepar.inference import batch_transform, invoke
    from feecast_twin.deepar.training import LocalDeepARModel

    try:
        model = LocalDeepARModel.load(root / "model")
    except ClientError as exc:
        print(f"ClientError: {exc}", flush=True)
        return 1
    batch = os.environ.get("SAGEMAKER_BATCH", "").lower() == "true"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            import socket

            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/ping":
                self._reply(200, b"", "text/plain")
            else:
                self._reply(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            if self.path != "/invocations":
                self._reply(404, b"not found", "text/plain")
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            content_type = self.headers.get("Content-Type") or "application/json"
            try:
                if batch:
                    answer = batch_transform(model, body, os.environ, source="request")
                    self._reply(200, answer, "application/jsonlines")
                else:
                    self._reply(200, invoke(model, body, content_type), "application/json")
            except (ClientError, InferenceError) as exc:
                self._reply(400, str(exc).encode(), "text/plain")
            except Exception as exc:  # the container answers 500, SageMaker reports a ModelError
                traceback.print_exc()
                self._reply(500, f"{type(exc).__name__}: {exc}".encode(), "text/plain")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"{LISTENING_MARK}{server.server_address[1]}", flush=True)
    server.serve_forever()
    return 0


def main(argv: list[str]) -> int:
    from feecast_twin.procs.clock import follow_from_environment
    from feecast_twin.procs.lambda_worker import watch_parent

    follow_from_environment()
    watch_parent()
    if len(argv) != 3 or argv[1] not in ("train", "serve"):
        print("usage: deepar_container train|serve ROOT", file=sys.stderr)
        return 2
    root = Path(argv[2])
    return train(root) if argv[1] == "train" else serve(root)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
