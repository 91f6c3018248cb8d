"""The build's artifact store: small text objects in the artifact bucket (the S3 adapter; its in-memory fake is
feecast_testing.artifacts.MemoryStore)."""

from __future__ import annotations

from functools import cache
from typing import Any, Protocol

import boto3

__all__ = ["ArtifactStore", "S3Store", "s3_store"]


class ArtifactStore(Protocol):
    bucket: str

    def put_text(self, key: str, text: str, content_type: str = "application/json") -> str:
        """Write `text` at `key`; returns its s3:// URI."""
        ...

    def get_text(self, key: str) -> str: ...


class S3Store:
    def __init__(self, bucket: str, client: Any | None = None) -> None:
        self.bucket = bucket
        self._s3 = client or boto3.client("s3")

    def put_text(self, key: str, text: str, content_type: str = "application/json") -> str:
        self._s3.put_object(
            Bucket=self.bucket, Key=key, Body=text.encode("utf-8"), ContentType=content_type
        )
        return f"s3://{self.bucket}/{key}"

    def get_text(self, key: str) -> str:
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self._s3.exceptions.NoSuchKey as exc:
            raise FileNotFoundError(f"s3://{self.bucket}/{key} does not exist") from exc
        return str(body.decode("utf-8"))


@cache
def s3_store(bucket: str) -> S3Store:
    """One store per bucket and execution environment (the client is built once)."""
    return S3Store(bucket)
