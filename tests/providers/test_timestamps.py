"""`parse_timestamp`: the one reading of a callback's time, for every webhook parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers.timestamps import MILLISECONDS_FROM, first_timestamp, parse_timestamp

JUNE = datetime(2023, 6, 12, 9, 58, 33, tzinfo=UTC)
JUNE_EPOCH = 1686563913  # §4.5's Gupshup example: "payload": {"ts": 1686563913}

READABLE: list[tuple[Any, datetime]] = [
    # ISO 8601, as Bird stamps lastStatusAt (§2.6: "2024-11-21T09:14:49.469Z").
    ("2024-11-21T09:14:49.469Z", datetime(2024, 11, 21, 9, 14, 49, 469000, tzinfo=UTC)),
    ("2024-11-21T09:14:49.469z", datetime(2024, 11, 21, 9, 14, 49, 469000, tzinfo=UTC)),
    ("2023-06-12T09:58:33", JUNE),  # no zone: UTC
    (" 2023-06-12T09:58:33+00:00 ", JUNE),
    ("2023-06-12T11:58:33+02:00", JUNE),
    # Epoch seconds, as numbers or digits (Gupshup's ts, §4.5).
    (JUNE_EPOCH, JUNE),
    (float(JUNE_EPOCH), JUNE),
    (str(JUNE_EPOCH), JUNE),
    (f"{JUNE_EPOCH}.0", JUNE),
    ("1.686563913e9", JUNE),
    # Epoch milliseconds (Sociocs' timestamp, §3.6: "timestamp (ms)").
    (JUNE_EPOCH * 1000, JUNE),
    (str(JUNE_EPOCH * 1000), JUNE),
    # Either side of the line between seconds and milliseconds.
    (MILLISECONDS_FROM - 1, datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=10**11 - 1)),
    (MILLISECONDS_FROM, datetime(1973, 3, 3, 9, 46, 40, tzinfo=UTC)),
]

UNREADABLE: list[Any] = [
    None,
    True,
    False,
    "",
    "   ",
    "soon",
    "nan",
    "inf",
    "-1e999",
    "1_686_563_913",
    "9" * 5000,  # int() of it raises past Python's digit limit
    "10000-01-01T00:00:00",
    0,
    -1,
    -JUNE_EPOCH,
    0.0,
    float("nan"),
    float("inf"),
    float("-inf"),
    1e308,  # past year 9999 even as milliseconds
    10**400,  # past a float's range
    -(10**400),
    [JUNE_EPOCH],
    {"ts": JUNE_EPOCH},
]


@pytest.mark.parametrize(("value", "expected"), READABLE, ids=lambda v: repr(v)[:30])
def test_timestamp_is_read_from_iso_text_seconds_or_milliseconds(
    value: Any, expected: datetime
) -> None:
    moment = parse_timestamp(value)

    assert moment == expected
    assert moment is not None and moment.tzinfo is not None


@pytest.mark.parametrize("value", UNREADABLE, ids=lambda v: repr(v)[:30])
def test_timestamp_that_cannot_be_read_is_none(value: Any) -> None:
    assert parse_timestamp(value) is None


def test_zone_is_kept_when_the_text_names_one() -> None:
    moment = parse_timestamp("2023-06-12T11:58:33+02:00")

    assert moment is not None and moment.utcoffset() == timezone(timedelta(hours=2)).utcoffset(None)


def test_first_timestamp_skips_what_it_cannot_read() -> None:
    assert first_timestamp([None, "soon", 10**400, JUNE_EPOCH, "2024-01-01"]) == JUNE
    assert first_timestamp(["soon", True]) is None
    assert first_timestamp([]) is None


# Seconds from 1974 to 5138 (below MILLISECONDS_FROM); milliseconds from 1973 on.
@given(st.datetimes(min_value=datetime(1974, 1, 1), max_value=datetime(5138, 1, 1)))
def test_epoch_seconds_and_milliseconds_read_back_the_same_time(when: datetime) -> None:
    moment = when.replace(tzinfo=UTC, microsecond=0)
    seconds = int(moment.timestamp())

    assert parse_timestamp(seconds) == moment
    assert parse_timestamp(str(seconds)) == moment
    assert parse_timestamp(seconds * 1000) == moment
    assert parse_timestamp(moment.isoformat()) == moment


@given(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(),
        st.lists(st.integers(), max_size=2),
    )
)
def test_any_value_gives_an_aware_time_or_none(value: Any) -> None:
    moment = parse_timestamp(value)

    assert moment is None or (isinstance(moment, datetime) and moment.tzinfo is not None)
