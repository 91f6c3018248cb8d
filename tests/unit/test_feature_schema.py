"""The feature group's schema is said once, in feecast.feature_schema: the template (which cannot
import it), the table in docs/conventions.md, the writer and the target type agree with it."""

from __future__ import annotations

import re

from feecast.feature_schema import (
    EVENT_TIME,
    FEATURES,
    RECORD_ID,
    TARGET_COLUMNS,
)
from feecast.ingest.model import MinuteRecord

from tests.support.template import RESOURCES, ROOT

T0 = 1_767_614_400  # 2026-01-05T12:00:00Z
_PARSE = {"String": str, "Integral": int, "Fractional": float}


def test_the_templates_feature_group_declares_the_schema() -> None:
    group = RESOURCES["FeeFeatureGroup"]["Properties"]
    assert group["RecordIdentifierFeatureName"] == RECORD_ID
    assert group["EventTimeFeatureName"] == EVENT_TIME
    assert [(d["FeatureName"], d["FeatureType"]) for d in group["FeatureDefinitions"]] == [
        (f.name, f.type) for f in FEATURES
    ]


def test_the_conventions_table_lists_the_schema() -> None:
    text = (ROOT / "docs" / "conventions.md").read_text()
    section = text.split("## Data: the feature group", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\w+) \| (String|Integral|Fractional) \|", section, re.MULTILINE)
    assert rows == [(f.name, f.type) for f in FEATURES]


def test_every_numeric_feature_and_nothing_else_can_be_a_target() -> None:
    numeric = [f.name for f in FEATURES if f.type != "String"]
    assert len(set(TARGET_COLUMNS)) == len(TARGET_COLUMNS)
    assert set(TARGET_COLUMNS) == set(numeric)


def test_the_writer_writes_the_schemas_names_in_their_types() -> None:
    full = MinuteRecord(minute=T0, count=3, total_fee=600, median_fee=150.0, fee_rate=2.5)
    written = {f["FeatureName"]: f["ValueAsString"] for f in full.to_features()}
    assert set(written) == {f.name for f in FEATURES} == set(full.to_dict())
    for feature in FEATURES:
        _PARSE[feature.type](written[feature.name])  # PutRecord would refuse otherwise
    assert written[RECORD_ID] == written[EVENT_TIME] == "2026-01-05T12:00:00Z"
    assert MinuteRecord.from_features(full.to_features()) == full
