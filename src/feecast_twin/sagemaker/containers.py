"""SageMaker's side of a container: prepare /opt/ml, start the image, talk to it, stop it.

The image is the local DeepAR (feecast_twin.procs.deepar_container), run as its own process,
as SageMaker runs a container: training jobs run `train` once; endpoints and batch transforms
run `serve` and send HTTP requests to it. Nothing of the algorithm runs in the twin's process.

    outcome = run_training_container(host, channels, hyperparameters, stop=event)
    with ServingContainer.start(host, model_tar, environment) as container:
        status, body, content_type = container.invoke(request, "application/json")
"""

from __future__ import annotations

import http.client
import io
import re
import shutil
import tarfile
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from feecast_twin.procs.deepar_container import LISTENING_MARK
from feecast_twin.procs.lambda_worker import PARENT_ENV
from feecast_twin.procs.launch import Process, kill, launcher

MODULE = "feecast_twin.procs.deepar_container"
#: How long a serving container may take to load its model and listen.
START_TIMEOUT_SECONDS = 180.0
#: How long one invocation may take (SageMaker's own limit for a real-time request is 60 s).
INVOKE_TIMEOUT_SECONDS = 120.0


class ContainerHost(Protocol):
    def worker_environment(self) -> dict[str, str]: ...


class ContainerError(Exception):
    """The container could not start or answer; the message says why (FailureReason)."""


def _environment(host: ContainerHost, extra: Mapping[str, str]) -> dict[str, str]:
    import os

    from feecast_twin.procs.launch import CONTAINER_THREADS_ENV

    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TZ": ":UTC",
        **{k: v for k, v in os.environ.items() if k.startswith("FEECAST_TWIN_TRAINING")},
        **CONTAINER_THREADS_ENV,
        **host.worker_environment(),
        PARENT_ENV: str(os.getpid()),
        **{str(k): str(v) for k, v in extra.items()},
    }


class _Output:
    """A container's stdout and stderr, line by line, kept for its logs."""

    def __init__(self, process: Process) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self.closed = False
        self._thread = threading.Thread(
            target=self._read, args=(process,), name="twin-container-log", daemon=True
        )
        self._thread.start()

    def _read(self, process: Process) -> None:
        assert process.stdout is not None
        for raw in iter(process.stdout.readline, b""):
            with self._cond:
                self.lines.append(raw.decode("utf-8", errors="replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def wait_for(self, prefix: str, timeout: float) -> str | None:
        """The first line starting with `prefix` (None when the output ends or time runs out)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if line.startswith(prefix):
                        return line
                left = deadline - time.monotonic()
                if self.closed or left <= 0:
                    return None
                self._cond.wait(left)

    def finish(self, timeout: float = 10.0) -> list[str]:
        self._thread.join(timeout)
        with self._cond:
            return [line for line in self.lines if not line.startswith(LISTENING_MARK)]


def _tail(lines: Sequence[str], count: int = 5) -> str:
    return " | ".join(line for line in lines[-count:] if line.strip())


def extract_model(model_tar: bytes, directory: Path) -> None:
    """What SageMaker does with ModelDataUrl before starting the container."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(model_tar), mode="r:*") as tar:
            tar.extractall(directory, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ContainerError(f"model data is not a readable model.tar.gz ({exc})") from None


def tar_directory(directory: Path) -> bytes:
    """model.tar.gz of /opt/ml/model, as SageMaker uploads it (sorted, so runs repeat)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                info = tar.gettarinfo(str(path), arcname=str(path.relative_to(directory)))
                info.mtime = 0
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- training
@dataclass
class TrainingOutcome:
    succeeded: bool
    stopped: bool = False
    failure_reason: str | None = None
    model_tar: bytes = b""
    checkpoint_files: dict[str, bytes] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)

    def metrics(self, definitions: Sequence[Mapping[str, str]]) -> dict[str, float]:
        """The job's final metrics: the last match of each MetricDefinition in the log."""
        found: dict[str, float] = {}
        for definition in definitions:
            pattern = re.compile(definition["Regex"])
            for line in self.logs:
                match = pattern.search(line)
                if match:
                    try:
                        found[definition["Name"]] = float(match.group(1))
                    except (IndexError, ValueError):
                        continue
        return found


def run_training_container(
    host: ContainerHost,
    channels: Mapping[str, Sequence[tuple[str, bytes]]],
    hyperparameters: Mapping[str, str] | None,
    *,
    stop: threading.Event | None = None,
    environment: Mapping[str, str] | None = None,
) -> TrainingOutcome:
    """One training job: channels -> /opt/ml/input/data, `train`, /opt/ml/model -> tar."""
    import json

    with tempfile.TemporaryDirectory(prefix="feecast-twin-training-") as tmp:
        root = Path(tmp)
        config = root / "input" / "config"
        config.mkdir(parents=True)
        (config / "hyperparameters.json").write_text(json.dumps(dict(hyperparameters or {})))
        for name, files in channels.items():
            for relative, data in files:
                path = root / "input" / "data" / name / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        process = launcher("container").spawn(
            MODULE, ["train", str(root)], _environment(host, environment or {}), str(root)
        )
        output = _Output(process)
        stopped = False
        while True:
            try:
                code = process.wait(timeout=0.2)
                break
            except Exception:  # still running
                if stop is not None and stop.is_set():
                    kill(process)
                    stopped = True
                    code = process.wait()
                    break
        logs = output.finish()
        if stopped:
            return TrainingOutcome(False, stopped=True, logs=logs)
        if code != 0:
            failure = root / "output" / "failure"
            reason = (
                failure.read_text().strip()
                if failure.exists()
                else f"AlgorithmError: the algorithm exited with code {code}: {_tail(logs)}"
            )
            return TrainingOutcome(False, failure_reason=reason, logs=logs)
        checkpoints = root / "checkpoints"
        return TrainingOutcome(
            True,
            model_tar=tar_directory(root / "model"),
            checkpoint_files={
                str(p.relative_to(checkpoints)): p.read_bytes()
                for p in sorted(checkpoints.rglob("*"))
                if p.is_file()
            },
            logs=logs,
        )


# ----------------------------------------------------------------------------- serving
class ServingContainer:
    """A container running `serve`: an endpoint variant's, or a batch transform's."""

    def __init__(self, process: Process, root: Path, output: _Output, port: int) -> None:
        self.process = process
        self.root = root
        self.output = output
        self.port = port
        self._local = threading.local()

    @classmethod
    def start(
        cls,
        host: ContainerHost,
        model_tar: bytes,
        environment: Mapping[str, str] | None = None,
        *,
        timeout: float = START_TIMEOUT_SECONDS,
    ) -> ServingContainer:
        """Extract the model, start `serve`, wait until it listens; ContainerError otherwise."""
        root = Path(tempfile.mkdtemp(prefix="feecast-twin-serving-"))
        try:
            extract_model(model_tar, root / "model")
            process = launcher("container").spawn(
                MODULE, ["serve", str(root)], _environment(host, environment or {}), str(root)
            )
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        output = _Output(process)
        line = output.wait_for(LISTENING_MARK, timeout)
        if line is None:
            kill(process)
            shutil.rmtree(root, ignore_errors=True)
            lines = output.finish()
            raise ContainerError(
                f"the model container did not start: {_tail(lines) or 'no output'}"
            )
        return cls(process, root, output, int(line[len(LISTENING_MARK) :]))

    def invoke(self, body: bytes, content_type: str) -> tuple[int, bytes, str]:
        """POST /invocations: (status, body, content type of the answer)."""
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        for attempt in range(2):  # a kept-alive connection the container closed: once more
            if connection is None:
                connection = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=INVOKE_TIMEOUT_SECONDS
                )
                self._local.connection = connection
            try:
                connection.request(
                    "POST", "/invocations", body=body, headers={"Content-Type": content_type}
                )
                response = connection.getresponse()
                return (
                    response.status,
                    response.read(),
                    response.getheader("Content-Type") or "application/octet-stream",
                )
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                connection.close()
                connection = self._local.connection = None
                if attempt or self.process.poll() is not None:
                    raise ContainerError(f"the model container did not answer ({exc})") from None
        raise AssertionError("unreachable")

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def logs(self) -> list[str]:
        return [line for line in self.output.lines if not line.startswith(LISTENING_MARK)]

    def stop(self) -> None:
        kill(self.process)
        self.output.finish(timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ServingContainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = [
    "ContainerError",
    "ContainerHost",
    "ServingContainer",
    "TrainingOutcome",
    "extract_model",
    "run_training_container",
    "tar_directory",
]
