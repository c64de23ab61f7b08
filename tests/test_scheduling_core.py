"""Scheduled and recurring sends in the core, on a real SQLite file with the clock driven
by the test: each message goes out once, at its time, late within ``missed_grace`` or
failed as missed beyond it; cancelling and moving change only what has not gone out."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest

from bot.errors import AlreadyRunningError, InputError, MessageNotFoundError
from bot.lookups import ScheduleReport
from bot.models import Message, MessageStatus, ScheduleState
from bot.scheduling.lock import running_holder
from bot.scheduling.timer import Timer
from bot.sending.requests import SendRequest
from bot.services import Herald
from tests.conftest import settings_for
from tests.waiting import until

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NEW_YORK = "America/New_York"
T = TypeVar("T")


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Recorder:
    """An announcer that keeps every change it is shown."""

    def __init__(self) -> None:
        self.seen: list[Message] = []

    async def message_changed(self, message: Message) -> None:
        self.seen.append(message)

    def unannounced(self) -> list[Message]:
        return []

    def statuses(self, message_id: str) -> list[MessageStatus]:
        return [m.status for m in self.seen if m.id == message_id]


def _request(
    at: str | None = "in 90s",
    to: tuple[str, ...] = ("+31612345678",),
    *,
    every: str | None = None,
    until: str | None = None,
    text: str = "Doors open",
    timezone: str | None = None,
) -> SendRequest:
    return SendRequest(
        "sandbox",
        list(to),
        text,
        sender="U1",
        origin="slack",
        announce_to="C1",
        at=at,
        every=every,
        until=until,
        timezone=timezone,
    )


def _run(
    tmp_path: Path,
    scenario: Callable[[Herald, Clock, Recorder], Awaitable[T]],
    *,
    clock: Clock | None = None,
    body: str | None = None,
) -> T:
    """Run ``scenario`` against a started Herald whose scheduling clock is ``clock``."""
    clock = clock or Clock()

    async def main() -> T:
        recorder = Recorder()
        settings = settings_for(tmp_path) if body is None else settings_for(tmp_path, body=body)
        herald = Herald(settings, recorder)
        herald.planner.clock = clock
        herald.planner.started_at = clock.now
        await herald.start()
        try:
            return await scenario(herald, clock, recorder)
        finally:
            await herald.stop()

    return asyncio.run(main())


def _status(herald: Herald, message_id: str) -> MessageStatus:
    message = herald.message(message_id)
    assert message is not None
    return message.status


async def _settle(herald: Herald) -> None:
    await herald.background.drain(10)


def test_a_send_at_a_time_waits_then_goes_out_once_at_that_time(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        scheduled = await herald.schedule(_request("in 90s"))
        (message,) = scheduled.messages
        assert scheduled.due_at == NOW + timedelta(seconds=90)
        assert message.status is MessageStatus.SCHEDULED and message.due_at == scheduled.due_at
        assert scheduled.id == message.id  # one recipient: the receipt's id is the handle
        await _settle(herald)
        assert seen.statuses(message.id) == [MessageStatus.SCHEDULED]  # its receipt, at once

        clock.advance(seconds=89)
        assert await herald.release_due() == 0
        assert _status(herald, message.id) is MessageStatus.SCHEDULED

        clock.advance(seconds=1)
        assert await herald.release_due() == 1
        assert await herald.release_due() == 0  # a second sweep finds nothing
        await _settle(herald)
        went = herald.message(message.id)
        assert went is not None and went.status.past_handover and went.late_by is None
        assert MessageStatus.ACCEPTED in seen.statuses(message.id)

    _run(tmp_path, scenario)


def test_local_times_are_read_in_the_senders_zone(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        scheduled = await herald.schedule(_request("2026-12-01 09:00", timezone=NEW_YORK))
        # 09:00 in New York on 1 December is 14:00 UTC (EST, -05:00)
        assert scheduled.due_at == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
        assert scheduled.zone == ZoneInfo(NEW_YORK)
        assert scheduled.send is not None and scheduled.send.timezone == NEW_YORK

    _run(tmp_path, scenario)


@pytest.mark.parametrize(
    ("when", "code"),
    [("2026-12-01 11:00Z", "when_past"), ("in 500d", "when_too_far"), ("someday", "when_invalid")],
)
def test_past_far_and_unreadable_times_store_nothing(tmp_path: Path, when: str, code: str) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> InputError:
        with pytest.raises(InputError) as caught:
            await herald.schedule(_request(when))
        assert herald.agenda().sends == []
        return caught.value

    error = _run(tmp_path, scenario)
    assert error.code == code and error.fields[0] == "at"


def test_due_while_down_goes_late_within_grace_and_says_so(tmp_path: Path) -> None:
    clock = Clock()

    async def schedule(herald: Herald, clock: Clock, seen: Recorder) -> str:
        return (await herald.schedule(_request("in 60s"))).id

    message_id = _run(tmp_path, schedule, clock=clock)
    clock.advance(minutes=20)  # Herald was down when it fell due; back 19 minutes late

    async def restart(herald: Herald, clock: Clock, seen: Recorder) -> Message:
        assert await herald.release_due() == 1
        await _settle(herald)
        went = herald.message(message_id)
        assert went is not None
        return went

    went = _run(tmp_path, restart, clock=clock)
    assert went.status.past_handover and went.status is not MessageStatus.FAILED
    assert went.late_by == pytest.approx(19 * 60)


def test_due_beyond_grace_fails_as_missed_and_the_sender_is_told(tmp_path: Path) -> None:
    clock = Clock()

    async def schedule(herald: Herald, clock: Clock, seen: Recorder) -> str:
        return (await herald.schedule(_request("in 60s"))).id

    message_id = _run(tmp_path, schedule, clock=clock)
    clock.advance(hours=3)  # missed_grace defaults to 1h

    async def restart(herald: Herald, clock: Clock, seen: Recorder) -> list[Message]:
        assert await herald.release_due() == 1
        await _settle(herald)
        return [m for m in seen.seen if m.id == message_id]

    shown = _run(tmp_path, restart, clock=clock)
    assert [m.status for m in shown] == [MessageStatus.FAILED]  # announced: the sender is told
    assert shown[0].error is not None and shown[0].error.startswith("missed")


def test_fifty_messages_due_the_same_second_each_go_out_once_under_racing_sweeps(
    tmp_path: Path,
) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        ids = [(await herald.schedule(_request("in 10s"))).id for _ in range(50)]
        clock.advance(seconds=10)
        moved = await asyncio.gather(*(herald.release_due() for _ in range(4)))
        assert sum(moved) == 50
        await _settle(herald)
        for message_id in ids:
            assert seen.statuses(message_id).count(MessageStatus.ACCEPTED) == 1
        with closing(sqlite3.connect(herald.settings.db_path)) as db:
            handed = db.execute(
                "SELECT COUNT(*) FROM status_events WHERE status = 'sending'"
            ).fetchone()
        assert handed == (50,)

    _run(tmp_path, scenario)


def test_cancel_stops_a_message_a_send_or_nothing_twice(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        one = await herald.schedule(_request("in 1h"))
        three = await herald.schedule(
            _request("in 1h", ("+31612345671", "+31612345672", "+31612345673"))
        )
        assert three.send is not None and three.id == three.send.id

        cancelled = await herald.cancel(f"#{one.id.upper()}", actor="U2")
        assert [m.status for m in cancelled.messages] == [MessageStatus.CANCELLED]
        with pytest.raises(InputError) as twice:
            await herald.cancel(one.id, actor="U2")
        assert twice.value.code == "not_cancellable" and "cancelled" in str(twice.value)

        batch = await herald.cancel(three.id, actor="U2")
        assert len(batch.messages) == 3 and batch.already_gone == 0
        with pytest.raises(MessageNotFoundError):
            await herald.cancel("zzzzzzzz", actor="U2")

        clock.advance(hours=2)
        assert await herald.release_due() == 0  # nothing left to go
        await _settle(herald)
        assert MessageStatus.CANCELLED in seen.statuses(one.id)
        assert herald.agenda().sends == []

    _run(tmp_path, scenario)


def test_reschedule_moves_a_send_and_refuses_one_message_of_several(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        one = await herald.schedule(_request("in 1h"))
        moved = await herald.reschedule(one.id, "in 2h", actor="U1")
        assert moved.due_at == NOW + timedelta(hours=2)
        assert [m.due_at for m in moved.messages] == [moved.due_at]

        two = await herald.schedule(_request("in 1h", ("+31612345671", "+31612345672")))
        with pytest.raises(InputError) as refused:
            await herald.reschedule(two.messages[0].id, "in 3h", actor="U1")
        assert refused.value.code == "not_reschedulable" and two.id in str(refused.value)
        await herald.reschedule(two.id, "in 3h", actor="U1")

        clock.advance(hours=1, seconds=1)
        assert await herald.release_due() == 0  # neither is due at the old time
        clock.advance(hours=1)
        assert await herald.release_due() == 1
        clock.advance(hours=1)
        assert await herald.release_due() == 2
        with pytest.raises(InputError) as gone:
            await herald.reschedule(one.id, "in 1h", actor="U1")
        assert gone.value.code == "not_reschedulable"

    _run(tmp_path, scenario)


def test_a_recurring_schedule_sends_each_occurrence_once_until_cancelled(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        scheduled = await herald.schedule(_request(None, every="daily 09:00", timezone=NEW_YORK))
        schedule = scheduled.schedule
        assert schedule is not None and scheduled.id == schedule.id
        first = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # 09:00 EST today, 07:00 there now
        assert schedule.next_due == first and scheduled.messages == []

        clock.now = first
        assert await herald.release_due() == 1
        assert await herald.release_due() == 0
        report = herald.report(schedule.id)
        assert isinstance(report, ScheduleReport)
        assert report.schedule.next_due == first + timedelta(days=1)
        assert report.schedule.occurrences == 1
        (occurrence,) = report.occurrences
        assert occurrence.schedule_id == schedule.id and occurrence.due_at == first

        await herald.cancel(schedule.id, actor="U1")
        clock.advance(days=1)
        assert await herald.release_due() == 0
        stopped = herald.report(schedule.id)
        assert isinstance(stopped, ScheduleReport)
        assert stopped.schedule.state is ScheduleState.CANCELLED
        await _settle(herald)

    _run(tmp_path, scenario)


def test_occurrences_missed_while_down_are_one_missed_occurrence_not_a_burst(
    tmp_path: Path,
) -> None:
    clock = Clock()

    async def schedule(herald: Herald, clock: Clock, seen: Recorder) -> str:
        scheduled = await herald.schedule(_request(None, every="daily 09:00", timezone="UTC"))
        assert scheduled.schedule is not None
        return scheduled.schedule.id

    schedule_id = _run(tmp_path, schedule, clock=clock)
    clock.advance(days=5)  # five occurrences fell due while Herald was down

    async def restart(herald: Herald, clock: Clock, seen: Recorder) -> None:
        assert await herald.release_due() == 1
        report = herald.report(schedule_id)
        assert isinstance(report, ScheduleReport)
        assert report.schedule.next_due is not None and report.schedule.next_due > clock.now
        (missed,) = report.occurrences
        (message,) = herald.db.messages_of(missed.id)
        assert message.status is MessageStatus.FAILED and (message.error or "").startswith("missed")
        await _settle(herald)

    _run(tmp_path, restart, clock=clock)


def test_until_ends_a_schedule_and_needs_every(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        with pytest.raises(InputError) as alone:
            await herald.schedule(_request("in 1h", until="2026-12-05"))
        assert alone.value.code == "until_without_every"
        scheduled = await herald.schedule(
            _request(None, every="daily 13:00", until="2026-12-02", timezone="UTC")
        )
        assert scheduled.schedule is not None
        for _ in range(2):
            clock.advance(days=1)
            await herald.release_due()
        report = herald.report(scheduled.schedule.id)
        assert isinstance(report, ScheduleReport)
        assert report.schedule.state is ScheduleState.ENDED
        assert len(report.occurrences) == 2  # 1 and 2 December, then no more
        await _settle(herald)

    _run(tmp_path, scenario)


# -- the timer: APScheduler in the database, one per database ---------------------------


def _serving(tmp_path: Path, scenario: Callable[[Herald], Awaitable[T]]) -> T:
    async def main() -> T:
        herald = Herald(settings_for(tmp_path), Recorder())
        await herald.start(serve=True)
        try:
            return await scenario(herald)
        finally:
            await herald.stop()

    return asyncio.run(main())


_until = partial(until, timeout=10.0)


def test_the_timer_fires_a_send_at_its_time_and_forgets_its_job(tmp_path: Path) -> None:
    async def scenario(herald: Herald) -> None:
        herald.sweep_every = 3600  # only the timer may release it
        scheduled = await herald.schedule(_request("in 1s"))
        assert herald.timer is not None
        await _until(lambda: herald.timer is not None and herald.timer.pending() == 1)
        assert herald.health()["pending_jobs"] == 1
        await _until(lambda: _status(herald, scheduled.id).past_handover)
        await _until(lambda: herald.timer is not None and herald.timer.pending() == 0)

    _serving(tmp_path, scenario)


def test_a_second_server_on_the_same_database_is_refused_saying_who_holds_it(
    tmp_path: Path,
) -> None:
    async def scenario(herald: Herald) -> None:
        assert herald.timer is not None
        holder = running_holder(herald.settings.db_path)
        assert holder is not None and holder.pid is not None
        other = Timer(herald.db, herald._wake_sweeper)
        with pytest.raises(AlreadyRunningError) as refused:
            await other.start()
        assert f"process {holder.pid}" in str(refused.value)
        assert "herald.db" in str(refused.value)

    _serving(tmp_path, scenario)
    assert running_holder(settings_for(tmp_path).db_path) is None  # released at stop


def test_a_schedule_stored_by_another_process_is_picked_up_and_fired(tmp_path: Path) -> None:
    async def scenario(herald: Herald) -> None:
        herald.sweep_every = 3600
        cli = Herald(settings_for(tmp_path))  # as `herald send --at` beside the server
        await cli.start()
        try:
            scheduled = await cli.schedule(_request("in 2s"))
        finally:
            await cli.stop()
        await _until(lambda: _status(herald, scheduled.id).past_handover)

    _serving(tmp_path, scenario)


def test_jobs_follow_the_rows_at_start(tmp_path: Path) -> None:
    async def first(herald: Herald) -> tuple[str, str]:
        keep = await herald.schedule(_request("in 1h"))
        drop = await herald.schedule(_request("in 1h"))
        assert herald.timer is not None
        await _until(lambda: herald.timer is not None and herald.timer.pending() == 2)
        return keep.id, drop.id

    keep, drop = _serving(tmp_path, first)
    with closing(sqlite3.connect(settings_for(tmp_path).db_path)) as db, db:
        # changed behind the timer's back, with no note of it
        db.execute("UPDATE messages SET status = 'cancelled' WHERE id = ?", [drop])
        db.execute("DELETE FROM apscheduler_jobs")

    async def second(herald: Herald) -> set[str]:
        with closing(sqlite3.connect(herald.settings.db_path)) as db:
            return {row[0] for row in db.execute("SELECT id FROM apscheduler_jobs")}

    with closing(sqlite3.connect(settings_for(tmp_path).db_path)) as db:
        ((keep_send,),) = db.execute("SELECT send_id FROM messages WHERE id = ?", [keep])
    assert _serving(tmp_path, second) == {keep_send}


# -- what the attack pass found ---------------------------------------------------------


def test_a_running_server_never_misses_what_falls_due_while_it_runs(tmp_path: Path) -> None:
    """missed_grace = 0s means "never send after a restart", not "fail everything"."""

    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        scheduled = await herald.schedule(_request("in 10s"))
        clock.advance(minutes=5)  # a backlog, with the server up the whole time
        assert await herald.release_due() == 1
        went = herald.message(scheduled.id)
        assert went is not None and went.status is not MessageStatus.FAILED
        assert went.late_by == pytest.approx(290)  # late, and said so
        history = herald.db.history(scheduled.id)
        assert any("Herald was behind" in (e.reason or "") for e in history)
        await _settle(herald)

    _run(tmp_path, scenario, body='[scheduling]\nmissed_grace = "0s"\n' + FAST)


FAST = """
[connections.sandbox]
provider = "sandbox"
channel = "sms"
sent_after = 0.05
delivered_after = 0.1
"""
OTHER = """
[connections.other]
provider = "sandbox"
channel = "sms"
sent_after = 0.05
delivered_after = 0.1
"""


def test_a_connection_gone_from_the_config_fails_its_messages_and_holds_up_nothing(
    tmp_path: Path,
) -> None:
    clock = Clock()

    async def schedule(herald: Herald, clock: Clock, seen: Recorder) -> tuple[str, str, str]:
        gone = await herald.schedule(replace_connection(_request("in 30s"), "other"))
        every_gone = await herald.schedule(
            replace_connection(_request(None, every="daily 12:01", timezone="UTC"), "other")
        )
        every_kept = await herald.schedule(_request(None, every="daily 12:01", timezone="UTC"))
        return gone.id, every_gone.id, every_kept.id

    gone, every_gone, every_kept = _run(tmp_path, schedule, clock=clock, body=FAST + OTHER)
    clock.advance(minutes=1)

    async def without_other(herald: Herald, clock: Clock, seen: Recorder) -> None:
        assert await herald.release_due() == 3
        await _settle(herald)
        failed = herald.message(gone)
        assert failed is not None and failed.status is MessageStatus.FAILED
        assert "'other' is no longer in Herald's configuration" in (failed.error or "")
        for schedule_id, expected in ((every_gone, MessageStatus.FAILED), (every_kept, None)):
            report = herald.report(schedule_id)
            assert isinstance(report, ScheduleReport) and report.schedule.occurrences == 1
            (message,) = herald.db.messages_of(report.occurrences[0].id)
            if expected is None:
                assert message.status.past_handover and message.status is not expected
            else:
                assert message.status is expected

    _run(tmp_path, without_other, clock=clock, body=FAST)


def replace_connection(request: SendRequest, connection: str) -> SendRequest:
    from dataclasses import replace

    return replace(request, connection=connection)


def test_the_lock_is_the_same_through_a_symlink(tmp_path: Path) -> None:
    async def scenario(herald: Herald) -> None:
        link = tmp_path / "elsewhere.db"
        link.symlink_to(herald.settings.db_path)
        assert running_holder(link) is not None
        with pytest.raises(AlreadyRunningError):
            await Timer(herald.db.__class__(link), herald._wake_sweeper).start()

    _serving(tmp_path, scenario)


def test_health_says_degraded_when_the_job_table_goes_and_the_timer_makes_it_again(
    tmp_path: Path,
) -> None:
    async def scenario(herald: Herald) -> None:
        assert herald.timer is not None
        with closing(sqlite3.connect(herald.settings.db_path)) as db:
            db.execute("DROP TABLE apscheduler_jobs")
        health = herald.health()
        assert health["status"] == "degraded" and health["pending_jobs"] is None
        herald.timer.changed()
        await _until(lambda: herald.health()["status"] == "ok")

    _serving(tmp_path, scenario)


@pytest.mark.parametrize(
    ("when", "code"),
    [("9999-12-31T23:59Z", "when_too_far"), ("01/02/2027 09:00", "when_invalid")],
)
def test_odd_times_are_refused_as_input(tmp_path: Path, when: str, code: str) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> str:
        with pytest.raises(InputError) as caught:
            await herald.schedule(_request(when, timezone="Europe/Amsterdam"))
        return caught.value.code

    assert _run(tmp_path, scenario) == code


def test_a_rule_whose_first_time_is_beyond_the_horizon_names_every(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> InputError:
        with pytest.raises(InputError) as caught:
            await herald.schedule(_request(None, every="0 9 29 2 *", timezone="UTC"))
        return caught.value

    error = _run(tmp_path, scenario)
    assert error.code == "when_too_far" and error.fields == ("every",)


_SET_SCHEDULE = {
    "rule": "UPDATE schedules SET rule = ? WHERE id = ?",
    "timezone": "UPDATE schedules SET timezone = ? WHERE id = ?",
}


@pytest.mark.parametrize(
    ("column", "value"), [("rule", "fortnightly at noon"), ("timezone", "Mars/Olympus_Mons")]
)
def test_a_schedule_that_cannot_be_read_any_more_fails_once_and_ends(
    tmp_path: Path, column: str, value: str
) -> None:
    clock = Clock()

    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        broken = await herald.schedule(_request(None, every="daily 12:01", timezone="UTC"))
        kept = await herald.schedule(_request(None, every="daily 12:01", timezone="UTC"))
        with closing(sqlite3.connect(herald.settings.db_path)) as db, db:
            # what a later release (or a system without that zone) reads otherwise
            db.execute(_SET_SCHEDULE[column], (value, broken.id))
        clock.advance(minutes=1)

        assert await herald.release_due() == 2
        assert await herald.release_due() == 0  # not tried again at every sweep
        report = herald.report(broken.id)
        assert isinstance(report, ScheduleReport)
        assert report.schedule.state is ScheduleState.ENDED and report.schedule.next_due is None
        (message,) = herald.db.messages_of(report.occurrences[0].id)
        assert message.status is MessageStatus.FAILED
        assert f"Schedule #{broken.id} cannot be read any more" in (message.error or "")
        other = herald.report(kept.id)
        assert isinstance(other, ScheduleReport) and other.schedule.occurrences == 1

    _run(tmp_path, scenario, clock=clock)


def test_the_agenda_lists_a_big_scheduled_send_whole_and_the_sends_after_it(
    tmp_path: Path,
) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        many = tuple(f"+3161{n:07d}" for n in range(250))
        big = await herald.schedule(_request("in 90s", many))
        later = await herald.schedule(_request("in 2h"))

        agenda = herald.agenda("U1")

        # the limit (200) counts sends: 250 messages of one send hid the next one before
        assert [(a.send.id, len(a.messages)) for a in agenda.sends] == [
            (big.id, 250),
            (later.send.id if later.send else "", 1),
        ]

    _run(tmp_path, scenario)
