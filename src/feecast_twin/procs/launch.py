"""How the twin starts its processes: Lambda workers and SageMaker containers.

Each process is `python -m <module> ...` with its own environment and working directory. On
Linux the twin starts them through a fork server (feecast_twin.procs.forkserver) that has
already imported the heavy third-party libraries, so a process starts in a fraction of a second
instead of importing them anew (boto3, X-Ray and Powertools for a Lambda worker; torch and
GluonTS for a DeepAR container). Elsewhere, or with FEECAST_TWIN_FORK=0, each process is a new
interpreter (subprocess). Either way the process imports the code it runs itself (its cold
start), and follows the twin's clock from its bootstrap.

The fork servers are shared by every twin of the interpreter (started on first use, stopped at
exit): their environment holds nothing of any twin.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import IO, Protocol

from feecast_twin.procs.forkserver import ForkServer

FORK_ENV = "FEECAST_TWIN_FORK"

#: What every Lambda worker imports; none reads the function's configuration or starts a thread
#: at import (the zygote's environment holds what Lambda sets for every function, so X-Ray sees
#: LAMBDA_TASK_ROOT as in a worker). awslambdaric is not among them: it reads the log format at
#: import.
LAMBDA_PRELOAD = (
    "boto3",
    "botocore.client",
    "botocore.session",
    "botocore.loaders",
    "pydantic",
    "aws_xray_sdk.core",
    "aws_lambda_powertools",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.tracing",
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.utilities.typing",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.parameters",
    "time_machine",
    # numpy with one BLAS thread (no thread pool may exist at fork); the functions' math is
    # small vectors, where threads change nothing but the start time.
    "numpy",
    # botocore's JSON files (API models, endpoints) read once for every session of a worker
    # (the bulk of a cold start otherwise).
    "feecast_twin.procs.lambda_zygote",
)
LAMBDA_ZYGOTE_ENV = {
    "LAMBDA_TASK_ROOT": "/var/task",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
    "TZ": ":UTC",
    "LANG": "en_US.UTF-8",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

#: What a DeepAR container imports. One BLAS / OpenMP thread: no pool is started before the
#: fork (a forked child cannot use its parent's threads), and the twin shares the CPU anyway.
CONTAINER_PRELOAD = (
    "numpy",
    "pandas",
    "torch",
    "lightning.pytorch",
    "gluonts.torch",
    "time_machine",
)
CONTAINER_THREADS_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


class Process(Protocol):
    """What the twin needs of a process it started (subprocess.Popen has it all)."""

    pid: int
    stdout: IO[bytes] | None
    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


def kill(process: Process) -> None:
    """SIGKILL the process and its session (as Lambda ends a timed-out environment)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        process.wait(timeout=10)


def _forking() -> bool:
    wanted = os.environ.get(FORK_ENV, "1") != "0"
    return wanted and sys.platform.startswith("linux") and hasattr(os, "fork")


class Launcher:
    def __init__(self, preload: Sequence[str], zygote_env: dict[str, str]) -> None:
        self.preload = tuple(preload)
        self.zygote_env = zygote_env
        self._server: ForkServer | None = None
        self._lock = threading.Lock()
        self._failed = False

    def _fork_server(self) -> ForkServer | None:
        if not _forking():
            return None
        with self._lock:
            if self._server is None and not self._failed:
                env = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    **{k: v for k, v in os.environ.items() if k.startswith("PYTHON")},
                    **self.zygote_env,
                }
                try:
                    self._server = ForkServer(self.preload, env).start()
                    atexit.register(self.close)
                except Exception:
                    self._failed = True  # a new interpreter per process, then
            return self._server

    def spawn(self, module: str, argv: Sequence[str], env: dict[str, str], cwd: str) -> Process:
        """`python -m module *argv` in `cwd` with exactly `env`; stdout and stderr merged."""
        server = self._fork_server()
        if server is not None:
            return server.spawn(module, argv, env, cwd)
        return subprocess.Popen(
            [sys.executable, "-m", module, *argv],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the twin, which stops its processes
        )

    def close(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.close()


_LAUNCHERS: dict[str, Launcher] = {}
_LAUNCHERS_LOCK = threading.Lock()


def launcher(kind: str) -> Launcher:
    """The interpreter's launcher of "lambda" workers or "container" processes."""
    with _LAUNCHERS_LOCK:
        if kind not in _LAUNCHERS:
            if kind == "lambda":
                _LAUNCHERS[kind] = Launcher(LAMBDA_PRELOAD, LAMBDA_ZYGOTE_ENV)
            elif kind == "container":
                _LAUNCHERS[kind] = Launcher(CONTAINER_PRELOAD, dict(CONTAINER_THREADS_ENV))
            else:
                raise ValueError(f"no launcher {kind!r}")
        return _LAUNCHERS[kind]


def warm_up(*kinds: str) -> None:
    """Start the fork servers in the background (a test session or the demo knows it needs
    them; their imports then overlap other work)."""
    for kind in kinds:
        threading.Thread(target=launcher(kind)._fork_server, daemon=True).start()


__all__ = ["Launcher", "Process", "kill", "launcher", "warm_up"]
