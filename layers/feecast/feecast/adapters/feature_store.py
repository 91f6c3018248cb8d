"""Writing (and reading back) minute records in the feature group: PutRecord / GetRecord.

`FeatureStoreSink(group).put_minute(record)` puts one closed minute to both stores (online and,
asynchronously, offline). Putting the same record twice is harmless: same identifier, same event
time, same values; readers of the offline store keep the latest write_time per minute. The
record's names and types are feecast.feature_schema's (MinuteRecord.to_features).
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config

from feecast.adapters import clients
from feecast.ingest.model import MinuteRecord

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10
)


def _client() -> Any:
    return clients.client("sagemaker-featurestore-runtime", _CONFIG)


class FeatureStoreSink:
    def __init__(self, feature_group_name: str, client: Any | None = None) -> None:
        self.feature_group_name = feature_group_name
        self.client = client if client is not None else _client()

    def put_minute(self, record: MinuteRecord) -> None:
        self.client.put_record(
            FeatureGroupName=self.feature_group_name, Record=record.to_features()
        )

    def get_minute(self, tx_minute: str) -> MinuteRecord | None:
        """The online store's record of a minute (`YYYY-MM-DDTHH:MM:00Z`), None if absent."""
        response = self.client.get_record(
            FeatureGroupName=self.feature_group_name, RecordIdentifierValueAsString=tx_minute
        )
        record = response.get("Record")
        return MinuteRecord.from_features(record) if record else None
