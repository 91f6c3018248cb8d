"""The twin's AWS endpoint: moto's server mode on 127.0.0.1, the same backends as in-process.

Every process the twin starts (Lambda workers, SageMaker containers) reaches AWS here through
the SDK's standard `AWS_ENDPOINT_URL`; `feecast local serve` exposes the same server to the AWS
CLI and to other programs. A front door (`Gateway`, feecast_twin.gateway) sees every request
before moto does: it may answer instead (an injected fault, a request AWS would refuse).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from werkzeug.serving import BaseWSGIServer, make_server

#: (status, headers, body) of an answer given instead of moto's.
Answer = tuple[int, dict[str, str], bytes]


class FrontDoor(Protocol):
    def from_wsgi(self, environ: dict[str, Any]) -> tuple[Answer | None, Any]:
        """(an answer for this request or None to let moto answer, what to report after)."""
        ...

    def answered(self, call: Any, status: int) -> None:
        """moto answered the request with `status`."""
        ...

    def lock_for(self, call: Any) -> Any:
        """A context manager moto answers the request under (atomic requests)."""
        ...


class PortInUse(OSError):
    """The address the twin was asked to serve on is taken."""


class TwinServer:
    """moto's WSGI application behind the twin's front door, served on a thread."""

    def __init__(self, front_door: FrontDoor | None, host: str = "127.0.0.1", port: int = 0):
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        # One access-log line per request is noise next to the twin's own timeline.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        moto_app = DomainDispatcherApplication(create_backend_app)
        door = front_door

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if door is None:
                result: Iterable[bytes] = moto_app(environ, start_response)
                return result
            answer, call = door.from_wsgi(environ)
            if answer is None:

                def reporting_start_response(status: str, *args: Any) -> Any:
                    door.answered(call, int(status.split(" ", 1)[0]))
                    return start_response(status, *args)

                with door.lock_for(call):
                    # Drained under the lock: moto's answer is computed while it is read.
                    result = list(moto_app(environ, reporting_start_response))
                return result
            status, headers, body = answer
            start_response(f"{status} {_REASONS.get(status, 'Error')}", list(headers.items()))
            return [body]

        class Handler(MotoRequestHandler):
            def setup(self) -> None:
                super().setup()
                # No Nagle delay between a response's headers and its body (~40 ms per call).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        try:
            self._server: BaseWSGIServer = make_server(
                host, port, app, threaded=True, request_handler=Handler
            )
        except SystemExit:  # werkzeug prints why (the port is taken) and exits the program
            raise PortInUse(
                f"{host}:{port} is in use by another program: stop it, or choose another port"
            ) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # shutdown() waits for the next poll (0.5 s default)
            name="twin-aws-endpoint",
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> TwinServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    424: "Failed Dependency",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
