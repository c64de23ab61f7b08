"""``Retry-After``: delta-seconds or an HTTP date, and nothing that merely parses as a float."""

from __future__ import annotations

import pytest

from providers.errors import retry_after_seconds


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        ("nan", None),
        ("inf", None),
        ("1e400", None),
        ("-3", None),
        ("0x10", None),
        ("", None),
        ("99999999999999999999", 1e9),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: at once
    ],
)
def test_retry_after_is_delta_seconds_or_a_date(header: str, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds
