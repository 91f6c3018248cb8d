"""Lambda functions as processes, as on Lambda: the twin serves the Runtime API, each function
gets warm worker processes that run `awslambdaric` (the runtime interface client of Lambda's own
Python images), reused between invocations and replaced after a crash or a timeout.

moto runs functions in exactly one place, `LambdaFunction._invoke_lambda(self, event)`, which
returns `(payload_str, errored, logs_str)`: direct Invoke, Step Functions lambda tasks, SNS / S3
/ SQS event sources all go through it. The twin replaces it with `LambdaRuntime.run`:

- an idle worker of the function whose environment still matches the function's configuration
  takes the invocation (warm); otherwise a new worker process starts (cold start: the process
  imports the handler module at init, as Lambda does). Concurrent invocations of one function
  get one worker each, up to `max_concurrency` per function (then they queue);
- a worker is `python -m feecast_twin.procs.lambda_worker <handler>` in the function's folder
  (LAMBDA_TASK_ROOT), with the function's environment (template variables, Globals merged, as
  moto stores them) plus what Lambda sets (AWS_LAMBDA_FUNCTION_NAME, AWS_REGION, ...), and the
  SDK's standard AWS_ENDPOINT_URL pointing at the twin's moto server on 127.0.0.1;
- the function's Timeout is enforced: past it the worker is killed (SIGKILL, as Lambda does) and
  the invocation fails with `Sandbox.Timedout` "Task timed out after N.NN seconds"; a worker that
  exits mid-invocation fails it with `Runtime.ExitError`; an error at init (import) fails it with
  awslambdaric's own error (Runtime.ImportModuleError, ...) and the next invocation cold-starts;
- the worker's stdout is its log: EMF lines become CloudWatch metric data (feecast_twin.emf), the
  lines go to CloudWatch Logs (/aws/lambda/<name>) and to the twin's timeline.

What the runtime needs from the twin is the small `RuntimeHost` interface below.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

from feecast_twin.patching import Patcher
from feecast_twin.procs.lambda_worker import END_MARK, INIT_ID, PARENT_ENV
from feecast_twin.procs.launch import Process, kill, launcher

log = logging.getLogger("feecast_twin.lambda")

# The single moto method the twin replaces (pinned by tests/integration/test_moto_canaries.py).
_PATCH_TARGET = ("moto.awslambda.models", "LambdaFunction", "_invoke_lambda")

#: How long a worker may take to reach its first /next (importing the handler), beyond the
#: function's Timeout: Lambda gives init its own 10 s, and a loaded laptop is slower than Lambda.
INIT_GRACE_SECONDS = 30.0
#: After a result is posted, the log lines of the invocation are already in the pipe; this bounds
#: the wait for the reader thread to reach them (and for a killed worker's pipe to close).
LOG_WAIT_SECONDS = 10.0


class RuntimeHost(Protocol):
    """What the Lambda runtime uses of the twin."""

    region: str

    def record(self, kind: str, /, **fields: Any) -> None: ...

    def worker_environment(self) -> dict[str, str]:
        """Variables every process the twin starts needs (clock, endpoint, credentials)."""
        ...

    def publish_metrics(self, logs: str) -> list[dict[str, Any]]:
        """EMF lines of a log -> CloudWatch metric data; the metrics published."""
        ...

    def sim_time_ms(self) -> int:
        """The twin clock, epoch milliseconds."""
        ...


@dataclass
class FunctionCode:
    name: str
    logical_id: str
    code_dir: Path | None
    handler: str


@dataclass
class Invocation:
    function: str
    logical_id: str
    request_id: str
    payload: str
    errored: bool
    logs: str
    duration_ms: float
    cold_start: bool
    error_type: str | None = None
    error_message: str | None = None
    timed_out: bool = False
    worker_pid: int | None = None


@dataclass
class _Pending:
    """One invocation handed to a worker through the Runtime API."""

    request_id: str
    body: bytes
    deadline_ms: int
    function_arn: str
    fetched: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    fetched_at: float = 0.0
    result: bytes | None = None
    error: bytes | None = None
    error_type: str | None = None
    init_error: bool = False


class _Log:
    """A worker's stdout: lines grouped per invocation by the end marks the bootstrap writes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._current: list[str] = []
        self._ended: dict[str, str] = {}
        self.closed = False

    def feed(self, text: str) -> None:
        with self._cond:
            while text:
                head, mark, tail = text.partition(END_MARK)
                if not mark:
                    self._current.append(text)
                    break
                self._current.append(head)
                request_id, _, text = tail.partition("\n")
                self._ended[request_id] = "".join(self._current)
                self._current = []
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def take(self, request_id: str, timeout: float) -> str:
        """The lines of `request_id` once its mark has been read (or whatever was written when
        the pipe closes or the wait runs out)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while request_id not in self._ended and not self.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            if request_id in self._ended:
                return self._ended.pop(request_id)
            rest, self._current = "".join(self._current), []
            return rest


class _RuntimeApi(ThreadingHTTPServer):
    """The Lambda Runtime API of one worker (Lambda gives each execution environment its own)."""

    daemon_threads = True

    def __init__(self, worker: _Worker) -> None:
        self.worker = worker
        super().__init__(("127.0.0.1", 0), _RuntimeApiHandler)

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A killed worker leaves its /next connection behind: not worth a traceback.
        log.debug("runtime api: connection from %s ended", client_address, exc_info=True)


class _RuntimeApiHandler(BaseHTTPRequestHandler):
    server: _RuntimeApi
    protocol_version = "HTTP/1.1"
    PREFIX = "/2018-06-01/runtime/"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK hold the second one back ~40 ms, twice per invocation.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("runtime api: " + format, *args)

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        if self.path != self.PREFIX + "invocation/next":
            self._reply(404, b'{"errorType":"InvalidRequest","errorMessage":"not found"}')
            return
        pending = self.server.worker.next_invocation()
        if pending is None:  # the worker is being retired: let the runtime fail and exit
            self._reply(410, b'{"errorType":"Gone","errorMessage":"worker retired"}')
            return
        self._reply(
            200,
            pending.body,
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": pending.request_id,
                "Lambda-Runtime-Deadline-Ms": str(pending.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": pending.function_arn,
                "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
            },
        )

    def do_POST(self) -> None:
        body = self._body()
        path = self.path[len(self.PREFIX) :] if self.path.startswith(self.PREFIX) else ""
        error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
        worker = self.server.worker
        if path == "init/error":
            worker.post_init_error(body, error_type)
        elif path.startswith("invocation/") and path.endswith("/response"):
            worker.post_result(path.split("/")[1], body)
        elif path.startswith("invocation/") and path.endswith("/error"):
            worker.post_error(path.split("/")[1], body, error_type)
        else:
            self._reply(404, b'{"errorType":"InvalidRequest","errorMessage":"not found"}')
            return
        self._reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})


class _Worker:
    """One execution environment: a runtime process and its Runtime API."""

    def __init__(self, runtime: LambdaRuntime, code: FunctionCode, env: dict[str, str]) -> None:
        self.runtime = runtime
        self.code = code
        self.env = env  # the function's configuration this worker was started with
        self.api = _RuntimeApi(self)
        self._slot: queue.Queue[_Pending | None] = queue.Queue()
        self.current: _Pending | None = None
        self.log = _Log()
        self.invocations = 0
        self.process: Process | None = None
        self.retired = False
        # awslambdaric imports the handler before it asks for the first invocation, so an init
        # error can reach the Runtime API before invoke() has handed the invocation over: it
        # is kept here and given to that invocation (else the exit that follows reads as
        # Runtime.ExitError: seen once in a loaded CI run).
        self._early_init_error: tuple[bytes, str | None] | None = None
        self._handover = threading.Lock()
        # shutdown() waits for the loop's next poll: 0.5 s by default, per worker, at every close.
        threading.Thread(
            target=self.api.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"lambda-api-{code.name}",
            daemon=True,
        ).start()

    # -- process --------------------------------------------------------------------------
    def start(self) -> None:
        assert self.code.code_dir is not None
        env = {
            **self.env,
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            PARENT_ENV: str(os.getpid()),
        }
        self.process = launcher("lambda").spawn(
            "feecast_twin.procs.lambda_worker", [self.code.handler], env, str(self.code.code_dir)
        )
        threading.Thread(
            target=self._read,
            args=(self.process,),
            name=f"lambda-log-{self.code.name}",
            daemon=True,
        ).start()

    def _read(self, process: Process) -> None:
        assert process.stdout is not None
        for raw in iter(process.stdout.readline, b""):
            self.log.feed(raw.decode("utf-8", errors="replace"))
        self.log.close()
        pending = self.current
        if pending is not None:
            pending.done.set()  # the process is gone: whoever waits sees it at once

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None and not self.retired

    def kill(self) -> None:
        self.retired = True
        self._slot.put(None)
        if self.process is not None and self.process.poll() is None:
            kill(self.process)
        self.api.shutdown()
        self.api.server_close()

    # -- Runtime API callbacks -------------------------------------------------------------
    def next_invocation(self) -> _Pending | None:
        pending = self._slot.get()
        if pending is not None:
            pending.fetched_at = time.monotonic()
            pending.fetched.set()
        return pending

    def post_result(self, request_id: str, body: bytes) -> None:
        pending = self.current
        if pending is not None and pending.request_id == request_id:
            pending.result = body
            pending.done.set()

    def post_error(self, request_id: str, body: bytes, error_type: str | None) -> None:
        pending = self.current
        if pending is not None and pending.request_id == request_id:
            pending.error, pending.error_type = body, error_type
            pending.done.set()

    def post_init_error(self, body: bytes, error_type: str | None) -> None:
        self.retired = True  # the runtime exits after an init error
        with self._handover:
            pending = self.current
            if pending is None:
                self._early_init_error = (body, error_type)
                return
        pending.error, pending.error_type, pending.init_error = body, error_type, True
        pending.done.set()

    # -- one invocation ----------------------------------------------------------------------
    def invoke(self, pending: _Pending, timeout: float) -> tuple[str, bool, str | None, str, bool]:
        """Run one invocation; (payload, errored, error_type, logs, timed_out)."""
        with self._handover:
            self.current = pending
            early, self._early_init_error = self._early_init_error, None
        if early is not None:
            pending.error, pending.error_type, pending.init_error = early[0], early[1], True
            pending.done.set()
        elif self.process is not None and self.process.poll() is not None:
            pending.done.set()  # gone before the handover: its exit is the answer
        self._slot.put(pending)
        init_deadline = time.monotonic() + timeout + INIT_GRACE_SECONDS
        timed_out = False
        while not pending.done.is_set():
            if pending.fetched.is_set():
                left = pending.fetched_at + timeout - time.monotonic()
            else:
                left = init_deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            pending.done.wait(min(left, 1.0))
        self.invocations += 1
        if timed_out:
            self.kill()
            logs = self.log.take("", LOG_WAIT_SECONDS)
            seconds = timeout if pending.fetched.is_set() else timeout + INIT_GRACE_SECONDS
            message = (
                f"RequestId: {pending.request_id} Error: Task timed out after {seconds:.2f} seconds"
            )
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            logs += f"{stamp} {pending.request_id} Task timed out after {seconds:.2f} seconds\n"
            payload = json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message})
            self.current = None
            return payload, True, "Sandbox.Timedout", logs, True
        if pending.result is not None:
            logs = self.log.take(pending.request_id, LOG_WAIT_SECONDS)
            self.current = None
            return pending.result.decode("utf-8", errors="replace"), False, None, logs, False
        if pending.error is not None:
            mark = INIT_ID if pending.init_error else pending.request_id
            logs = self.log.take(mark, LOG_WAIT_SECONDS)
            body = pending.error.decode("utf-8", errors="replace")
            error_type = pending.error_type
            with contextlib.suppress(json.JSONDecodeError, AttributeError):
                error_type = json.loads(body).get("errorType") or error_type
            if pending.init_error:
                self.kill()
            self.current = None
            return body, True, error_type, logs, False
        # The process ended without a result: Lambda reports the runtime's exit.
        code = self.process.wait() if self.process is not None else -1
        self.kill()
        logs = self.log.take("", LOG_WAIT_SECONDS)
        status = f"signal: {-code}" if code < 0 else f"exit status {code}"
        message = f"RequestId: {pending.request_id} Error: Runtime exited with error: {status}"
        self.current = None
        payload = json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message})
        return payload, True, "Runtime.ExitError", logs, False


class LambdaRuntime:
    def __init__(self, host: RuntimeHost, *, max_concurrency: int = 4) -> None:
        self.host = host
        self.max_concurrency = max_concurrency
        self.functions: dict[str, FunctionCode] = {}
        self.invocations: list[Invocation] = []
        self._lock = threading.Condition()
        self._idle: dict[str, list[_Worker]] = {}
        self._workers: dict[str, list[_Worker]] = {}
        self._in_flight = 0
        self._patches = Patcher("feecast_twin.lambda_runtime")
        self._closed = False

    # ------------------------------------------------------------------ wiring
    def register(self, name: str, logical_id: str, code_dir: Path | None, handler: str) -> None:
        self.functions[name] = FunctionCode(name, logical_id, code_dir, handler)

    def install(self) -> None:
        from moto.awslambda.models import LambdaFunction

        runtime = self

        def _invoke_lambda(fn: Any, event: Any = None) -> tuple[str, bool, str]:
            return runtime.run(fn, event)

        self._patches.replace(
            LambdaFunction,
            "_invoke_lambda",
            _invoke_lambda,
            reason="Lambda runs each function in its own process; moto runs them only in Docker",
        )

    def uninstall(self) -> None:
        self._patches.undo()
        self.close()

    def close(self) -> None:
        """Stop every worker process."""
        with self._lock:
            self._closed = True
            workers = [w for ws in self._workers.values() for w in ws]
            self._workers.clear()
            self._idle.clear()
            self._lock.notify_all()
        for worker in workers:
            worker.kill()

    def busy(self) -> bool:
        return self._in_flight > 0

    def worker_pids(self, function: str) -> list[int]:
        """Process ids of the function's live workers (tests: one process per environment)."""
        with self._lock:
            return [
                w.process.pid
                for w in self._workers.get(function, [])
                if w.process is not None and w.alive
            ]

    # ------------------------------------------------------------------ running
    def run(self, fn: Any, event: Any) -> tuple[str, bool, str]:
        """The replacement of moto's LambdaFunction._invoke_lambda (same signature and result)."""
        with self._lock:
            self._in_flight += 1
        try:
            inv = self._run(fn, event)
        finally:
            with self._lock:
                self._in_flight -= 1
                self._lock.notify_all()
        return inv.payload, inv.errored, inv.logs

    def _run(self, fn: Any, event: Any) -> Invocation:
        name = fn.function_name
        code = self.functions.get(name)
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        logical_id = code.logical_id if code else name
        if code is None or code.code_dir is None:
            message = f"the twin has no code folder for function {name} (only CodeUri folders run)"
            payload = json.dumps(
                {
                    "errorMessage": message,
                    "errorType": "Runtime.ImportModuleError",
                    "stackTrace": [],
                }
            )
            inv = Invocation(
                name,
                logical_id,
                request_id,
                payload,
                True,
                message,
                _ms(started),
                False,
                "Runtime.ImportModuleError",
                message,
            )
            self._after(fn, inv)
            return inv
        env = self._environment(fn, code)
        worker, cold = self._acquire(code, env)
        timeout = float(fn.timeout)
        pending = _Pending(
            request_id=request_id,
            body=_event_bytes(event),
            deadline_ms=self.host.sim_time_ms() + int(timeout * 1000),
            function_arn=fn.function_arn,
        )
        try:
            payload, errored, error_type, logs, timed_out = worker.invoke(pending, timeout)
        finally:
            self._release(worker)
        error_message = None
        if errored:
            try:
                error_message = str(json.loads(payload).get("errorMessage"))
            except (json.JSONDecodeError, AttributeError):
                error_message = payload
        inv = Invocation(
            function=name,
            logical_id=code.logical_id,
            request_id=request_id,
            payload=payload,
            errored=errored,
            logs=logs,
            duration_ms=_ms(started),
            cold_start=cold,
            error_type=error_type,
            error_message=error_message,
            timed_out=timed_out,
            worker_pid=worker.process.pid if worker.process is not None else None,
        )
        self._after(fn, inv)
        return inv

    def _acquire(self, code: FunctionCode, env: dict[str, str]) -> tuple[_Worker, bool]:
        with self._lock:
            while True:
                if self._closed:
                    raise RuntimeError("the twin's Lambda runtime is closed")
                idle = self._idle.setdefault(code.name, [])
                for worker in list(idle):
                    idle.remove(worker)
                    if worker.alive and worker.env == env:
                        return worker, False
                    self._forget(worker)  # stale configuration or dead: Lambda starts anew
                workers = self._workers.setdefault(code.name, [])
                if len(workers) < self.max_concurrency:
                    worker = _Worker(self, code, env)
                    workers.append(worker)
                    break
                self._lock.wait(0.5)
        worker.start()
        return worker, True

    def _release(self, worker: _Worker) -> None:
        with self._lock:
            if worker.alive and not self._closed:
                self._idle.setdefault(worker.code.name, []).append(worker)
            else:
                self._forget(worker)
            self._lock.notify_all()

    def _forget(self, worker: _Worker) -> None:
        workers = self._workers.get(worker.code.name, [])
        if worker in workers:
            workers.remove(worker)
        threading.Thread(target=worker.kill, name="lambda-retire", daemon=True).start()

    def _environment(self, fn: Any, code: FunctionCode) -> dict[str, str]:
        region = self.host.region
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "twin",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "LAMBDA_TASK_ROOT": str(code.code_dir),
            "_HANDLER": code.handler,
            # The twin enforces no IAM; X-Ray has no daemon here.
            "POWERTOOLS_TRACE_DISABLED": "true",
            **self.host.worker_environment(),
        }
        logging_config = getattr(fn, "logging_config", None) or {}
        if logging_config.get("LogFormat") == "JSON":
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
            if logging_config.get("ApplicationLogLevel"):
                env["AWS_LAMBDA_LOG_LEVEL"] = str(logging_config["ApplicationLogLevel"])
        env.update({k: str(v) for k, v in (fn.environment_vars or {}).items()})
        return env

    def _after(self, fn: Any, inv: Invocation) -> None:
        with self._lock:
            self.invocations.append(inv)
        metrics: list[dict[str, Any]] = []
        try:
            metrics = self.host.publish_metrics(inv.logs)
        except Exception as exc:  # a malformed metric must not hide the invocation's result
            log.warning("EMF from %s not published: %s", inv.function, exc)
        try:
            _save_logs(fn, inv)
        except Exception as exc:
            log.debug("logs of %s not saved: %s", inv.function, exc)
        self.host.record(
            "lambda",
            function=inv.logical_id,
            function_name=inv.function,
            request_id=inv.request_id,
            cold_start=inv.cold_start,
            duration_ms=round(inv.duration_ms, 1),
            errored=inv.errored,
            error_type=inv.error_type,
            error_message=inv.error_message,
            timed_out=inv.timed_out,
            pid=inv.worker_pid,
        )
        for m in metrics:
            self.host.record("metric", function=inv.logical_id, **m)


def _event_bytes(event: Any) -> bytes:
    """The payload as Lambda delivers it. moto hands `_invoke_lambda` the JSON-decoded body of
    the Invoke request, and the string "{}" when the request had no body."""
    if event is None or event == "{}":
        return b"{}"
    if isinstance(event, bytes):
        return event
    return json.dumps(event).encode()


def _save_logs(fn: Any, inv: Invocation) -> None:
    """As Lambda does: the invocation's output in CloudWatch Logs /aws/lambda/<name>."""
    from moto.core.utils import unix_time_millis

    backend = fn.logs_backend
    backend.ensure_log_group(fn.logs_group_name)
    stream = f"twin/[$LATEST]{inv.request_id.replace('-', '')}"
    backend.create_log_stream(fn.logs_group_name, stream)
    lines = [f"START RequestId: {inv.request_id} Version: $LATEST"]
    lines += inv.logs.splitlines()
    lines.append(f"END RequestId: {inv.request_id}")
    status = "\tStatus: timeout" if inv.timed_out else ""
    lines.append(f"REPORT RequestId: {inv.request_id}\tDuration: {inv.duration_ms:.2f} ms{status}")
    now = unix_time_millis()
    backend.put_log_events(
        fn.logs_group_name,
        stream,
        [{"timestamp": int(now), "message": line} for line in lines if line],
    )


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000


__all__: list[str] = ["FunctionCode", "Invocation", "LambdaRuntime", "RuntimeHost"]
