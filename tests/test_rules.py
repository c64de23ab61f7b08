"""Recurring rules and their end (`bot.scheduling.rules`): reading ``--every`` and
``--until``, and finding each occurrence on the local wall clock across DST changes.

DST in 2026: New York springs forward on 8 March (02:00→03:00) and falls back on
1 November (02:00→01:00); Amsterdam on 29 March and 25 October (at 02:00 and 03:00).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import InputError
from bot.scheduling.rules import Rule, parse_rule, parse_until
from bot.scheduling.when import dst_gap

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # Wednesday; 10:00 in New York
NEW_YORK = ZoneInfo("America/New_York")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
KOLKATA = ZoneInfo("Asia/Kolkata")
ZONES = [NEW_YORK, AMSTERDAM, KOLKATA, ZoneInfo("Australia/Lord_Howe")]  # a 30-minute DST


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def occurrences(rule: Rule, after: datetime, zone: ZoneInfo, count: int) -> list[datetime]:
    found: list[datetime] = []
    for _ in range(count):
        following = rule.next_after(after, zone)
        assert following is not None
        found.append(following)
        after = following
    return found


def walls(moments: list[datetime], zone: ZoneInfo) -> list[str]:
    return [f"{m.astimezone(zone):%a %d %H:%M%z}" for m in moments]


# -- reading rules ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "text", "said"),
    [
        ("daily 09:00", "daily 09:00", "every day at 09:00"),
        ("weekdays 09:00", "weekdays 09:00", "every weekday at 09:00"),
        ("weekends 10:00", "weekends 10:00", "every Saturday and Sunday at 10:00"),
        ("monday 09:00", "mon 09:00", "every Monday at 09:00"),
        ("mon,thu 09:00", "mon,thu 09:00", "every Monday and Thursday at 09:00"),
        ("thu, mon 9:00", "mon,thu 09:00", "every Monday and Thursday at 09:00"),
        ("mon-fri 08:30", "weekdays 08:30", "every weekday at 08:30"),
        ("mon,wed,fri 9am", "mon,wed,fri 09:00", "every Monday, Wednesday and Friday at 09:00"),
        ("sat-sun 10:00", "weekends 10:00", "every Saturday and Sunday at 10:00"),
        (
            "fri-mon 17:30",
            "mon,fri,sat,sun 17:30",
            "every Monday, Friday, Saturday and Sunday at 17:30",
        ),
        ("weekly monday 09:00", "mon 09:00", "every Monday at 09:00"),
        ("monthly 1 09:00", "monthly 1 09:00", "on day 1 of every month at 09:00"),
        (
            "monthly 31 09:00",
            "monthly 31 09:00",
            "on day 31 of every month at 09:00 (months without a day 31 are skipped)",
        ),
        ("0 9 * * 1-5", "cron 0 9 * * 1-5", "by the cron rule 0 9 * * 1-5"),
        ("cron 0 9 * * 1-5", "cron 0 9 * * 1-5", "by the cron rule 0 9 * * 1-5"),
        (
            "*/15  8-17 * * MON-FRI",
            "cron */15 8-17 * * mon-fri",
            "by the cron rule */15 8-17 * * mon-fri",
        ),
        ("Daily 9AM", "daily 09:00", "every day at 09:00"),
        ("every day at 9 am", "daily 09:00", "every day at 09:00"),
        ("monday and thursday at 17:30", "mon,thu 17:30", "every Monday and Thursday at 17:30"),
        ("mondays 9:00", "mon 09:00", "every Monday at 09:00"),
        ("monthly on the 1st at noon", "monthly 1 12:00", "on day 1 of every month at 12:00"),
        ("daily 12am", "daily 00:00", "every day at 00:00"),
        ("daily 12pm", "daily 12:00", "every day at 12:00"),
        ("daily midnight", "daily 00:00", "every day at 00:00"),
    ],
)
def test_a_rule_is_read_normalized_and_described(typed: str, text: str, said: str) -> None:
    rule = parse_rule(typed)

    assert rule.text == text
    assert rule.describe() == said
    assert parse_rule(rule.text) == rule  # the normalized text reads back as the same rule


def test_a_rule_made_from_its_text_is_normalized_and_checked() -> None:
    assert Rule("Weekdays 9am") == Rule("weekdays 09:00")
    with pytest.raises(InputError):
        Rule("fortnightly 09:00")


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", "Give a rule."),
        ("daily", "'daily' needs a time of day at the end."),
        ("09:00", "Say which days '09:00' is on."),
        ("daily 9", "'9' is not a time of day"),
        ("daily 25:00", "'25:00' is not a time of day"),
        ("daily 13pm", "'13pm' is not a time of day"),
        ("daily 9:60", "'9:60' is not a time of day"),
        ("monthly 32 09:00", "from 1 to 31"),
        ("monthly 09:00", "from 1 to 31"),
        ("weekly 09:00", "Say which day of the week"),
        ("fortnightly 09:00", "'fortnightly' is not a day."),
        ("cron 0 9 * *", "five fields"),
        ("61 9 * * *", "'61 9 * * *' is not a cron expression"),
        ("0 9 * * 8", "'8' is not a weekday"),
        ("0 9 * * 6-0", "from low to high"),
        ("0 9 30 2 *", "never happens"),
    ],
)
def test_a_bad_rule_is_refused_with_the_forms(typed: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_rule(typed)

    error = caught.value
    assert (error.code, error.fields) == ("rule_invalid", ("every",))
    assert error.details["typed"] == typed
    assert problem in str(error)
    assert "weekdays 09:00" in str(error) and "monthly 1 09:00" in str(error)
    assert "0 9 * * 1-5" in str(error) and "--" not in str(error)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("mnoday 09:00", "monday"), ("thurday 09:00", "thursday"), ("dayly 09:00", "daily")],
)
def test_a_mistyped_day_gets_a_suggestion(typed: str, meant: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_rule(typed)

    assert caught.value.details["suggestion"] == meant
    assert f"Did you mean '{meant}'?" in str(caught.value)


# -- finding occurrences -----------------------------------------------------------


def test_weekdays_skip_the_weekend() -> None:
    found = occurrences(parse_rule("weekdays 09:00"), NOW, NEW_YORK, 4)

    assert walls(found, NEW_YORK) == [
        "Thu 05 09:00-0500",
        "Fri 06 09:00-0500",
        "Mon 09 09:00-0400",
        "Tue 10 09:00-0400",
    ]


def test_an_occurrence_at_the_very_instant_is_not_after_it() -> None:
    rule = parse_rule("daily 09:00")
    at_nine = utc(2026, 3, 5, 14, 0)

    assert rule.next_after(at_nine, NEW_YORK) == utc(2026, 3, 6, 14, 0)
    assert rule.next_after(at_nine - timedelta(microseconds=1), NEW_YORK) == at_nine


def test_monthly_31_skips_the_months_without_a_31st() -> None:
    found = occurrences(parse_rule("monthly 31 09:00"), utc(2026, 1, 1), KOLKATA, 4)

    assert [f"{m.astimezone(KOLKATA):%Y-%m-%d %H:%M}" for m in found] == [
        "2026-01-31 09:00",
        "2026-03-31 09:00",
        "2026-05-31 09:00",
        "2026-07-31 09:00",
    ]


@pytest.mark.parametrize(
    ("expression", "weekdays"),
    [
        ("0 9 * * 1", {"Mon"}),
        ("0 9 * * 0", {"Sun"}),
        ("0 9 * * 7", {"Sun"}),
        ("0 9 * * 1-5", {"Mon", "Tue", "Wed", "Thu", "Fri"}),
        ("0 9 * * 5-7", {"Fri", "Sat", "Sun"}),
        ("0 9 * * */2", {"Sun", "Tue", "Thu", "Sat"}),
        ("0 9 * * sat,sun", {"Sat", "Sun"}),
        ("0 9 * * 1-5/2", {"Mon", "Wed", "Fri"}),
    ],
)
def test_cron_weekdays_are_numbered_as_crontab_numbers_them(
    expression: str, weekdays: set[str]
) -> None:
    # APScheduler 3 numbers Monday 0; crontab numbers Sunday 0 (and 7)
    found = occurrences(parse_rule(expression), NOW, AMSTERDAM, 14)

    assert {f"{m.astimezone(AMSTERDAM):%a}" for m in found} == weekdays
    assert all(f"{m.astimezone(AMSTERDAM):%H:%M}" == "09:00" for m in found)


def test_cron_with_both_day_fields_runs_when_either_matches() -> None:
    found = occurrences(parse_rule("0 9 1 * 1"), utc(2026, 3, 25), AMSTERDAM, 4)

    # Mondays 30 March, 6 and 13 April, and 1 April (a Wednesday) as crontab does
    assert [f"{m.astimezone(AMSTERDAM):%a %d %b}" for m in found] == [
        "Mon 30 Mar",
        "Wed 01 Apr",
        "Mon 06 Apr",
        "Mon 13 Apr",
    ]


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [
        (NEW_YORK, utc(2026, 3, 6), utc(2026, 10, 30)),
        (AMSTERDAM, utc(2026, 3, 27), utc(2026, 10, 23)),
    ],
)
def test_nine_oclock_stays_nine_oclock_across_both_changes(
    zone: ZoneInfo, spring: datetime, autumn: datetime
) -> None:
    rule = parse_rule("daily 09:00")

    for start in (spring, autumn):
        found = occurrences(rule, start, zone, 5)
        assert {f"{m.astimezone(zone):%H:%M}" for m in found} == {"09:00"}
        assert len({m.utcoffset() for m in found}) == 1  # UTC moved by the hour:
        assert len({m.astimezone(zone).utcoffset() for m in found}) == 2  # offsets changed
        assert [b - a for a, b in pairwise(found)].count(timedelta(days=1)) == 3


@pytest.mark.parametrize(
    ("zone", "start", "gap_day", "at_gap_end"),
    [
        (NEW_YORK, utc(2026, 3, 6), "Sun 08 03:00-0400", utc(2026, 3, 8, 7, 0)),
        (AMSTERDAM, utc(2026, 3, 27), "Sun 29 03:00+0200", utc(2026, 3, 29, 1, 0)),
    ],
)
def test_a_time_in_the_spring_gap_runs_at_the_end_of_the_gap(
    zone: ZoneInfo, start: datetime, gap_day: str, at_gap_end: datetime
) -> None:
    found = occurrences(parse_rule("daily 02:30"), start, zone, 4)

    assert walls(found, zone)[2] == gap_day
    assert found[2] == at_gap_end
    assert [f"{m.astimezone(zone):%H:%M}" for m in found] == ["02:30", "02:30", "03:00", "02:30"]


@pytest.mark.parametrize(
    ("zone", "typed", "start", "once"),
    [
        (NEW_YORK, "daily 01:30", utc(2026, 10, 30), utc(2026, 11, 1, 5, 30)),
        (AMSTERDAM, "daily 02:30", utc(2026, 10, 23), utc(2026, 10, 25, 0, 30)),
    ],
)
def test_a_time_the_fall_back_repeats_runs_once(
    zone: ZoneInfo, typed: str, start: datetime, once: datetime
) -> None:
    found = occurrences(parse_rule(typed), start, zone, 4)

    on_the_day = [m for m in found if m.astimezone(zone).date() == once.astimezone(zone).date()]
    assert on_the_day == [once]  # the first of the two, not the second
    # asked from inside the repeated hour (the second pass), the next is the next day
    following = parse_rule(typed).next_after(once + timedelta(hours=1, minutes=10), zone)
    assert following is not None and following - once == timedelta(days=1, hours=1)


def test_every_half_hour_through_both_changes_keeps_each_clock_time_once() -> None:
    rule = parse_rule("*/30 * * * *")
    spring = occurrences(rule, utc(2026, 3, 8, 4, 0), NEW_YORK, 6)  # 23:00 EST on the 7th
    autumn = occurrences(rule, utc(2026, 11, 1, 3, 0), NEW_YORK, 8)  # 23:00 EDT on the 31st

    assert [f"{m.astimezone(NEW_YORK):%H:%M}" for m in spring] == [
        "23:30", "00:00", "00:30", "01:00", "01:30", "03:00",
    ]  # fmt: skip
    assert [f"{m.astimezone(NEW_YORK):%H:%M}" for m in autumn] == [
        "23:30", "00:00", "00:30", "01:00", "01:30", "02:00", "02:30", "03:00",
    ]  # fmt: skip


def test_next_after_needs_an_aware_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_rule("daily 09:00").next_after(datetime(2026, 3, 4), NEW_YORK)


# -- until ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "zone", "end"),
    [
        ("2027-03-31", KOLKATA, utc(2027, 3, 31, 18, 30)),  # midnight starting 1 April there
        ("2027-03-31", NEW_YORK, utc(2027, 4, 1, 4, 0)),
        ("friday", NEW_YORK, utc(2026, 3, 7, 5, 0)),  # through Friday 6 March
        ("dec 31", NEW_YORK, utc(2027, 1, 1, 5, 0)),
        ("today", NEW_YORK, utc(2026, 3, 5, 5, 0)),
        ("2027-03-31 18:00", KOLKATA, utc(2027, 3, 31, 12, 30)),
        ("in 3d", NEW_YORK, NOW + timedelta(days=3)),
        ("tomorrow 9am", NEW_YORK, utc(2026, 3, 5, 14, 0)),
    ],
)
def test_until_is_the_end_of_a_date_or_an_instant(
    typed: str, zone: ZoneInfo, end: datetime
) -> None:
    found = parse_until(typed, now=NOW, zone=zone)

    assert found == end
    assert found.tzinfo is UTC


def test_until_a_date_whose_midnight_is_skipped_ends_when_the_day_starts() -> None:
    # Havana springs forward at midnight: 8 March 2026 starts at 01:00
    havana = ZoneInfo("America/Havana")

    assert parse_until("2026-03-07", now=NOW, zone=havana) == utc(2026, 3, 8, 5, 0)


@pytest.mark.parametrize("typed", ["2020-01-01", "yesterday", "2026-03-03", "in -5m"])
def test_until_in_the_past_is_refused(typed: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_until(typed, now=NOW, zone=NEW_YORK)

    assert (caught.value.code, caught.value.fields) == ("until_invalid", ("until",))


@pytest.mark.parametrize("typed", ["garbage", "", "next week", "9999-12-31", "2027-02-30"])
def test_an_unreadable_until_is_refused_with_an_example(typed: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_until(typed, now=NOW, zone=NEW_YORK)

    error = caught.value
    assert (error.code, error.fields) == ("until_invalid", ("until",))
    assert error.details["typed"] == typed
    assert "2027-03-31" in str(error) and "--" not in str(error)


def test_until_in_a_dst_gap_says_so() -> None:
    with pytest.raises(InputError) as caught:
        parse_until("2026-03-08 02:30", now=NOW, zone=NEW_YORK)

    assert caught.value.code == "until_invalid"
    assert "America/New_York" in str(caught.value) and "02:00" in str(caught.value)


# -- properties -----------------------------------------------------------------

_RULES = [
    "daily 09:00",
    "daily 02:30",
    "daily 01:30",
    "weekdays 08:30",
    "mon,thu 23:59",
    "monthly 31 00:00",
    "monthly 1 02:00",
    "cron */20 1-3 * * *",
    "cron 0 9 1 * 1",
]
_MOMENTS = st.datetimes(datetime(2020, 1, 1), datetime(2035, 12, 31), timezones=st.just(UTC))


@settings(max_examples=150, deadline=None)
@given(typed=st.sampled_from(_RULES), zone=st.sampled_from(ZONES), after=_MOMENTS)
def test_occurrences_are_strictly_after_and_increasing(
    typed: str, zone: ZoneInfo, after: datetime
) -> None:
    found = occurrences(parse_rule(typed), after, zone, 4)

    assert after < found[0] < found[1] < found[2] < found[3]
    assert all(moment.tzinfo is UTC for moment in found)


@settings(max_examples=200, deadline=None)
@given(
    day=st.dates(date(2020, 1, 1), date(2035, 12, 31)),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 59]),
    zone=st.sampled_from([NEW_YORK, AMSTERDAM, ZoneInfo("Australia/Lord_Howe")]),
)
def test_daily_lands_on_its_wall_clock_time_except_in_a_gap(
    day: date, hour: int, minute: int, zone: ZoneInfo
) -> None:
    rule = parse_rule(f"daily {hour:02}:{minute:02}")
    day_start = datetime(day.year, day.month, day.day).replace(tzinfo=zone)

    found = rule.next_after(day_start - timedelta(microseconds=1), zone)

    assert found is not None
    local = found.astimezone(zone).replace(tzinfo=None)
    wall = datetime(day.year, day.month, day.day, hour, minute)
    gap = dst_gap(wall, zone)
    assert local == (wall if gap is None else gap[1])


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=40))
def test_any_text_is_a_rule_or_refused_as_input(text: str) -> None:
    try:
        rule = parse_rule(text)
    except InputError as error:
        assert error.code == "rule_invalid" and error.fields == ("every",)
    else:
        assert parse_rule(rule.text) == rule


_RULE_WORDS = st.sampled_from(
    [
        *("daily", "weekdays", "weekly", "monthly", "mon", "fri-mon", "sunday", ",", "and", "at"),
        *("9am", "09:00", "25:00", "12pm", "31", "0", "*", "*/5", "1-5", "7", "cron", "jan", "L"),
    ]
)


@settings(max_examples=200, deadline=None)
@given(words=st.lists(_RULE_WORDS, max_size=6))
def test_any_mix_of_rule_words_is_a_rule_or_refused_as_input(words: list[str]) -> None:
    try:
        rule = parse_rule(" ".join(words))
    except InputError as error:
        assert error.code == "rule_invalid"
    else:
        following = rule.next_after(NOW, AMSTERDAM)
        assert following is not None and following > NOW
