"""An init error that reaches the twin's Runtime API before the invocation is handed over is
the invocation's answer (awslambdaric imports the handler before asking for work)."""

from __future__ import annotations

import json

from feecast_twin.lambda_runtime import FunctionCode, _Pending, _Worker


def test_an_init_error_posted_before_the_handover_is_the_invocations_error() -> None:
    worker = _Worker(None, FunctionCode("Broken", "BrokenFunction", None, "app.handler"), {})  # type: ignore[arg-type]
    body = json.dumps(
        {"errorType": "Runtime.ImportModuleError", "errorMessage": "Unable to import module 'app'"}
    ).encode()
    worker.log.close()  # no process here: no log lines to wait for
    worker.post_init_error(body, "Runtime.ImportModuleError")  # before invoke(): no current
    pending = _Pending(request_id="r1", body=b"{}", deadline_ms=0, function_arn="arn")
    payload, errored, error_type, _logs, timed_out = worker.invoke(pending, timeout=5.0)
    assert errored and not timed_out
    assert error_type == "Runtime.ImportModuleError"
    assert "Unable to import module 'app'" in payload
    assert worker.retired
