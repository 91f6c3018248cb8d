"""The schema of the `${ProjectName}-fee-minutes` feature group, said once (pure Python).

The writer (`ingest.model.MinuteRecord`), the readers (`adapters.feature_history`, the
`adapters.feature_store` sink) and the configuration (`config.TargetConfig`) take the names and
types from here. template.yaml cannot import Python: tests/unit/test_feature_schema.py holds its
FeeFeatureGroup (and the table in docs/conventions.md) to `FEATURES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

__all__ = [
    "API_INVOCATION_TIME",
    "AVG_FEE",
    "COUNT",
    "EVENT_TIME",
    "FEATURES",
    "FEE_RATE",
    "IS_DELETED",
    "MEDIAN_FEE",
    "MINUTE_ID_FORMAT",
    "RECORD_ID",
    "TARGET_COLUMNS",
    "TOTAL_FEE",
    "WRITE_TIME",
    "Feature",
    "FeatureType",
    "TargetColumn",
]

FeatureType = Literal["String", "Integral", "Fractional"]

RECORD_ID: Final = "tx_minute"  # the minute, MINUTE_ID_FORMAT
EVENT_TIME: Final = "event_time"  # the same instant as RECORD_ID
COUNT: Final = "total_nb_trx_1min"
TOTAL_FEE: Final = "total_fee_1min"
AVG_FEE: Final = "avg_fee_1min"
# Less noisy companions of the average (docs/ingest.md): the median fee of the minute's
# transactions (satoshi) and the vsize-weighted fee rate, total fee / total vsize (sat/vB),
# over the transactions whose size the source gives.
MEDIAN_FEE: Final = "median_fee_1min"
FEE_RATE: Final = "fee_rate_1min"

# The record identifier (and event time) of a minute: its start in UTC.
MINUTE_ID_FORMAT: Final = "%Y-%m-%dT%H:%M:00Z"

# Columns SageMaker adds to every offline-store row (not features of the group).
WRITE_TIME: Final = "write_time"
API_INVOCATION_TIME: Final = "api_invocation_time"
IS_DELETED: Final = "is_deleted"


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    type: FeatureType


# In the template's order. Features can be added to an existing group, never removed.
FEATURES: Final = (
    Feature(RECORD_ID, "String"),
    Feature(COUNT, "Integral"),
    Feature(TOTAL_FEE, "Fractional"),
    Feature(AVG_FEE, "Fractional"),
    Feature(MEDIAN_FEE, "Fractional"),
    Feature(FEE_RATE, "Fractional"),
    Feature(EVENT_TIME, "String"),
)

# What a build may forecast or train on (`/target` target_col, extra_series): every numeric
# feature. Spelled out because a type checker reads no variable inside Literal[...];
# tests/unit/test_feature_schema.py holds it to the numeric features of FEATURES.
TargetColumn = Literal[
    "avg_fee_1min", "total_fee_1min", "total_nb_trx_1min", "median_fee_1min", "fee_rate_1min"
]
TARGET_COLUMNS: Final[tuple[str, ...]] = get_args(TargetColumn)
