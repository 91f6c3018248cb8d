"""The twin reads an event's "time" in every form AWS's published examples use."""

from datetime import UTC, datetime

import pytest

from feecast_twin.core import _parse_time

EXPECTED = datetime(2020, 3, 10, 9, 18, 9, 50000, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "1583831889050",
        1583831889050,
        "1583831889.05",
        "2020-03-10T09:18:09.050Z",
        "2020-03-10T09:18:09.050+00:00",
    ],
)
def test_given_an_event_time_in_any_published_form_then_it_is_the_same_instant(value):
    assert _parse_time(value) == EXPECTED


def test_given_a_naive_datetime_then_it_is_taken_as_utc():
    assert _parse_time(datetime(2020, 3, 10, 9, 18, 9, 50000)) == EXPECTED


def test_given_text_that_is_no_time_then_it_fails_loudly():
    with pytest.raises(ValueError):
        _parse_time("yesterday")
