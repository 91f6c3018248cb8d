"""S3: the build's artifact bucket, small text objects (the build's ArtifactStore port)."""

from __future__ import annotations

from functools import cache

from feecast.adapters import clients
from feecast.adapters.errors import aws_errors

__all__ = ["S3Store", "s3_store"]


class S3Store:
    """Text objects of one bucket; `get_text` raises NotFound for a missing key."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def put_text(self, key: str, text: str, content_type: str = "application/json") -> str:
        with aws_errors():
            clients.client("s3").put_object(
                Bucket=self.bucket, Key=key, Body=text.encode("utf-8"), ContentType=content_type
            )
        return f"s3://{self.bucket}/{key}"

    def get_text(self, key: str) -> str:
        with aws_errors():  # NoSuchKey -> NotFound
            body = clients.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return str(body.decode("utf-8"))


@cache
def s3_store(bucket: str) -> S3Store:
    """One store per bucket and execution environment."""
    return S3Store(bucket)
