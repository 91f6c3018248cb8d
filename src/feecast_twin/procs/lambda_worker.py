"""A Lambda worker: `python -m feecast_twin.procs.lambda_worker <handler>`, started by the twin.

What Lambda's Python images run (`python -m awslambdaric <handler>`: the runtime interface
client polls the Runtime API at $AWS_LAMBDA_RUNTIME_API, imports the handler at init, calls it
once per invocation), preceded by the twin's own bootstrap:

- the process follows the twin's clock (feecast_twin.procs.clock);
- it exits when the twin process is gone (no orphans after a crash);
- before each response, error or init error is posted, a marker line goes to stdout, so the twin
  knows it has read every log line of that invocation (its EMF metrics among them).

Nothing in the handler or the library knows about any of this.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

#: Written to stdout before each result is posted: "<MARK><request id>\n".
END_MARK = "\x1efeecast-twin-end "
INIT_ID = "init"
PARENT_ENV = "FEECAST_TWIN_PARENT_PID"


def _mark(request_id: str) -> None:
    sys.stdout.flush()
    sys.stdout.write(f"{END_MARK}{request_id}\n")
    sys.stdout.flush()


def _mark_results(client: Any) -> None:
    post_result, post_error, post_init = (
        client.post_invocation_result,
        client.post_invocation_error,
        client.post_init_error,
    )

    def result(invoke_id: str, *args: Any, **kwargs: Any) -> Any:
        _mark(invoke_id)
        return post_result(invoke_id, *args, **kwargs)

    def error(invoke_id: str, *args: Any, **kwargs: Any) -> Any:
        _mark(invoke_id)
        return post_error(invoke_id, *args, **kwargs)

    def init_error(*args: Any, **kwargs: Any) -> Any:
        _mark(INIT_ID)
        return post_init(*args, **kwargs)

    client.post_invocation_result = result
    client.post_invocation_error = error
    client.post_init_error = init_error


def watch_parent(env: str = PARENT_ENV) -> None:
    """Exit as soon as the process that started the twin is gone."""
    raw = os.environ.pop(env, None)
    if not raw:
        return
    parent = int(raw)

    def watch() -> None:
        while True:
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:  # pragma: no cover - pid reused by another user
                os._exit(0)
            time.sleep(0.5)

    threading.Thread(target=watch, name="twin-parent-watch", daemon=True).start()


def main(argv: list[str]) -> None:
    from feecast_twin.procs.clock import follow_from_environment

    follow_from_environment()
    watch_parent()
    # awslambdaric's own entry point (awslambdaric/__main__.py), with the result marker added.
    from awslambdaric import bootstrap
    from awslambdaric.lambda_config import LambdaConfigProvider
    from awslambdaric.lambda_runtime_client import LambdaRuntimeClient

    config = LambdaConfigProvider(argv)
    client = LambdaRuntimeClient(config.api_address, config.use_thread_polling)
    _mark_results(client)
    bootstrap.run(config.handler, client)


if __name__ == "__main__":
    main(sys.argv)
