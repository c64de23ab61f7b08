"""When a send goes out: reading ``--at`` and the config's durations, and saying a time back.

Everything here is pure: the clock is the ``now`` passed in (an aware datetime) and the
reader's zone is the ``zone`` passed in; nothing reads the real clock or the system zone.

`parse_when` reads what a user typed as one instant (aware, UTC):

- ISO 8601 with an offset or ``Z`` (``2026-12-01T09:00+01:00``) is that instant;
- a local date and time (``2026-12-01 09:00``, ``2026-12-01 9am``) is read in ``zone``;
- ``in`` and a duration (``in 90s``, ``in 1h30m``, ``in 2 hours``) is ``now`` plus that
  much elapsed time: ``in 1d`` across a DST change is 24 hours, not the same clock time;
- a phrase (``tomorrow 9am``, ``monday 09:00``, ``dec 24 18:00``) is read by dateparser,
  always towards the future; a bare clock time (``9am``) is today if still ahead, else
  tomorrow.

A date without a time of day is refused (which hour was meant is a guess), and so is a
zone abbreviation inside a phrase (``IST`` is India, Israel or Ireland): a numeric
offset or UTC/GMT is taken. Local times follow the zone's DST rules: a clock time that
does not exist (inside the spring-forward gap) is refused naming the gap; a clock time
that exists twice (the fall-back hour) is the first of the two (``fold=0``).

`check_window` refuses a time in the past or beyond the horizon; `describe_delta` and
`local_time` say a time back to a user. `local_instant` and `dst_gap` map a wall-clock
time to an instant; the recurring rules (`bot.scheduling.rules`) share them.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from dateparser.date import DateDataParser
from dateparser.timezone_parser import pop_tz_offset_from_string

from bot.errors import InputError

MAX_DURATION = timedelta(days=36525)  # 100 years: anything longer is a typo
MAX_TYPED = 100  # characters: no way of writing a time needs more

_UNIT_SECONDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 604800),
}
# one "<number><unit>" part, after an optional separator: "1h30m", "1h 30m", "1 hour, 30 minutes"
_DURATION_PART = re.compile(r"\s*(?:(?:,|\band\b)\s*)?([0-9]+(?:\.[0-9]+)?)\s*([a-z]+)")
_DURATION_EXAMPLES = "90s, 10m, 2h, 3d, 1w or 1h30m"

_ISO_DATE = re.compile(r"[0-9]{4}-?[0-9]{2}-?[0-9]{2}|[0-9]{4}-?W[0-9]{2}-?[1-7]", re.IGNORECASE)
# "at 9" is 09:00; dateparser would read the 9 as a month or drop it
_AT_HOUR = re.compile(r"\bat ([0-9]{1,2})\b(?![:.][0-9]|\s*[ap]\.?m\b)")
# a clock time alone ("9am", "at 17:30", "noon"); a bare "9" is not one
_CLOCK_ONLY = re.compile(
    r"(?:at )?(?:[0-9]{1,2}(?:[:.][0-9]{2}){1,2}\s*(?:[ap]\.?m\.?)?"
    r"|[0-9]{1,2}\s*[ap]\.?m\.?|noon|midnight)"
)
_CLOCK_LIKE = re.compile(r"[0-9][:.][0-9]|[0-9]\s*[ap]\.?m\b|\b(?:noon|midnight)\b")
# how dateparser names a numeric offset it found in a phrase ("+05:30", "gmt+2")
_NUMERIC_ZONE = re.compile(r"UTC\\?[+-][0-9]{2}:[0-9]{2}")
_FORMS = (
    "a date and time like 2026-12-01 09:00, a delay like 'in 10m' or 'in 2 hours', "
    "or a phrase like 'tomorrow 9am' or 'monday 09:00'"
)

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# (name, seconds) from the largest unit down, for saying a span back
_SPANS = (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
_WEEKS_FROM = 14 * 86400  # below two weeks a span is said in days: "10 days", not "1 week 3 days"


def parse_duration(text: str) -> timedelta:
    """``90s``, ``10m``, ``2h``, ``3d``, ``1w``, ``1h30m``, ``1h 30m``, ``2 hours``, ``90 seconds``.

    Refuses zero, negative and absurd (over 100 years) durations and anything else with
    ``InputError(code="duration_invalid")``.
    """
    typed = " ".join(text.split()).lower()
    negative = typed.startswith("-")
    body = typed.removeprefix("-").strip()
    seconds = 0.0
    position = 0
    while position < len(body):
        part = _DURATION_PART.match(body, position)
        if part is None or part.group(2) not in _UNIT_SECONDS:
            raise _bad_duration(text, f"'{text}' is not a duration; write {_DURATION_EXAMPLES}.")
        seconds += float(part.group(1)) * _UNIT_SECONDS[part.group(2)]
        position = part.end()
    if not body:
        raise _bad_duration(text, f"Give a duration, e.g. {_DURATION_EXAMPLES}.")
    if negative or seconds <= 0:
        raise _bad_duration(text, f"A duration must be more than zero, not '{text}'.")
    if not math.isfinite(seconds) or seconds > MAX_DURATION.total_seconds():
        raise _bad_duration(text, f"'{text}' is longer than 100 years; give a shorter duration.")
    return timedelta(seconds=seconds)


def parse_when(text: str, *, now: datetime, zone: ZoneInfo) -> datetime:
    """The instant ``text`` names (aware, UTC), read at ``now`` in ``zone``.

    Raises ``InputError(code="when_invalid", fields=("at",))``; its ``reason`` detail is
    ``unreadable``, ``no_time`` (a date alone), ``dst_gap`` or ``zone_name``.
    """
    _require_aware(now)
    typed = " ".join(text.split())
    if not typed or len(typed) > MAX_TYPED:
        raise _unreadable(text)
    _refuse_ambiguous_date(typed, text)
    lowered = typed.lower()
    try:
        if lowered.startswith("in "):
            try:
                return now.astimezone(UTC) + parse_duration(lowered[3:])
            except InputError:
                pass  # "in 3 days at 9am" is a phrase
        found = _iso(typed, text, zone)
        if found is None:
            found = _phrase(lowered, text, now, zone)
    except (OverflowError, ValueError):  # a date past year 9999 or before year 1
        raise _unreadable(text) from None
    return found


def parse_day(text: str, *, now: datetime, zone: ZoneInfo) -> date | None:
    """The calendar day ``text`` names when it is a date without a time of day.

    ``2027-03-31`` or a phrase such as ``friday`` or ``dec 31`` (read towards the
    future); None for anything else, including a date with a time.
    """
    _require_aware(now)
    typed = " ".join(text.split())
    if not typed or len(typed) > MAX_TYPED or typed.lower().startswith("in "):
        return None  # "in 3d" is an instant, not a day
    _refuse_ambiguous_date(typed, text)
    if _ISO_DATE.fullmatch(typed):
        try:
            return date.fromisoformat(typed.upper())
        except ValueError:
            return None
    data = _dateparser(typed.lower(), now, zone)
    if data is None or data.date_obj is None or data.period != "day":
        return None
    found: datetime = data.date_obj
    return found.date()


# 01/02/2027, 1.2.27: the first of February in most of the world, the second of January
# in the US; dateparser picks one silently
_NUMERIC_DATE = re.compile(
    r"(?<![\d/.-])(?:\d{1,2}/\d{1,2}(?:/\d{2,4})?|\d{1,2}\.\d{1,2}\.\d{2,4})(?![\d/.])"
)


def _refuse_ambiguous_date(typed: str, text: str) -> None:
    found = _NUMERIC_DATE.search(typed)
    if found is None:
        return
    raise InputError(
        f"'{found.group()}' is read differently in different countries: write the date as "
        "year-month-day, e.g. 2027-02-01 09:00, or with the month's name: 1 feb 09:00.",
        code="when_invalid",
        fields=("at",),
        typed=text,
        reason="ambiguous_date",
    )


def check_window(
    due: datetime, *, now: datetime, horizon: timedelta, zone: ZoneInfo | None = None
) -> None:
    """Refuse ``due`` when it is not after ``now`` or more than ``horizon`` after it (the
    refusal shows it on ``zone``'s clock, the one it was typed in; default UTC)."""
    _require_aware(due)
    _require_aware(now)
    shown = local_time(due, zone or ZoneInfo("UTC"))
    if due <= now:
        ago = describe_delta(due - now)
        said = "That time is now, not in the future" if ago == "now" else f"That time was {ago}"
        raise InputError(
            f"{said} ({shown}); give a time that is still ahead.",
            code="when_past",
            fields=("at",),
            ago=ago,
            due=due.isoformat(),
        )
    if due - now > horizon:
        raise InputError(
            f"That time is {describe_delta(due - now)} ({shown}); "
            f"sends can be scheduled at most {exact_amount(horizon)} ahead.",
            code="when_too_far",
            fields=("at",),
            horizon=exact_amount(horizon),
            due=due.isoformat(),
        )


def describe_delta(delta: timedelta) -> str:
    """``in 45 seconds``, ``in 2 hours 5 minutes``, ``in 5 weeks``; ``3 minutes ago``; ``now``.

    At most two units, the smaller one rounded to the nearest whole (so 2 h 5 min 40 s is
    ``in 2 hours 6 minutes``); under half a second is ``now``.
    """
    seconds = abs(delta.total_seconds())
    if seconds < 0.5:
        return "now"
    rounded = math.floor(seconds + 0.5)
    while True:
        big = next(i for i, (_, size) in enumerate(_SPANS) if _fits(rounded, i, size))
        small = min(big + 1, len(_SPANS) - 1)
        step = _SPANS[small][1]
        again = (rounded + step // 2) // step * step  # halves round up
        if again == rounded:
            break
        rounded = again  # rounding up may reach the next unit: 59 min 59.6 s is 1 hour
    major, rest = divmod(rounded, _SPANS[big][1])
    words = [_count(major, _SPANS[big][0])]
    if small != big and rest:
        words.append(_count(rest // step, _SPANS[small][0]))
    said = " ".join(words)
    return f"{said} ago" if delta < timedelta(0) else f"in {said}"


def local_time(when: datetime, zone: ZoneInfo) -> str:
    """``Mon 7 Dec 2026 09:00 CET``: the clock time in ``zone`` and its abbreviation."""
    _require_aware(when)
    try:
        local = when.astimezone(zone)
    except OverflowError:  # the end of year 9999 in a zone east of UTC: show it in UTC
        local = when.astimezone(UTC)
    return (
        f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year} "
        f"{local:%H:%M} {local.tzname()}"
    )


def local_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant (aware, UTC) the naive clock time ``wall`` names in ``zone``.

    A time that exists twice (the fall-back hour) is the first of the two; a time inside
    a DST gap moves to the end of the gap (02:30 on a 02:00→03:00 day is 03:00).
    """
    gap = dst_gap(wall, zone)
    if gap is not None:
        wall = gap[1]
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def dst_gap(wall: datetime, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The gap (naive clock start, end) in ``zone`` holding ``wall``, or None if it exists."""
    wall = wall.replace(tzinfo=None)
    first = wall.replace(tzinfo=zone, fold=0)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall:
        return None
    # Inside a gap fold=0 reads the clock with the offset before the change, fold=1 with
    # the one after: the change itself lies between the two instants.
    before, after = first.utcoffset(), wall.replace(tzinfo=zone, fold=1).utcoffset()
    assert before is not None and after is not None
    low = first.astimezone(UTC) - (after - before)
    high = first.astimezone(UTC)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    change = high.replace(microsecond=0)
    return (change + before).replace(tzinfo=None), (change + after).replace(tzinfo=None)


def _iso(typed: str, text: str, zone: ZoneInfo) -> datetime | None:
    """An ISO 8601 date-time, or None when ``typed`` is not one."""
    if not re.match(r"[0-9]{4}", typed):
        return None
    if _ISO_DATE.fullmatch(typed):
        try:
            date.fromisoformat(typed.upper())
        except ValueError:
            raise _unreadable(text) from None
        raise _no_time(text, f"{typed} 09:00")
    iso = typed[:-1] + "Z" if typed.endswith("z") else typed
    try:
        found = datetime.fromisoformat(iso)
    except ValueError:
        return None  # "2026-12-01 9am" is for dateparser
    if found.tzinfo is not None:
        return found.astimezone(UTC)
    return _local(found, zone, text)


def _phrase(lowered: str, text: str, now: datetime, zone: ZoneInfo) -> datetime:
    phrase, named = pop_tz_offset_from_string(_AT_HOUR.sub(r"at \1:00", lowered))
    phrase = phrase.strip()
    offset = None if named is None else _offset(named, text, zone)
    clock_only = bool(_CLOCK_ONLY.fullmatch(phrase))
    # dateparser moves a bare clock time to tomorrow by comparing it with RELATIVE_BASE
    # as if that were UTC; "today" keeps it on the day, and the check below moves it on
    data = _dateparser(f"today {phrase}" if clock_only else phrase, now, zone)
    if data is None or data.date_obj is None:
        raise _unreadable(text)
    if data.period == "part_of_day":  # "tomorrow morning": which hour is a guess
        raise _no_time(text, "tomorrow 09:00")
    # ``parts`` lists what was read; ``period`` is "day" when the time read equals
    # RELATIVE_BASE's ("tomorrow 10:00" at 10:00)
    if "time" not in data.parts:
        # a time dateparser passed over ("tomorrow 25:00") is unreadable, not missing
        if data.period == "day" and not _CLOCK_LIKE.search(phrase):
            raise _no_time(text, f"{' '.join(text.split())} 09:00")
        raise _unreadable(text)
    wall: datetime = data.date_obj.replace(tzinfo=None)
    if offset is not None:
        return wall.replace(tzinfo=offset).astimezone(UTC)
    if clock_only and wall <= now.astimezone(zone).replace(tzinfo=None):
        wall += timedelta(days=1)  # "9am" after 9am is tomorrow's
    return _local(wall, zone, text)


def _dateparser(phrase: str, now: datetime, zone: ZoneInfo) -> Any:
    """dateparser's reading of ``phrase`` (a naive clock time in ``zone``), or None."""
    settings = {
        "PREFER_DATES_FROM": "future",  # "monday" is the coming one, never the last
        "RELATIVE_BASE": now.astimezone(zone).replace(tzinfo=None),
        "TIMEZONE": zone.key,
        "RETURN_AS_TIMEZONE_AWARE": False,
        "RETURN_TIME_AS_PERIOD": True,  # "tomorrow" is period "day", "tomorrow 9am" "time"
    }
    try:
        return DateDataParser(languages=["en"], settings=settings).get_date_data(phrase)
    except Exception:  # a third-party parser: whatever it trips on, the text is unreadable
        return None


def _offset(named: tzinfo, text: str, zone: ZoneInfo) -> timezone:
    """The fixed offset a phrase names: a number or UTC/GMT; abbreviations are ambiguous."""
    name = named.tzname(None) or ""
    offset = named.utcoffset(None)
    if offset is not None and (name in ("UTC", "GMT", "Z") or _NUMERIC_ZONE.fullmatch(name)):
        return timezone(offset)
    raise InputError(
        f"'{name}' can name more than one time zone; write the offset instead "
        f"(e.g. 'tomorrow 09:00 +05:30' or 'tomorrow 09:00 UTC'), or leave it out to read "
        f"the time in {zone.key}.",
        code="when_invalid",
        fields=("at",),
        typed=text,
        reason="zone_name",
    )


def _local(wall: datetime, zone: ZoneInfo, text: str) -> datetime:
    gap = dst_gap(wall, zone)
    if gap is not None:
        start, end = gap
        raise InputError(
            f"{wall:%Y-%m-%d %H:%M} does not exist in {zone.key}: the clocks go from "
            f"{start:%H:%M} straight to {end:%H:%M} that day. Give a time outside that gap, "
            f"e.g. {wall:%Y-%m-%d} {end:%H:%M}.",
            code="when_invalid",
            fields=("at",),
            typed=text,
            reason="dst_gap",
        )
    return local_instant(wall, zone)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"an aware datetime is needed, not {moment!r}")


def _unreadable(text: str) -> InputError:
    typed = " ".join(text.split())
    said = f"Cannot read '{typed[:MAX_TYPED]}' as a time." if typed else "Give a time."
    return InputError(
        f"{said} Write {_FORMS}.",
        code="when_invalid",
        fields=("at",),
        typed=text,
        reason="unreadable",
    )


def _no_time(text: str, example: str) -> InputError:
    typed = " ".join(text.split())
    return InputError(
        f"'{typed}' has no clock time; add one, e.g. '{example}'.",
        code="when_invalid",
        fields=("at",),
        typed=text,
        reason="no_time",
    )


def _bad_duration(text: str, message: str) -> InputError:
    return InputError(message, code="duration_invalid", typed=text)


def _fits(seconds: int, index: int, size: int) -> bool:
    if _SPANS[index][0] == "week":
        return seconds >= _WEEKS_FROM
    return seconds >= size or index == len(_SPANS) - 1


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}{'' if number == 1 else 's'}"


def exact_amount(span: timedelta) -> str:
    """``span`` in its largest unit that says it exactly: ``400 days``, ``90 minutes``."""
    seconds = round(span.total_seconds())
    for unit, size in _SPANS[1:]:
        if seconds >= size and seconds % size == 0:
            return _count(seconds // size, unit)
    return _count(seconds, "second")
