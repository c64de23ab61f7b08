"""How a send recurs: reading ``--every RULE`` and ``--until DATE``, and finding occurrences.

`parse_rule` reads a rule into a `Rule` whose ``text`` is normalized (``weekdays 09:00``,
``mon,thu 09:00``, ``monthly 1 09:00``, ``cron 0 9 * * 1-5``), so it can be stored and
read again; `Rule.next_after` finds the first occurrence after an instant and
`Rule.describe` says the rule in words. `parse_until` reads the end of a schedule.

The forms: ``daily 09:00``, ``weekdays 09:00``, ``weekends 10:00``, ``monday 09:00``,
``mon,thu 09:00``, ``mon-fri 08:30``, ``weekly monday 09:00``, ``monthly 1 09:00`` (a day
of the month; months without that day are skipped: ``monthly 31`` runs seven times a
year), and a five-field cron expression (``0 9 * * 1-5``) read as crontab reads it:
day-of-week 0 and 7 are Sunday, and when both day-of-month and day-of-week are
restricted either one matching is enough. Times are ``9:00``, ``09:00``, ``9am``,
``17:30``, ``noon``, ``midnight``.

A rule is about the clock on the wall of its zone, so 09:00 stays 09:00 across DST
changes. APScheduler's `CronTrigger` finds the next matching clock time (run over a
zone without DST, because over a DST zone it repeats or returns an earlier instant near
the fall-back change); `bot.scheduling.when.local_instant` turns that clock time into
an instant. Hence, around the changes:

- a clock time inside the spring-forward gap runs at the end of the gap that day
  (``daily 02:30`` in New York runs at 03:00 on the day the clocks go 02:00→03:00);
- a clock time that exists twice on the fall-back day runs once, at the first of the two.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.errors import InputError
from bot.scheduling.when import local_instant, local_time, parse_day, parse_when
from bot.suggest import closest

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ABBREVIATIONS = tuple(name[:3].lower() for name in _DAY_NAMES)
_DAY_WORDS: dict[str, int] = {
    **{word: i for i, name in enumerate(_DAY_NAMES) for word in (name.lower(), f"{name}s".lower())},
    **{word: i for i, word in enumerate(_ABBREVIATIONS)},
    "tues": 1,
    "weds": 2,
    "thur": 3,
    "thurs": 3,
}
EVERY_DAY = frozenset(range(7))
WEEKDAYS = frozenset(range(5))
WEEKENDS = frozenset({5, 6})
_KEYWORDS = ("daily", "weekdays", "weekends", "weekly", "monthly", "cron")
_FILLER = frozenset({"at", "every", "on", "the"})  # "monthly on the 1st at 9am"
_TIME = re.compile(r"([0-9]{1,2})(?::([0-9]{2}))?(am|pm|a\.m\.|p\.m\.)?")
_DAY_OF_MONTH = re.compile(r"([0-9]{1,2})(?:st|nd|rd|th)?")
_CRON_MINUTE = re.compile(r"[0-9*/,-]+")
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab's order: 0 is Sunday
_CRON_DAY_PART = re.compile(r"(\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/([0-9]+))?")
_FORMS = (
    "daily 09:00, weekdays 09:00, weekends 10:00, monday 09:00, mon,thu 09:00, "
    "mon-fri 08:30, monthly 1 09:00 (a day of the month), or a five-field cron "
    "expression like 0 9 * * 1-5"
)
# Skips per search are bounded by one fall-back hour or DST gap in minutes (cron's
# finest step); this bound is never reached, it only makes an endless loop impossible.
_MAX_STEPS = 100_000


@dataclass(frozen=True)
class _Parsed:
    text: str
    description: str
    triggers: tuple[CronTrigger, ...]  # over the wall clock, read as if it were UTC


@dataclass(frozen=True)
class Rule:
    """A recurrence read by `parse_rule`; ``Rule(text)`` reads ``text`` too and normalizes it."""

    text: str
    _parsed: _Parsed = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parsed = _read(self.text)
        object.__setattr__(self, "text", parsed.text)
        object.__setattr__(self, "_parsed", parsed)

    def next_after(self, after: datetime, zone: ZoneInfo) -> datetime | None:
        """The first occurrence strictly after ``after`` (aware), as an aware UTC datetime.

        The rule's clock times are read in ``zone`` (see the module's note on DST).
        None only when the calendar runs out (past year 9999).
        """
        if after.tzinfo is None or after.utcoffset() is None:
            raise ValueError(f"an aware datetime is needed, not {after!r}")
        wall = after.astimezone(zone).replace(tzinfo=None)
        for _ in range(_MAX_STEPS):
            found = _next_wall(self._parsed.triggers, wall)
            if found is None:
                return None
            wall = found
            due = local_instant(wall, zone)
            # Skipped: the second pass through a fall-back hour, and clock times of a
            # gap that moved to its end, already taken.
            if due > after:
                return due
        raise RuntimeError(f"no occurrence of {self.text!r} found after {after.isoformat()}")

    def describe(self) -> str:
        """The rule in words: ``every weekday at 09:00``, ``on day 1 of every month at 09:00``."""
        return self._parsed.description


def parse_rule(text: str) -> Rule:
    """Read ``text`` as a recurrence; raises ``InputError(code="rule_invalid")``."""
    return Rule(text)


def parse_until(text: str, *, now: datetime, zone: ZoneInfo) -> datetime:
    """The end of a schedule (aware, UTC): a date means through the end of that day in
    ``zone`` (the next local midnight); anything `parse_when` takes means that instant.

    Raises ``InputError(code="until_invalid", fields=("until",))``, also for the past.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"an aware datetime is needed, not {now!r}")
    typed = " ".join(text.split())
    try:
        day = parse_day(typed, now=now, zone=zone)
        if day is not None:
            end = local_instant(datetime.combine(day + timedelta(days=1), time()), zone)
        else:
            end = parse_when(typed, now=now, zone=zone)
    except InputError as exc:
        reason = exc.value("reason")
        message = (
            str(exc)
            if reason in ("dst_gap", "zone_name", "ambiguous_date")
            else f"Cannot read '{typed}' as an end date. Write a date like 2027-03-31 (the "
            "schedule runs through that day) or a date and time like 2027-03-31 18:00."
        )
        raise InputError(
            message, code="until_invalid", fields=("until",), typed=text, reason=reason
        ) from None
    except (OverflowError, ValueError):  # the day after 9999-12-31
        raise InputError(
            f"The end '{typed[:40]}' is further ahead than Herald can count; give a date "
            "like 2027-03-31, or leave out the end to repeat with no end.",
            code="until_invalid",
            fields=("until",),
            typed=text,
            reason="too_far",
        ) from None
    if end <= now:
        shown = "" if day is not None else f" ({local_time(end, zone)})"
        raise InputError(
            f"The end '{typed}'{shown} is in the past; give a date still ahead.",
            code="until_invalid",
            fields=("until",),
            typed=text,
            reason="past",
        )
    return end


def _next_wall(triggers: tuple[CronTrigger, ...], wall: datetime) -> datetime | None:
    """The first matching clock time strictly after ``wall`` (naive), or None."""
    start = (wall + timedelta(microseconds=1)).replace(tzinfo=UTC)
    found = [t.get_next_fire_time(None, start) for t in triggers]
    times = [moment.replace(tzinfo=None) for moment in found if moment is not None]
    return min(times) if times else None


@functools.lru_cache(maxsize=512)
def _read(text: str) -> _Parsed:
    typed = " ".join(text.split()).lower()
    words = typed.split()
    if not words:
        raise _invalid(text, "Give a rule.")
    if words[0] == "cron":
        return _cron(words[1:], text)
    if len(words) == 5 and _CRON_MINUTE.fullmatch(words[0]):
        return _cron(words, text)
    joined = re.sub(r"\b([0-9]{1,2}(?::[0-9]{2})?)\s+([ap]\.?m\.?)", r"\1\2", typed)
    words = [word for word in joined.split() if word not in _FILLER]
    clock = _clock(words[-1]) if words else None
    if clock is None and words and re.match(r"[0-9]", words[-1]):
        raise _invalid(text, f"'{words[-1]}' is not a time of day: write 09:00, 9am or 17:30.")
    if clock is None:
        raise _invalid(text, f"'{' '.join(text.split())}' needs a time of day at the end.")
    head, at = words[:-1], f"{clock.hour:02}:{clock.minute:02}"
    if not head:
        raise _invalid(text, f"Say which days '{at}' is on.")
    if head[0] in ("monthly", "month"):
        return _monthly(head[1:], at, clock, text)
    if head[0] == "weekly":
        if len(head) == 1:
            raise _invalid(text, "Say which day of the week, e.g. 'weekly monday 09:00'.")
        head = head[1:]
    days = {"daily": EVERY_DAY, "day": EVERY_DAY, "everyday": EVERY_DAY}.get(head[0])
    days = days or {"weekdays": WEEKDAYS, "weekday": WEEKDAYS}.get(head[0])
    days = days or {"weekends": WEEKENDS, "weekend": WEEKENDS}.get(head[0])
    if days is None or len(head) > 1:
        days = _days(head, text)
    return _weekly(days, at, clock)


def _weekly(days: frozenset[int], at: str, clock: time) -> _Parsed:
    ordered = sorted(days)
    if days == EVERY_DAY:
        text, said = f"daily {at}", "every day"
    elif days == WEEKDAYS:
        text, said = f"weekdays {at}", "every weekday"
    elif days == WEEKENDS:
        text, said = f"weekends {at}", "every Saturday and Sunday"
    else:
        text = f"{','.join(_ABBREVIATIONS[d] for d in ordered)} {at}"
        said = f"every {_and([_DAY_NAMES[d] for d in ordered])}"
    trigger = CronTrigger(
        day_of_week=",".join(_ABBREVIATIONS[d] for d in ordered),
        hour=clock.hour,
        minute=clock.minute,
        timezone=UTC,
    )
    return _Parsed(text, f"{said} at {at}", (trigger,))


def _monthly(words: list[str], at: str, clock: time, text: str) -> _Parsed:
    found = _DAY_OF_MONTH.fullmatch(words[0]) if len(words) == 1 else None
    day = int(found.group(1)) if found else 0
    if not 1 <= day <= 31:
        raise _invalid(text, "'monthly' takes a day of the month from 1 to 31 and a time.")
    said = f"on day {day} of every month at {at}"
    if day > 28:
        said += f" (months without a day {day} are skipped)"
    trigger = CronTrigger(day=day, hour=clock.hour, minute=clock.minute, timezone=UTC)
    return _Parsed(f"monthly {day} {at}", said, (trigger,))


def _cron(fields: list[str], text: str) -> _Parsed:
    if len(fields) != 5:
        raise _invalid(
            text,
            f"A cron expression has five fields (minute hour day month weekday), "
            f"not {len(fields)}.",
        )
    minute, hour, day, month, weekday = fields
    expression = " ".join(fields)
    try:
        weekdays = _cron_weekdays(weekday)
        # crontab: with both day fields restricted, either one matching is enough;
        # CronTrigger wants both, so each restriction gets a trigger of its own
        if not day.startswith("*") and not weekday.startswith("*"):
            crontabs = [f"{minute} {hour} {day} {month} *", f"{minute} {hour} * {month} {weekdays}"]
        else:
            crontabs = [f"{minute} {hour} {day} {month} {weekdays}"]
        triggers = tuple(CronTrigger.from_crontab(c, timezone=UTC) for c in crontabs)
    except ValueError as exc:
        problem = str(exc).rstrip(".")
        raise _invalid(text, f"'{expression}' is not a cron expression: {problem}.") from None
    # a trigger that never fires (day 31 of April) would be walked to year 9999 on every
    # next_after: keep only the ones that fire
    triggers = tuple(t for t in triggers if _next_wall((t,), datetime(2000, 1, 1)) is not None)
    if not triggers:
        raise _invalid(text, f"'{expression}' never happens (no month has that day).")
    return _Parsed(f"cron {expression}", f"by the cron rule {expression}", triggers)


def _cron_weekdays(field_text: str) -> str:
    """A crontab day-of-week field as CronTrigger reads it (0 and 7 are Sunday there,
    Monday is 0 in CronTrigger's numbering, so numbers become names)."""
    if field_text == "*":
        return "*"
    days: set[int] = set()
    for part in field_text.split(","):
        found = _CRON_DAY_PART.fullmatch(part)
        if found is None:
            raise ValueError(f"'{part}' is not a weekday, range or step")
        span, step = found.group(1), int(found.group(2) or 1)
        low_text, dash, high_text = span.partition("-")
        if span == "*":
            low, high = 0, 6
        else:
            low = _cron_day(low_text)
            high = _cron_day(high_text) if dash else (7 if found.group(2) else low)
        if step < 1 or low > high:
            raise ValueError(f"'{part}' is not a weekday range from low to high")
        days.update(d % 7 for d in range(low, high + 1, step))
    return ",".join(_CRON_DAYS[d] for d in sorted(days))


def _cron_day(word: str) -> int:
    if word.isdigit() and int(word) <= 7:
        return int(word)
    if word in _CRON_DAYS:
        return _CRON_DAYS.index(word)
    raise ValueError(f"'{word}' is not a weekday (0-7 or sun-sat)")


def _days(words: list[str], text: str) -> frozenset[int]:
    items = [item for item in re.split(r"[,\s]+", " ".join(words)) if item and item != "and"]
    days: set[int] = set()
    for item in items:
        first, dash, last = item.partition("-")
        low = _day(first, text)
        if not dash:
            days.add(low)
            continue
        high = _day(last, text)
        days.update(d % 7 for d in range(low, low + (high - low) % 7 + 1))  # fri-mon wraps
    if not days:
        raise _invalid(text, "Say which days.")
    return frozenset(days)


def _day(word: str, text: str) -> int:
    if word in _DAY_WORDS:
        return _DAY_WORDS[word]
    close = closest(word, [*(name.lower() for name in _DAY_NAMES), *_ABBREVIATIONS, *_KEYWORDS])
    hint = f" Did you mean '{close}'?" if close else ""
    raise _invalid(text, f"'{word}' is not a day.{hint}", suggestion=close or "")


def _clock(word: str) -> time | None:
    if word in ("noon", "midnight"):
        return time(12 if word == "noon" else 0)
    found = _TIME.fullmatch(word)
    if found is None or (found.group(2) is None and found.group(3) is None):
        return None  # a bare "9" is not taken for 09:00: write 9:00 or 9am
    hour, minute = int(found.group(1)), int(found.group(2) or 0)
    meridiem = found.group(3)
    if meridiem is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem.startswith("p") else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _invalid(text: str, problem: str, *, suggestion: str = "") -> InputError:
    if len(problem) > 300:  # it quotes what was typed, which may be anything
        problem = problem[:299] + "…"
    return InputError(
        f"{problem} Write a rule like {_FORMS}.",
        code="rule_invalid",
        fields=("every",),
        typed=text,
        suggestion=suggestion,
    )
