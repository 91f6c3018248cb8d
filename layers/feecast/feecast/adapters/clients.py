"""The one client factory: every adapter builds its boto3 clients and tables here.

Built once per cold start (cached). `use_session` points every adapter at another session (the
CLI's profile, region and --endpoint-url) and forgets the clients built so far.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_SESSION: dict[str, Any] = {"session": None, "endpoint_url": None}


def use_session(session: boto3.Session | None, endpoint_url: str | None = None) -> None:
    """Make the adapters use this session (the CLI's profile/region/endpoint), not the default."""
    _SESSION.update(session=session, endpoint_url=endpoint_url)
    client.cache_clear()
    table.cache_clear()


def _kwargs() -> dict[str, Any]:
    return {"endpoint_url": _SESSION["endpoint_url"]} if _SESSION["endpoint_url"] else {}


@cache
def client(service: str, config: Config | None = None) -> Any:
    """A boto3 client of `service` ("sagemaker", "stepfunctions", ...); `config` (a module's
    constant: clients are cached per config object) for the adapters with their own retries,
    timeouts or connection pool."""
    kwargs = _kwargs() | ({"config": config} if config is not None else {})
    return (_SESSION["session"] or boto3).client(service, **kwargs)


@cache
def table(name: str) -> Any:
    """A DynamoDB Table resource."""
    return (_SESSION["session"] or boto3).resource("dynamodb", **_kwargs()).Table(name)
