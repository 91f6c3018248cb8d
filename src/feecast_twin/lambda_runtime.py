"""Runs the real handlers in-process wherever moto would run a Lambda function.

moto runs functions in exactly one place, `LambdaFunction._invoke_lambda(self, event)`, which
returns `(payload_str, errored, logs_str)`: direct Invoke, Step Functions lambda tasks, SNS / S3
/ SQS event sources all go through it. The twin replaces it with `LambdaRuntime.run`, which acts
like a Lambda container per function:

- the handler module `functions/<dir>/app.py` is imported once per function (cold start), under
  a unique module name and under that function's environment, then reused (warm);
- each function gets its own copy of the `feecast` library modules (as each Lambda container has
  its own copy of the layer), so module-level Logger / Metrics / settings / caches do not leak
  between functions;
- during a call the process environment carries the function's variables (template Environment
  with Globals merged, as moto stores them, so UpdateFunctionConfiguration applies) plus what
  Lambda sets (AWS_LAMBDA_FUNCTION_NAME, AWS_REGION, ...), and stdout is captured;
- an exception becomes Lambda's error payload {"errorMessage","errorType","stackTrace"} with
  errored=True, so Step Functions Retry / Catch match on the exception's class name, as on AWS;
- EMF lines in stdout become CloudWatch metric data (feecast_twin.emf); the logs go to CloudWatch
  Logs (/aws/lambda/<name>) and to the twin's timeline.

os.environ and sys.modules are process-global, so invocations are serialised with a re-entrant
lock (a handler may invoke another function synchronously).
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from feecast_twin.emf import publish_emf

if TYPE_CHECKING:
    from feecast_twin.core import Twin

log = logging.getLogger("feecast_twin.lambda")

# The single moto method the twin replaces (pinned by tests/integration/test_moto_canaries.py).
_PATCH_TARGET = ("moto.awslambda.models", "LambdaFunction", "_invoke_lambda")


class _StdoutRouter(io.TextIOBase):
    """sys.stdout stand-in: text written by a thread that is running a handler goes to that
    invocation's buffer, anything else to the stream that was there before.

    Loggers created at a handler's cold start keep a reference to this object, so their later
    lines are captured too."""

    def __init__(self, fallback: Any) -> None:
        self.fallback = fallback
        self._local = threading.local()

    def push(self) -> io.StringIO:
        buf = io.StringIO()
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        stack.append(buf)
        return buf

    def pop(self) -> None:
        self._local.stack.pop()

    def _target(self) -> Any:
        stack = getattr(self._local, "stack", None)
        return stack[-1] if stack else self.fallback

    def write(self, text: str) -> int:  # type: ignore[override]
        return int(self._target().write(text) or len(text))

    def flush(self) -> None:
        target = self._target()
        if hasattr(target, "flush"):
            target.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False


_ROUTER: list[_StdoutRouter] = []
_ROUTER_LOCK = threading.Lock()


def _shared_router() -> _StdoutRouter:
    """One router per process, not per twin: a Powertools Logger configures the process-wide
    stdlib logger of its service once, with the stream of the first twin that imported it, so a
    later twin (another test module) must route through that same object to capture its lines."""
    with _ROUTER_LOCK:
        if not _ROUTER:
            _ROUTER.append(_StdoutRouter(sys.stdout))
        return _ROUTER[0]


@dataclass
class LambdaContext:
    """What Lambda passes as `context` (the attributes Powertools and handlers read)."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    timeout_seconds: int
    _deadline: float = field(default=0.0, repr=False)
    identity: Any = None
    client_context: Any = None
    tenant_id: str | None = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class FunctionCode:
    name: str
    logical_id: str
    code_dir: Path | None
    handler: str


@dataclass
class _Container:
    """A warm 'container': the handler module and the function's private module copies."""

    module: ModuleType | None = None
    private_modules: dict[str, ModuleType] = field(default_factory=dict)
    # Powertools Parameters' providers (and so their caches) are per container, as on Lambda.
    parameter_providers: dict[str, Any] = field(default_factory=dict)
    invocations: int = 0


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


class LambdaRuntime:
    def __init__(self, twin: Twin) -> None:
        self.twin = twin
        self.lock = threading.RLock()
        self.functions: dict[str, FunctionCode] = {}
        self._containers: dict[str, _Container] = {}
        self._module_files: dict[str, tuple[Any, str]] = {}  # name -> (module, __file__)
        self._original: Any = None
        self._router: _StdoutRouter | None = None
        self._in_flight = 0
        self._count_lock = threading.Lock()
        self.invocations: list[Invocation] = []

    # ------------------------------------------------------------------ wiring
    def register(self, name: str, logical_id: str, code_dir: Path | None, handler: str) -> None:
        self.functions[name] = FunctionCode(name, logical_id, code_dir, handler)

    def install(self) -> None:
        from moto.awslambda.models import LambdaFunction

        runtime = self
        self._original = LambdaFunction._invoke_lambda

        def _invoke_lambda(fn: Any, event: Any = None) -> tuple[str, bool, str]:
            return runtime.run(fn, event)

        LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]

    def uninstall(self) -> None:
        from moto.awslambda.models import LambdaFunction

        if self._original is not None:
            LambdaFunction._invoke_lambda = self._original  # type: ignore[method-assign]
            self._original = None
        self._containers.clear()
        _remove_blanked()

    def busy(self) -> bool:
        return self._in_flight > 0

    # ------------------------------------------------------------------ running
    def run(self, fn: Any, event: Any) -> tuple[str, bool, str]:
        """The replacement of moto's LambdaFunction._invoke_lambda (same signature and result)."""
        with self._count_lock:
            self._in_flight += 1
        try:
            with self.lock:
                inv = self._run_locked(fn, event)
        finally:
            with self._count_lock:
                self._in_flight -= 1
        return inv.payload, inv.errored, inv.logs

    def _run_locked(self, fn: Any, event: Any) -> Invocation:
        name = fn.function_name
        code = self.functions.get(name)
        request_id = str(uuid.uuid4())
        if event is None or event == "{}":  # moto passes "{}" for an empty body
            event = {}
        elif isinstance(event, (str, bytes)) and str(event)[:1] in "{[":
            with suppress(json.JSONDecodeError):
                event = json.loads(event)
        started = time.monotonic()
        container = self._containers.setdefault(name, _Container())
        cold = container.module is None
        if self._router is None:
            self._router = _shared_router()
        logical_id = code.logical_id if code else name
        if code is None or code.code_dir is None:
            inv = self._error_invocation(
                name,
                logical_id,
                request_id,
                "Runtime.ImportModuleError",
                f"the twin has no code folder for function {name} (only CodeUri folders run)",
                started,
            )
        else:
            inv = self._call(fn, code, container, event, request_id, started, cold)
        self._after(fn, inv)
        return inv

    def _error_invocation(
        self, name: str, lid: str, request_id: str, etype: str, msg: str, started: float
    ) -> Invocation:
        payload = json.dumps({"errorMessage": msg, "errorType": etype, "stackTrace": []})
        return Invocation(
            name, lid, request_id, payload, True, msg, _ms(started), False, etype, msg
        )

    def _environment(self, fn: Any, code: FunctionCode) -> dict[str, str]:
        region = self.twin.region
        env = {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "twin",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
            "LAMBDA_TASK_ROOT": str(code.code_dir),
            "_HANDLER": code.handler,
            "AWS_ACCESS_KEY_ID": "ASIATWINFAKEKEY00000",
            "AWS_SECRET_ACCESS_KEY": "twin-fake-secret",
            "AWS_SESSION_TOKEN": "twin-fake-session-token",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "TZ": ":UTC",
        }
        env.update({k: str(v) for k, v in (fn.environment_vars or {}).items()})
        return env

    def _call(
        self,
        fn: Any,
        code: FunctionCode,
        container: _Container,
        event: Any,
        request_id: str,
        started: float,
        cold: bool,
    ) -> Invocation:
        assert code.code_dir is not None and self._router is not None
        env = self._environment(fn, code)
        context = LambdaContext(
            function_name=fn.function_name,
            function_version="$LATEST",
            invoked_function_arn=fn.function_arn,
            memory_limit_in_mb=int(fn.memory_size),
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{fn.function_name}",
            log_stream_name=f"twin/[$LATEST]{request_id.replace('-', '')}",
            timeout_seconds=int(fn.timeout),
            _deadline=time.monotonic() + int(fn.timeout),
        )
        buf = self._router.push()
        old_stdout = sys.stdout
        sys.stdout = self._router
        errored = False
        error_type = error_message = None
        try:
            with _environ(env), self._modules(code, container):
                try:
                    handler = self._handler(code, container)
                    result = handler(event, context)
                    payload = json.dumps(result, default=str)
                except Exception as exc:
                    errored = True
                    error_type = type(exc).__name__
                    error_message = str(exc)
                    if isinstance(exc, (ImportError, SyntaxError)) and container.module is None:
                        error_type = "Runtime.ImportModuleError"
                        error_message = f"Unable to import module '{code.handler}': {exc}"
                    stack = traceback.format_exception(exc)
                    buf.write(
                        json.dumps(
                            {"level": "ERROR", "errorType": error_type, "message": error_message}
                        )
                        + "\n"
                        + "".join(stack)
                    )
                    payload = json.dumps(
                        {
                            "errorMessage": error_message,
                            "errorType": error_type,
                            "requestId": request_id,
                            "stackTrace": [line.rstrip() for line in stack[1:]],
                        }
                    )
        finally:
            sys.stdout = old_stdout
            self._router.pop()
        container.invocations += 1
        return Invocation(
            function=fn.function_name,
            logical_id=code.logical_id,
            request_id=request_id,
            payload=payload,
            errored=errored,
            logs=buf.getvalue(),
            duration_ms=_ms(started),
            cold_start=cold,
            error_type=error_type,
            error_message=error_message,
        )

    def _handler(self, code: FunctionCode, container: _Container) -> Any:
        module_path, _, attr = code.handler.rpartition(".")
        if container.module is None:
            assert code.code_dir is not None
            file = code.code_dir / (module_path.replace(".", "/") + ".py")
            unique = f"feecast_twin_fn_{code.logical_id}_{module_path.replace('.', '_')}"
            spec = importlib.util.spec_from_file_location(unique, file)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {file}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[unique] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(unique, None)
                raise
            container.module = module
        handler = getattr(container.module, attr, None)
        if handler is None:
            raise AttributeError(f"handler '{attr}' missing in {code.handler}")
        return handler

    @contextmanager
    def _modules(self, code: FunctionCode, container: _Container) -> Iterator[None]:
        """Give the function its own `feecast` modules and its folder's sibling modules."""
        code_dir = str(code.code_dir)
        files = self._module_files

        def private(name: str, module: Any) -> bool:
            if name == "feecast" or name.startswith("feecast."):
                return True
            # Cached per module object: this runs over every module (thousands once torch is
            # loaded) twice per invocation, and some lazy modules answer `__file__` through a
            # slow module __getattr__ (8 ms for one torch module): ~35 ms per invocation.
            known = files.get(name)
            if known is not None and known[0] is module:
                file = known[1]
            else:
                file = getattr(module, "__file__", None) or ""
                files[name] = (module, file)
            return bool(file) and file.startswith(code_dir + os.sep)

        from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

        saved = {n: m for n, m in list(sys.modules.items()) if private(n, m)}
        for n in saved:
            del sys.modules[n]
        sys.modules.update(container.private_modules)
        present = set(sys.modules)
        saved_providers = dict(DEFAULT_PROVIDERS)
        DEFAULT_PROVIDERS.clear()
        DEFAULT_PROVIDERS.update(container.parameter_providers)
        sys.path.insert(0, code_dir)
        try:
            yield
        finally:
            with suppress(ValueError):
                sys.path.remove(code_dir)
            # Only what this call imported, or the container's own modules, can be private
            # now: the rest was checked on the way in (a set difference, not a full scan).
            candidates = (set(sys.modules) - present) | container.private_modules.keys()
            mine = {
                n: m for n in candidates if (m := sys.modules.get(n)) is not None and private(n, m)
            }
            for n in mine:
                del sys.modules[n]
            container.private_modules = mine
            sys.modules.update(saved)
            container.parameter_providers = dict(DEFAULT_PROVIDERS)
            DEFAULT_PROVIDERS.clear()
            DEFAULT_PROVIDERS.update(saved_providers)

    def _after(self, fn: Any, inv: Invocation) -> None:
        self.invocations.append(inv)
        metrics: list[dict[str, Any]] = []
        try:
            metrics = publish_emf(self.twin.client("cloudwatch"), inv.logs)
        except Exception as exc:  # a malformed metric must not hide the invocation's result
            log.warning("EMF from %s not published: %s", inv.function, exc)
        try:
            _save_logs(fn, inv)
        except Exception as exc:
            log.debug("logs of %s not saved: %s", inv.function, exc)
        self.twin.record(
            "lambda",
            function=inv.logical_id,
            function_name=inv.function,
            request_id=inv.request_id,
            cold_start=inv.cold_start,
            duration_ms=round(inv.duration_ms, 1),
            errored=inv.errored,
            error_type=inv.error_type,
            error_message=inv.error_message,
        )
        for m in metrics:
            self.twin.record("metric", function=inv.logical_id, **m)
        if inv.duration_ms > float(fn.timeout) * 1000:
            log.warning(
                "%s ran %.0f ms, longer than its %s s timeout (the twin does not stop it)",
                inv.function,
                inv.duration_ms,
                fn.timeout,
            )


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
    lines.append(f"REPORT RequestId: {inv.request_id}\tDuration: {inv.duration_ms:.2f} ms")
    now = unix_time_millis()
    backend.put_log_events(
        fn.logs_group_name,
        stream,
        [{"timestamp": int(now), "message": line} for line in lines if line],
    )


# Keys a call added that the process did not have: blanked after the call, removed at uninstall.
_BLANKED: set[str] = set()


@contextmanager
def _environ(env: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            # Never delete while the twin runs: other threads (jobs, executions) copy
            # os.environ, which reads the keys and then each value, and a key deleted in
            # between raises KeyError there. An added key is blanked ("" reads as unset to
            # the getenv checks that matter) and removed when the twin closes.
            if v is None:
                os.environ[k] = ""
                _BLANKED.add(k)
            else:
                os.environ[k] = v


def _remove_blanked() -> None:
    for k in list(_BLANKED):
        if os.environ.get(k) == "":
            del os.environ[k]
    _BLANKED.clear()


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000
