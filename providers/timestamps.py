"""Reading the time a delivery callback says a status changed, whatever form it takes.

Providers stamp their callbacks differently: Bird with ISO 8601 strings (``lastStatusAt``,
providers spec §2.6), Callbell's WhatsApp providers with epoch seconds (Gupshup's
``payload.ts``, §4.5) and Sociocs with epoch milliseconds (``timestamp``, §3.6), as numbers
or as strings of digits. Every webhook parser reads them through `parse_timestamp`.

A callback comes from the internet, so a time that cannot be read (a word, a date past
year 9999, a number past a float's range, zero or less) is None: the receipt still
counts, and the core stamps it with the time it arrived.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime

# Epoch values from here up are milliseconds: 10**11 is 1973 as milliseconds and year
# 5138 as seconds, so no real time of either kind falls on the wrong side.
MILLISECONDS_FROM = 10**11
# Digits, an optional fraction and exponent: what ``float()`` takes, without "nan", "inf",
# "1_000" or a 5000-digit string (int() of which raises past Python's digit limit).
_NUMBER = re.compile(r"[+-]?[0-9]{1,40}(\.[0-9]{0,20})?([eE][+-]?[0-9]{1,4})?")


def parse_timestamp(value: object) -> datetime | None:
    """An aware datetime from ISO 8601 text, or epoch seconds or milliseconds given as a
    number or a string of digits; None for anything else or out of range.

    Text without a zone is taken as UTC (what every provider here means by it).
    """
    if isinstance(value, bool):  # True is an int in Python, not a time
        return None
    if isinstance(value, str):
        text = value.strip()
        if _NUMBER.fullmatch(text):
            return _from_epoch(float(text))
        return _from_iso(text)
    if isinstance(value, int | float):
        return _from_epoch(value)
    return None


def first_timestamp(values: Iterable[object]) -> datetime | None:
    """The first of ``values`` that `parse_timestamp` can read, or None."""
    for value in values:
        moment = parse_timestamp(value)
        if moment is not None:
            return moment
    return None


def _from_epoch(value: float) -> datetime | None:
    # An int past a float's range fails at the division, a float past year 9999 in
    # fromtimestamp: both only mean the time is unusable.
    try:
        if not math.isfinite(value) or value <= 0:
            return None
        seconds = value / 1000 if value >= MILLISECONDS_FROM else value
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _from_iso(text: str) -> datetime | None:
    if not text:
        return None
    try:
        # "Z" is read by fromisoformat since Python 3.11, but not "z".
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
