"""The twin's S3 (moto's backend, called directly so it works in-process and in server mode)."""

from __future__ import annotations

import json
from typing import Any

from feecast_twin.deepar.errors import ClientError


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ClientError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ClientError(f"{uri!r} names no bucket")
    return bucket, key


class S3Store:
    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region

    @property
    def _backend(self) -> Any:
        from moto.s3.models import s3_backends

        return s3_backends[self.account_id]["aws"]

    def _bucket(self, bucket: str, uri: str) -> Any:
        from moto.s3.exceptions import MissingBucket

        try:
            return self._backend.get_bucket(bucket)
        except MissingBucket:
            raise ClientError(
                f'Data download failed: bucket "{bucket}" of S3 URL "{uri}" does not exist'
            ) from None

    def get(self, uri: str) -> bytes:
        bucket, key = parse_s3_uri(uri)
        self._bucket(bucket, uri)
        from moto.s3.exceptions import MissingKey

        try:
            obj = self._backend.get_object(bucket, key)
        except MissingKey:
            obj = None
        if obj is None or not key:
            raise ClientError(f'No S3 object found at "{uri}"')
        return bytes(obj.value)

    def put(self, uri: str, data: bytes) -> None:
        bucket, key = parse_s3_uri(uri)
        self._bucket(bucket, uri)
        if not key:
            raise ClientError(f'"{uri}" names a bucket, not an object')
        self._backend.put_object(bucket, key, data)

    def list_prefix(self, uri: str) -> list[tuple[str, bytes]]:
        """(key, bytes) of every object under the prefix (folder placeholders skipped)."""
        bucket, prefix = parse_s3_uri(uri)
        b = self._bucket(bucket, uri)
        out = []
        for name in sorted(b.keys.keys()):
            if not name.startswith(prefix) or name.endswith("/"):
                continue
            obj = self._backend.get_object(bucket, name)
            if obj is not None:
                out.append((name, bytes(obj.value)))
        return out

    def read_data_source(self, s3_source: dict[str, Any], what: str) -> list[tuple[str, bytes]]:
        """The files of an S3DataSource (S3Prefix or ManifestFile), as SageMaker downloads them."""
        uri = s3_source.get("S3Uri", "")
        kind = s3_source.get("S3DataType", "S3Prefix")
        if kind == "S3Prefix":
            files = self.list_prefix(uri)
        elif kind == "ManifestFile":
            try:
                manifest = json.loads(self.get(uri))
                prefix = manifest[0]["prefix"]
                files = [(f"{prefix}{rel}", self.get(f"{prefix}{rel}")) for rel in manifest[1:]]
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise ClientError(
                    f'{what}: manifest "{uri}" is not a valid manifest ({exc})'
                ) from None
            files = [(parse_s3_uri(k)[1], v) for k, v in files]
        else:
            raise ClientError(f"{what}: S3DataType {kind!r} is not supported by DeepAR")
        if not files:
            bucket = parse_s3_uri(uri)[0]
            raise ClientError(
                f'Data download failed:No S3 objects found under S3 URL "{uri}" given in input '
                f"data source. Please ensure that the bucket exists in the selected region "
                f"({self.region}), that objects exist under that S3 prefix, and that the role "
                f'has "s3:ListBucket" permissions on bucket "{bucket}".'
            )
        return files
