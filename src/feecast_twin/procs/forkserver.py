"""A fork server: starts the twin's processes from a parent that has already imported the heavy
third-party libraries, so each new process skips that import (a Lambda worker saves ~0.8 s of
boto3 / X-Ray / Powertools imports, a SageMaker container ~5 s of torch / GluonTS).

The server is a plain process (`python -m feecast_twin.procs.forkserver PRELOAD...`) holding
one end of a Unix socket. A request names a module to run as `__main__`, its arguments, its
environment, its working directory and three file descriptors (sent with SCM_RIGHTS) for its
stdin / stdout / stderr; the server forks, the child becomes its own session, takes those
descriptors, replaces its environment and runs the module, exactly as `python -m module` would
after the preloaded imports. The server answers with the child's pid and later reports its exit
status. The server is single-threaded (children are reaped on SIGCHLD), so forking it is safe.

What the preloaded modules may be: third-party libraries whose import reads none of the
per-process configuration (the function's or container's environment), and starts no thread.
The code a process runs (the handler, feecast, the algorithm) is always imported by the child
itself: that is its cold start.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import struct
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_HEADER = struct.Struct("!I")
_MAX_FDS = 3


# ---------------------------------------------------------------------------- wire format
def _send(sock: socket.socket, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
    data = json.dumps(message).encode()
    payload = _HEADER.pack(len(data)) + data
    if fds:
        socket.send_fds(sock, [payload], list(fds))
    else:
        sock.sendall(payload)


class _Reader:
    """Length-prefixed JSON messages (with the descriptors that came along) from a stream."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.fds: list[int] = []

    def read(self) -> list[tuple[dict[str, Any], list[int]]]:
        """What has arrived; raises EOFError when the peer is gone."""
        data, fds, _flags, _addr = socket.recv_fds(self.sock, 65536, _MAX_FDS * 4)
        if not data:
            raise EOFError
        self.buffer += data
        self.fds.extend(fds)
        out = []
        while len(self.buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self.buffer)
            if len(self.buffer) < _HEADER.size + size:
                break
            body = self.buffer[_HEADER.size : _HEADER.size + size]
            self.buffer = self.buffer[_HEADER.size + size :]
            message = json.loads(body)
            count = int(message.get("fds", 0))
            taken, self.fds = self.fds[:count], self.fds[count:]
            out.append((message, taken))
        return out


# ---------------------------------------------------------------------------- the server
def _child(message: dict[str, Any], fds: list[int], sock: socket.socket) -> None:
    """In the forked child: become the requested process. Never returns."""
    code = 1
    try:
        os.setsid()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        sock.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.chdir(message["cwd"])
        os.environ.clear()
        os.environ.update(message["env"])
        # `python -m module` puts the working directory first on sys.path.
        sys.path[0] = os.getcwd()
        sys.argv = [message["module"], *message["argv"]]
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own streams
        sys.stdout = open(1, "w", closefd=False, buffering=1)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False, buffering=1)  # noqa: SIM115
        import runpy

        runpy.run_module(message["module"], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(sock: socket.socket, preload: Sequence[str]) -> None:
    import importlib

    for module in preload:
        importlib.import_module(module)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ, "request")
    selector.register(wake_r, selectors.EVENT_READ, "child")
    reader = _Reader(sock)
    _send(sock, {"ready": True, "pid": os.getpid()})
    while True:
        for key, _ in selector.select():
            if key.data == "child":
                os.read(wake_r, 4096)
                _reap(sock)
                continue
            try:
                messages = reader.read()
            except (EOFError, ConnectionError):
                return  # the twin is gone
            for message, fds in messages:
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    _child(message, fds, sock)
                for fd in fds:
                    os.close(fd)
                _send(sock, {"spawned": message["id"], "pid": pid})
        _reap(sock)


def _reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(sock, {"exited": pid, "code": os.waitstatus_to_exitcode(status)})


# ---------------------------------------------------------------------------- the client
@dataclass
class _Exit:
    event: threading.Event
    code: int | None = None


class ForkedProcess:
    """A process the fork server started: the part of subprocess.Popen the twin uses."""

    def __init__(self, server: ForkServer, pid: int, stdout: Any) -> None:
        self._server = server
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._server._exit_code(self.pid, 0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        code = self._server._exit_code(self.pid, timeout)
        if code is None:
            raise TimeoutError(f"process {self.pid} still running after {timeout}s")
        self.returncode = code
        return code

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)


class ForkServer:
    """The twin's side: start the server once, then `spawn` as often as needed (thread-safe)."""

    def __init__(self, preload: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.preload = list(preload)
        self.env = env
        self._sock: socket.socket | None = None
        self._process: Any = None
        self._lock = threading.Lock()
        self._spawned: dict[int, tuple[threading.Event, list[int]]] = {}
        self._exits: dict[int, _Exit] = {}
        self._next_id = 0
        self._closed = False

    def start(self) -> ForkServer:
        import subprocess

        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = dict(self.env if self.env is not None else os.environ)
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "feecast_twin.procs.forkserver",
                str(child.fileno()),
                *self.preload,
            ],
            pass_fds=[child.fileno()],
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        child.close()
        self._sock = parent
        reader = _Reader(parent)
        ready: list[tuple[dict[str, Any], list[int]]] = []
        while not ready:
            ready = reader.read()
        threading.Thread(
            target=self._listen, args=(reader,), name="twin-forkserver", daemon=True
        ).start()
        return self

    def _listen(self, reader: _Reader) -> None:
        while True:
            try:
                messages = reader.read()
            except (EOFError, OSError):
                with self._lock:
                    self._closed = True
                    for exit_ in self._exits.values():
                        exit_.event.set()
                    for event, _ in self._spawned.values():
                        event.set()
                return
            for message, _ in messages:
                with self._lock:
                    if "spawned" in message:
                        event, box = self._spawned.pop(int(message["spawned"]))
                        box.append(int(message["pid"]))
                        self._exits.setdefault(int(message["pid"]), _Exit(threading.Event()))
                        event.set()
                    elif "exited" in message:
                        exit_ = self._exits.setdefault(
                            int(message["exited"]), _Exit(threading.Event())
                        )
                        exit_.code = int(message["code"])
                        exit_.event.set()

    def spawn(
        self, module: str, argv: Sequence[str], env: dict[str, str], cwd: str
    ) -> ForkedProcess:
        """Run `python -m module *argv` (after the preloads) with this environment and working
        directory; its stdout and stderr come back merged in `process.stdout`."""
        read_end, write_end = os.pipe()
        null = os.open(os.devnull, os.O_RDONLY)
        event = threading.Event()
        box: list[int] = []
        try:
            with self._lock:
                if self._closed or self._sock is None:
                    raise RuntimeError("the twin's fork server is not running")
                request_id = self._next_id
                self._next_id += 1
                self._spawned[request_id] = (event, box)
                _send(
                    self._sock,
                    {
                        "id": request_id,
                        "module": module,
                        "argv": list(argv),
                        "env": env,
                        "cwd": cwd,
                        "fds": 3,
                    },
                    [null, write_end, write_end],
                )
        finally:
            os.close(write_end)
            os.close(null)
        if not event.wait(60) or not box:
            os.close(read_end)
            raise RuntimeError("the twin's fork server did not start the process")
        return ForkedProcess(self, box[0], os.fdopen(read_end, "rb", buffering=0))

    def _exit_code(self, pid: int, timeout: float | None) -> int | None:
        with self._lock:
            exit_ = self._exits.setdefault(pid, _Exit(threading.Event()))
        exit_.event.wait(timeout)
        return exit_.code

    def close(self) -> None:
        with self._lock:
            self._closed = True
            sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        if self._process is not None:
            try:
                self._process.wait(timeout=10)
            except Exception:
                self._process.kill()
                self._process.wait()


def main(argv: list[str]) -> None:
    sock = socket.socket(fileno=int(argv[1]))
    serve(sock, argv[2:])


if __name__ == "__main__":
    main(sys.argv)
