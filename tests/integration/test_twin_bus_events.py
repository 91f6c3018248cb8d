"""Events put on the twin's EventBridge: recorded (twin.bus_events), and refused per entry as
EventBridge refuses them where moto accepts them."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.twin(template="tests/integration/templates/core.yaml")


def test_given_mixed_entries_then_aws_refusals_are_per_entry_and_only_accepted_ones_recorded(
    twin: Any,
) -> None:
    good = {"Source": "feecast", "DetailType": "Build Started", "Detail": json.dumps({"a": 1})}
    entries = [
        good,
        {**good, "Detail": "[1, 2]"},  # JSON, but not an object
        {**good, "DetailType": "x" * 129},
        {**good, "Source": "s" * 257},
    ]
    answer = twin.client("events").put_events(Entries=entries)
    assert answer["FailedEntryCount"] == 3
    codes = [e.get("ErrorCode") for e in answer["Entries"]]
    assert codes == [None, "MalformedDetail", "InvalidArgument", "InvalidArgument"]
    [recorded] = twin.bus_events(source="feecast")
    assert recorded["event_id"] == answer["Entries"][0]["EventId"]
    assert (recorded["detail_type"], recorded["detail"], recorded["event_bus"]) == (
        "Build Started",
        {"a": 1},
        "default",
    )
    assert twin.wait_for_bus_event(lambda e: e["detail"] == {"a": 1}, what="the event") == recorded
