"""An in-memory ArtifactStore (feecast.build.ports) for unit tests."""

from __future__ import annotations

from feecast.adapters.errors import NotFound


class MemoryStore:
    """Objects in a dict; a missing key raises NotFound as S3Store does."""

    def __init__(self, bucket: str = "test-bucket") -> None:
        self.bucket = bucket
        self.objects: dict[str, str] = {}

    def put_text(self, key: str, text: str, content_type: str = "application/json") -> str:
        self.objects[key] = text
        return f"s3://{self.bucket}/{key}"

    def get_text(self, key: str) -> str:
        if key not in self.objects:
            raise NotFound(f"s3://{self.bucket}/{key} does not exist")
        return self.objects[key]
