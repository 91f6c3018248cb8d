"""Imported once by the Lambda workers' fork server (feecast_twin.procs.launch): botocore's JSON
files (API models, endpoints) of the services the functions call, already read.

A new Lambda worker creating its first clients spends most of its cold start reading botocore's
JSON models (0.25-0.45 s for three services, measured). Read once here, they are inherited by
every forked worker. Only data is loaded: no client is created, no credential, region or
configuration is resolved, so each worker resolves those from its own environment, as a fresh
process would (this module runs with AWS_CONFIG_FILE=/dev/null, as the workers do).

botocore keeps what it read per session, and the library, Powertools' parameters and idempotency
each make their own session (0.1-0.2 s per client of a new session, measured): the files read
here are kept for the whole process, so every session of a worker finds them. botocore already
hands one parsed file to every caller of a session; this shares it across sessions too.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore import loaders

# The services the stack calls: the front door's list (a module of constants, no moto).
from feecast_twin.gateway import SERVICES

_FILES: dict[str, Any] = {}
_FILES_LOCK = threading.Lock()
_load_file = loaders.JSONFileLoader.load_file


def _load_file_once(self: loaders.JSONFileLoader, file_path: str) -> Any:
    with _FILES_LOCK:
        if file_path in _FILES:
            return _FILES[file_path]
    data = _load_file(self, file_path)
    if data is not None:
        with _FILES_LOCK:
            data = _FILES.setdefault(file_path, data)
    return data


def warm() -> None:
    loaders.JSONFileLoader.load_file = _load_file_once  # type: ignore[method-assign]
    boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    assert session is not None
    loader = session._session.get_component("data_loader")
    for name in ("endpoints", "partitions", "_retry", "sdk-default-configuration"):
        loader.load_data(name)
    for service in SERVICES:
        for kind in ("service-2", "endpoint-rule-set-1"):
            loader.load_service_model(service, kind)


warm()
