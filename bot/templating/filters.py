"""Filters for message templates: dates, times and money (documented in `bot.templating.library`).

Each filter takes what a ``--var`` gives, a string, as well as the Python value,
and refuses anything it cannot read with a `FilterInputError` that names the
filter and the value; `bot.templating.library` turns it into an error for the user.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_ISO_EXAMPLE = "like 2026-12-01 or 2026-12-01T09:30+01:00"

# Symbols only where they are in the GSM-7 alphabet, so an amount never forces an
# SMS into UCS-2 (₹, ₩ or ₺ would); every other currency is written "12.50 CHF".
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}
# ISO 4217 minor units where they are not 2.
_MINOR_UNITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"), 0),
    **dict.fromkeys(("RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = "January February March April May June July August September October November December"
_MONTH_NAMES = _MONTHS.split()
_NAMES = re.compile(r"%[aAbB%]")


class FilterInputError(Exception):
    """A filter was given a value it cannot use; the message names both."""


def format_date(value: Any, fmt: str = "%d %b %Y", tz: str | None = None) -> str:
    """``2026-12-01`` → ``01 Dec 2026``; an instant is first moved to ``tz`` when given."""
    return _strftime(_in_zone(_moment(value, "date"), tz, "date"), fmt)


def format_time(value: Any, fmt: str = "%H:%M", tz: str | None = None) -> str:
    """``2026-12-01T09:30+01:00`` → ``09:30``, or ``08:30`` with ``tz="Europe/London"``."""
    return _strftime(_in_zone(_instant(value, "time"), tz, "time"), fmt)


def format_datetime(value: Any, fmt: str = "%d %b %Y %H:%M", tz: str | None = None) -> str:
    """``2026-12-01T09:30+01:00`` → ``01 Dec 2026 09:30``."""
    return _strftime(_in_zone(_instant(value, "datetime"), tz, "datetime"), fmt)


def format_money(amount: Any, currency: str = "EUR") -> str:
    """``12.5`` → ``€12.50``; ``3`` with ``"USD"`` → ``$3.00``; with ``"CHF"`` → ``12.50 CHF``."""
    code = str(currency).strip().upper()
    if len(code) != 3 or not code.isalpha() or not code.isascii():
        raise FilterInputError(
            "The money filter needs a three-letter currency code like EUR or USD, "
            f"not {currency!r}."
        )
    digits = _MINOR_UNITS.get(code, 2)
    text = amount if isinstance(amount, str) else str(amount)
    try:
        rounded = Decimal(text.strip()).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        rounded = Decimal("NaN")
    if not rounded.is_finite():
        raise FilterInputError(
            f"The money filter cannot read {amount!r} as an amount; "
            "write digits with a dot for decimals, like 12.50."
        )
    sign = "-" if rounded < 0 else ""
    figures = f"{abs(rounded):.{digits}f}"
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{sign}{symbol}{figures}" if symbol else f"{sign}{figures} {code}"


FILTERS: dict[str, Callable[..., str]] = {
    "date": format_date,
    "time": format_time,
    "datetime": format_datetime,
    "money": format_money,
}


def _strftime(moment: date, fmt: str) -> str:
    """strftime with English day and month names whatever the process's locale."""
    day, month = _DAYS[moment.weekday()], _MONTH_NAMES[moment.month - 1]
    names = {"%a": day[:3], "%A": day, "%b": month[:3], "%B": month, "%%": "%%"}
    return moment.strftime(_NAMES.sub(lambda m: names[m[0]], str(fmt)))


def _moment(value: Any, name: str) -> date:
    """A `date` (date only) or a `datetime`, from an ISO 8601 string or the value itself."""
    if isinstance(value, date):
        return value
    # str() of a missing variable raises Jinja's own "is undefined" error, which is right.
    text = (value if isinstance(value, str) else str(value)).strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise FilterInputError(
            f"The {name} filter cannot read {value!r} as a date; use ISO 8601, {_ISO_EXAMPLE}."
        ) from None


def _instant(value: Any, name: str) -> datetime:
    moment = _moment(value, name)
    if not isinstance(moment, datetime):
        raise FilterInputError(
            f"The {name} filter needs a time of day, but {value!r} is only a date; "
            "write it like 2026-12-01T09:30+01:00."
        )
    return moment


def _in_zone(moment: date, tz: str | None, name: str) -> date:
    """An instant moved to ``tz``; a local time is read as being in ``tz``; a date stays."""
    if tz is None or not isinstance(moment, datetime):
        return moment
    zone = _zone(tz, name)
    return moment.astimezone(zone) if moment.tzinfo else moment.replace(tzinfo=zone)


def _zone(tz: str, name: str) -> tzinfo:
    try:
        return ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise FilterInputError(
            f"The {name} filter does not know the time zone {tz!r}; "
            "use an IANA name like Europe/Amsterdam or America/New_York."
        ) from None
