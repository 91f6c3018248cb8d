"""The ingest stage's settings, read from the environment at cold start
(feecast.settings.load_settings)."""

from __future__ import annotations

from pydantic import Field, field_validator

from feecast.ingest.pipeline import DEFAULT_WATERMARK_SECONDS
from feecast.ingest.sources import SOURCES
from feecast.settings import BaseSettings


class CollectorSettings(BaseSettings):
    """CollectTransactionsFunction's environment (template.yaml, section 1 Ingest)."""

    ingest_table: str
    feature_group_name: str
    ingest_source: str = "blockchain.info"
    ingest_source_url: str = ""  # empty: the source's public URL
    polls_per_run: int = Field(default=4, ge=1, le=60)
    poll_interval_seconds: float = Field(default=12.0, ge=0, le=60)
    request_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    watermark_seconds: int = Field(default=DEFAULT_WATERMARK_SECONDS, ge=0, le=3600)
    max_minutes_per_run: int = Field(default=240, ge=1)

    @field_validator("ingest_source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if value not in SOURCES:
            raise ValueError(f"unknown source {value!r}: one of {sorted(SOURCES)}")
        return value
