"""SageMaker Runtime: ask an endpoint for a forecast (the smoke test's Forecaster port)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from feecast.adapters import clients
from feecast.adapters.errors import (
    THROTTLING_CODES,
    NoAnswer,
    error_code,
    error_message,
    throttled,
)


class SageMakerRuntime:
    def invoke(self, endpoint_name: str, body: dict[str, Any]) -> bytes:
        """The endpoint's answer; AwsThrottled when throttled, NoAnswer("<code>: <what it said>")
        when the container or the runtime gave no answer."""
        try:
            response = clients.client("sagemaker-runtime").invoke_endpoint(
                EndpointName=endpoint_name,
                ContentType="application/json",
                Accept="application/json",
                Body=json.dumps(body).encode(),
            )
            return bytes(response["Body"].read())
        except ClientError as exc:
            code = error_code(exc)
            if code in THROTTLING_CODES:  # the state's Retry waits longer
                raise throttled(exc) from exc
            original = exc.response.get("OriginalMessage") or error_message(exc)
            raise NoAnswer(f"{code}: {original}") from exc
        except BotoCoreError as exc:  # read timeout, connection reset: nothing came back
            raise NoAnswer(f"{type(exc).__name__}: {exc}") from exc
