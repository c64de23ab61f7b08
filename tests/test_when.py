"""Reading ``--at`` and durations, and saying times back (`bot.scheduling.when`).

The clock is always injected: ``NOW`` is Wednesday 4 March 2026, 15:00 UTC — 10:00 in
New York (EST, four days before DST starts there on 8 March) and 20:30 in Kolkata.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import InputError
from bot.scheduling.when import (
    check_window,
    describe_delta,
    dst_gap,
    local_instant,
    local_time,
    parse_duration,
    parse_when,
)

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
HORIZON = timedelta(days=400)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def refused(text: str, zone: ZoneInfo = NEW_YORK) -> InputError:
    with pytest.raises(InputError) as caught:
        parse_when(text, now=NOW, zone=zone)
    return caught.value


# -- durations -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "seconds"),
    [
        ("90s", 90),
        ("10m", 600),
        ("2h", 7200),
        ("3d", 3 * 86400),
        ("1w", 604800),
        ("2w", 2 * 604800),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("1 hour, 30 minutes", 5400),
        ("1h and 30m", 5400),
        ("90 seconds", 90),
        ("10 minutes", 600),
        ("2 hours", 7200),
        ("3 days", 3 * 86400),
        ("1 week", 604800),
        ("  2H ", 7200),
        ("1.5h", 5400),
    ],
)
def test_a_duration_is_read_in_every_documented_form(typed: str, seconds: int) -> None:
    assert parse_duration(typed) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "typed",
    [
        *("", "  ", "0s", "0m", "-5m", "nan", "inf", "10", "10x", "h", "1e3s", "2 fortnights"),
        *("40000d", "9" * 400 + "s", "\u0661\u0660m", "10m garbage", "m10"),
    ],
)
def test_a_duration_that_is_not_positive_or_not_one_is_refused(typed: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_duration(typed)

    assert caught.value.code == "duration_invalid"
    assert caught.value.details["typed"] == typed


def test_a_refused_duration_says_what_works() -> None:
    with pytest.raises(InputError, match=r"write 90s, 10m, 2h, 3d, 1w or 1h30m"):
        parse_duration("soon")
    with pytest.raises(InputError, match="more than zero"):
        parse_duration("0s")
    with pytest.raises(InputError, match="longer than 100 years"):
        parse_duration("40000d")


# -- ISO 8601 and local date-times ----------------------------------------------------


@pytest.mark.parametrize("zone", [NEW_YORK, KOLKATA, AMSTERDAM])
@pytest.mark.parametrize(
    ("typed", "instant"),
    [
        ("2026-12-01T09:00:00+01:00", utc(2026, 12, 1, 8, 0)),
        ("2026-12-01 09:00Z", utc(2026, 12, 1, 9, 0)),
        ("2026-12-01 09:00z", utc(2026, 12, 1, 9, 0)),
        ("2026-12-01T09:00+05:30", utc(2026, 12, 1, 3, 30)),
    ],
)
def test_iso_with_an_offset_is_that_instant_in_any_zone(
    typed: str, instant: datetime, zone: ZoneInfo
) -> None:
    found = parse_when(typed, now=NOW, zone=zone)

    assert found == instant
    assert found.tzinfo is UTC


@pytest.mark.parametrize("typed", ["2026-12-01 09:00", "2026-12-01T09:00", "2026-12-01 9am"])
@pytest.mark.parametrize(
    ("zone", "instant"),
    [(NEW_YORK, utc(2026, 12, 1, 14, 0)), (KOLKATA, utc(2026, 12, 1, 3, 30))],
)
def test_a_local_date_time_is_read_in_the_zone(
    typed: str, zone: ZoneInfo, instant: datetime
) -> None:
    assert parse_when(typed, now=NOW, zone=zone) == instant


def test_a_local_date_time_in_summer_uses_the_summer_offset() -> None:
    assert parse_when("2026-07-01 09:00", now=NOW, zone=NEW_YORK) == utc(2026, 7, 1, 13, 0)
    assert parse_when("2026-07-01 09:00", now=NOW, zone=AMSTERDAM) == utc(2026, 7, 1, 7, 0)


# -- relative ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "delta"),
    [
        ("in 90s", timedelta(seconds=90)),
        ("in 10m", timedelta(minutes=10)),
        ("in 2h", timedelta(hours=2)),
        ("in 3d", timedelta(days=3)),
        ("in 1h30m", timedelta(minutes=90)),
        ("in 1h 30m", timedelta(minutes=90)),
        ("in 2 hours", timedelta(hours=2)),
        ("in 90 seconds", timedelta(seconds=90)),
        ("In 1 week", timedelta(weeks=1)),
    ],
)
@pytest.mark.parametrize("zone", [NEW_YORK, KOLKATA])
def test_a_relative_time_is_now_plus_the_duration(
    typed: str, delta: timedelta, zone: ZoneInfo
) -> None:
    found = parse_when(typed, now=NOW, zone=zone)

    assert found == NOW + delta
    assert found.tzinfo is UTC


def test_a_relative_time_across_a_dst_change_is_elapsed_time() -> None:
    # 8 March: New York's clocks skip an hour; "in 3d" is still 72 hours
    found = parse_when("in 3d", now=utc(2026, 3, 6, 15, 0), zone=NEW_YORK)

    assert found == utc(2026, 3, 9, 15, 0)
    assert found.astimezone(NEW_YORK).hour == 11  # not 10:00: the clock moved


# -- phrases ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "instant"),
    [
        ("tomorrow 9am", utc(2026, 3, 5, 14, 0)),
        ("monday 09:00", utc(2026, 3, 9, 13, 0)),  # EDT by then
        ("next friday 14:30", utc(2026, 3, 6, 19, 30)),
        ("today 17:00", utc(2026, 3, 4, 22, 0)),
        ("9am", utc(2026, 3, 5, 14, 0)),  # 09:00 is gone today: tomorrow's
        ("8pm", utc(2026, 3, 5, 1, 0)),  # still ahead today
        ("at 9", utc(2026, 3, 5, 14, 0)),
        ("tomorrow at 9", utc(2026, 3, 5, 14, 0)),
        ("tomorrow at 9:30", utc(2026, 3, 5, 14, 30)),
        ("dec 24 18:00", utc(2026, 12, 24, 23, 0)),
        ("in 3 days at 9am", utc(2026, 3, 7, 14, 0)),
        ("Tomorrow   9AM", utc(2026, 3, 5, 14, 0)),
    ],
)
def test_a_phrase_is_read_in_new_york(typed: str, instant: datetime) -> None:
    found = parse_when(typed, now=NOW, zone=NEW_YORK)

    assert found == instant
    assert found.tzinfo is UTC


@pytest.mark.parametrize(
    ("typed", "instant"),
    [
        ("tomorrow 9am", utc(2026, 3, 5, 3, 30)),
        ("9am", utc(2026, 3, 5, 3, 30)),  # 20:30 there: 09:00 is tomorrow's
        ("9pm", utc(2026, 3, 4, 15, 30)),  # still ahead today
        ("monday 09:00", utc(2026, 3, 9, 3, 30)),
        ("dec 24 18:00", utc(2026, 12, 24, 12, 30)),
    ],
)
def test_a_phrase_is_read_in_kolkata(typed: str, instant: datetime) -> None:
    assert parse_when(typed, now=NOW, zone=KOLKATA) == instant


@pytest.mark.parametrize(
    "day", ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
)
def test_a_weekday_is_never_a_past_one(day: str) -> None:
    found = parse_when(f"{day} 09:00", now=NOW, zone=NEW_YORK)

    assert NOW < found <= NOW + timedelta(days=7)
    assert found.astimezone(NEW_YORK).strftime("%A").lower() == day


def test_an_explicit_offset_or_utc_in_a_phrase_is_taken() -> None:
    assert parse_when("tomorrow 09:00 +05:30", now=NOW, zone=NEW_YORK) == utc(2026, 3, 5, 3, 30)
    assert parse_when("tomorrow 9am utc", now=NOW, zone=NEW_YORK) == utc(2026, 3, 5, 9, 0)


@pytest.mark.parametrize("typed", ["tomorrow 9am IST", "tomorrow 9am cet", "2026-12-01 9am est"])
def test_a_zone_abbreviation_in_a_phrase_is_refused_as_ambiguous(typed: str) -> None:
    error = refused(typed, KOLKATA)

    assert error.code == "when_invalid" and error.details["reason"] == "zone_name"
    assert "offset" in str(error) and "Asia/Kolkata" in str(error)


# -- refusals -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "example"),
    [
        ("friday", "friday 09:00"),
        ("2026-12-24", "2026-12-24 09:00"),
        ("tomorrow", "tomorrow 09:00"),
        ("dec 24", "dec 24 09:00"),
        ("tomorrow morning", "tomorrow 09:00"),
    ],
)
def test_a_date_without_a_time_is_refused_with_an_example(typed: str, example: str) -> None:
    error = refused(typed)

    assert (error.code, error.fields) == ("when_invalid", ("at",))
    assert error.details["reason"] == "no_time"
    assert f"'{example}'" in str(error)


@pytest.mark.parametrize(
    ("typed", "zone", "gap"),
    [
        ("2026-03-08 02:30", NEW_YORK, "02:00 straight to 03:00"),
        ("2026-03-08T02:00", NEW_YORK, "02:00 straight to 03:00"),
        ("mar 8 2:30am", NEW_YORK, "02:00 straight to 03:00"),
        ("2026-03-29 02:30", AMSTERDAM, "02:00 straight to 03:00"),
    ],
)
def test_a_time_in_the_dst_gap_is_refused_naming_zone_and_gap(
    typed: str, zone: ZoneInfo, gap: str
) -> None:
    error = refused(typed, zone)

    assert (error.code, error.fields) == ("when_invalid", ("at",))
    assert error.details["reason"] == "dst_gap"
    assert zone.key in str(error) and gap in str(error)


@pytest.mark.parametrize(
    ("typed", "zone", "first"),
    [
        ("2026-11-01 01:30", NEW_YORK, utc(2026, 11, 1, 5, 30)),  # EDT, not EST
        ("2026-10-25 02:30", AMSTERDAM, utc(2026, 10, 25, 0, 30)),  # CEST, not CET
    ],
)
def test_an_ambiguous_fall_back_time_is_the_first_of_the_two(
    typed: str, zone: ZoneInfo, first: datetime
) -> None:
    assert parse_when(typed, now=NOW, zone=zone) == first


@pytest.mark.parametrize(
    "typed",
    [
        *("garbage", "", "   ", "tomorrow 25:00", "2026-13-45", "2026-12-01 24:00", "9"),
        *("x" * 200, "next week", "in", "in soon", "9am blah", "\x00", "0001-01-01T00:00+14:00"),
    ],
)
def test_garbage_is_refused_with_the_forms_that_work(typed: str) -> None:
    error = refused(typed)

    assert (error.code, error.fields) == ("when_invalid", ("at",))
    assert error.details["typed"] == typed
    assert "2026-12-01 09:00" in str(error) and "in 10m" in str(error)


def test_errors_name_no_option() -> None:
    errors = [refused(t) for t in ("garbage", "friday", "2026-03-08 02:30", "9am IST")]
    with pytest.raises(InputError) as past:
        check_window(NOW - timedelta(hours=1), now=NOW, horizon=HORIZON)
    errors.append(past.value)

    assert all("--" not in str(error) for error in errors)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_when("in 10m", now=datetime(2026, 3, 4, 15, 0), zone=NEW_YORK)


# -- the window -----------------------------------------------------------------


def test_a_past_time_is_refused_saying_how_long_ago() -> None:
    with pytest.raises(InputError) as caught:
        check_window(NOW - timedelta(hours=3), now=NOW, horizon=HORIZON)

    assert (caught.value.code, caught.value.fields) == ("when_past", ("at",))
    assert str(caught.value).startswith("That time was 3 hours ago (Wed 4 Mar 2026 12:00 UTC)")


def test_now_itself_is_refused_as_not_in_the_future() -> None:
    with pytest.raises(InputError) as caught:
        check_window(NOW, now=NOW, horizon=HORIZON)

    assert caught.value.code == "when_past"
    assert "now, not in the future" in str(caught.value)


def test_a_time_beyond_the_horizon_is_refused_naming_it() -> None:
    with pytest.raises(InputError) as caught:
        check_window(NOW + HORIZON + timedelta(seconds=1), now=NOW, horizon=HORIZON)

    assert (caught.value.code, caught.value.fields) == ("when_too_far", ("at",))
    assert "at most 400 days ahead" in str(caught.value)


@pytest.mark.parametrize("ahead", [timedelta(seconds=1), timedelta(days=1), HORIZON])
def test_a_time_inside_the_window_passes(ahead: timedelta) -> None:
    check_window(NOW + ahead, now=NOW, horizon=HORIZON)


# -- saying times back ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (45, "in 45 seconds"),
        (90, "in 1 minute 30 seconds"),
        (600, "in 10 minutes"),
        (2 * 3600 + 5 * 60, "in 2 hours 5 minutes"),
        (2 * 3600 + 5 * 60 + 40, "in 2 hours 6 minutes"),
        (3599.6, "in 1 hour"),
        (86400, "in 1 day"),
        (3 * 86400 + 2 * 3600, "in 3 days 2 hours"),
        (10 * 86400, "in 10 days"),
        (13 * 86400 + 23 * 3600 + 40 * 60, "in 2 weeks"),
        (35 * 86400, "in 5 weeks"),
        (-180, "3 minutes ago"),
        (-3 * 3600, "3 hours ago"),
        (0, "now"),
        (0.4, "now"),
    ],
)
def test_a_delta_is_said_in_at_most_two_units(seconds: float, said: str) -> None:
    assert describe_delta(timedelta(seconds=seconds)) == said


@pytest.mark.parametrize(
    ("when", "zone", "said"),
    [
        (utc(2026, 12, 7, 8, 0), AMSTERDAM, "Mon 7 Dec 2026 09:00 CET"),
        (utc(2026, 7, 7, 7, 0), AMSTERDAM, "Tue 7 Jul 2026 09:00 CEST"),
        (utc(2026, 12, 7, 8, 0), KOLKATA, "Mon 7 Dec 2026 13:30 IST"),
        (utc(2026, 12, 7, 8, 0), NEW_YORK, "Mon 7 Dec 2026 03:00 EST"),
    ],
)
def test_local_time_shows_the_clock_and_zone_abbreviation(
    when: datetime, zone: ZoneInfo, said: str
) -> None:
    assert local_time(when, zone) == said


# -- wall clocks and DST --------------------------------------------------------------


def test_dst_gap_names_the_skipped_hour() -> None:
    assert dst_gap(datetime(2026, 3, 8, 2, 30), NEW_YORK) == (
        datetime(2026, 3, 8, 2, 0),
        datetime(2026, 3, 8, 3, 0),
    )
    assert dst_gap(datetime(2026, 3, 8, 3, 0), NEW_YORK) is None
    assert dst_gap(datetime(2026, 11, 1, 1, 30), NEW_YORK) is None  # ambiguous, not missing
    assert dst_gap(datetime(2026, 3, 8, 2, 30), KOLKATA) is None


def test_local_instant_moves_a_gap_time_to_the_end_of_the_gap() -> None:
    assert local_instant(datetime(2026, 3, 8, 2, 30), NEW_YORK) == utc(2026, 3, 8, 7, 0)
    assert local_instant(datetime(2026, 11, 1, 1, 30), NEW_YORK) == utc(2026, 11, 1, 5, 30)


# -- properties -----------------------------------------------------------------

_WORDS = st.sampled_from(
    [
        *("in", "at", "tomorrow", "today", "next", "monday", "fri", "dec", "24", "9", "9am"),
        *("pm", "09:00", "25:00", "2026-12-01", "T", "Z", "+01:00", "-", "h", "m", "s", "3d"),
        *("ist", "utc", "ago", "yesterday", "noon", "midnight", "week", "9999", "0", "1h30m", ","),
    ]
)


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=40))
def test_any_text_is_read_or_refused_as_input(text: str) -> None:
    try:
        found = parse_when(text, now=NOW, zone=NEW_YORK)
    except InputError as error:
        assert error.code == "when_invalid" and error.fields == ("at",)
    else:
        assert found.tzinfo is UTC


@settings(max_examples=150, deadline=None)
@given(words=st.lists(_WORDS, max_size=5))
def test_any_mix_of_time_words_is_read_or_refused_as_input(words: list[str]) -> None:
    try:
        parse_when(" ".join(words), now=NOW, zone=AMSTERDAM)
    except InputError as error:
        assert error.code == "when_invalid"


_UNITS = [("s", 1), ("m", 60), ("h", 3600), ("d", 86400), ("w", 604800)]
_UNITS += [(" seconds", 1), (" minutes", 60), (" hours", 3600), (" days", 86400)]


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 5000), unit=st.sampled_from(_UNITS))
def test_a_relative_time_round_trips(n: int, unit: tuple[str, int]) -> None:
    name, size = unit

    assert parse_when(f"in {n}{name}", now=NOW, zone=KOLKATA) == NOW + timedelta(seconds=n * size)
    assert parse_duration(f"{n}{name}") == timedelta(seconds=n * size)


@settings(max_examples=150, deadline=None)
@given(
    wall=st.datetimes(datetime(2020, 1, 1), datetime(2035, 12, 31)).map(
        lambda d: d.replace(second=0, microsecond=0)
    ),
    zone=st.sampled_from([NEW_YORK, AMSTERDAM, KOLKATA]),
)
def test_a_local_date_time_keeps_its_clock_or_is_a_gap(wall: datetime, zone: ZoneInfo) -> None:
    typed = f"{wall:%Y-%m-%d %H:%M}"
    try:
        found = parse_when(typed, now=NOW, zone=zone)
    except InputError as error:
        assert error.details["reason"] == "dst_gap"
        assert dst_gap(wall, zone) is not None
    else:
        assert found.astimezone(zone).replace(tzinfo=None) == wall


@settings(max_examples=100, deadline=None)
@given(
    now=st.datetimes(datetime(2020, 1, 1), datetime(2035, 12, 31), timezones=st.just(UTC)),
    zone=st.sampled_from([NEW_YORK, AMSTERDAM, KOLKATA, ZoneInfo("Pacific/Kiritimati")]),
    clock=st.sampled_from([(9, 0, "9am"), (21, 0, "9pm"), (17, 30, "17:30"), (0, 0, "midnight")]),
)
def test_a_bare_clock_time_is_the_next_one_in_the_zone(
    now: datetime, zone: ZoneInfo, clock: tuple[int, int, str]
) -> None:
    hour, minute, typed = clock
    try:
        found = parse_when(typed, now=now, zone=zone)
    except InputError as error:  # that clock time falls in tomorrow's DST gap
        assert error.details["reason"] == "dst_gap"
        return
    local = found.astimezone(zone)

    assert now < found <= now + timedelta(hours=25)
    assert (local.hour, local.minute) == (hour, minute)


def test_a_weekday_named_on_that_day_is_next_weeks() -> None:
    # dateparser's reading, kept: on a Wednesday "wednesday" is the next one ("today" is today)
    assert parse_when("wednesday 11:00", now=NOW, zone=NEW_YORK) == utc(2026, 3, 11, 15, 0)
    assert parse_when("today 11:00", now=NOW, zone=NEW_YORK) == utc(2026, 3, 4, 16, 0)


@settings(max_examples=100, deadline=None)
@given(seconds=st.integers(-(10**9), 10**9))
def test_a_delta_is_always_said_in_one_or_two_units(seconds: int) -> None:
    said = describe_delta(timedelta(seconds=seconds))

    assert re.fullmatch(
        r"now|in [0-9]+ [a-z]+( [0-9]+ [a-z]+)?|[0-9]+ [a-z]+( [0-9]+ [a-z]+)? ago", said
    )
