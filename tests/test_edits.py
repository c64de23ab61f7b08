"""Editing what waits, in the core, on a real SQLite file with the clock driven by the
test: an Edit form's prefill (`Herald.draft`), replacing a waiting send or schedule with
the edited one (`Herald.replace`), sending it now (`Herald.send_now`), App Home's recent
sends (`Herald.recent_sends`) and its refresh hook (`Herald.watch`)."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlite_utils import Database

from bot.errors import InputError, MessageNotFoundError, RepeatedRequestError
from bot.lookups import ScheduleReport
from bot.models import Message, MessageStatus, ScheduleState, Send, new_message_id
from bot.scheduling.edits import Replaced
from bot.sending.lists import open_file
from bot.sending.requests import SendRequest
from bot.services import Herald
from bot.storage import Store, Transaction
from bot.storage.migrations import migrations
from providers import Channel
from tests.test_scheduling_core import Clock, Recorder, _run

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ONE, TWO, THREE = "+31612345671", "+31612345672", "+31612345673"
T = TypeVar("T")


def _request(
    at: str | None = "in 1h",
    to: tuple[str, ...] = (ONE,),
    *,
    every: str | None = None,
    text: str = "Doors open",
    sender: str = "U1",
    key: str | None = None,
) -> SendRequest:
    return SendRequest(
        "sandbox",
        list(to),
        text,
        sender=sender,
        origin="slack",
        announce_to="C1",
        at=at,
        every=every,
        timezone="UTC",
        request_key=key,
    )


def _write_list(tmp_path: Path, name: str, *numbers: str) -> None:
    directory = tmp_path / "lists"
    directory.mkdir(exist_ok=True)
    (directory / f"{name}.csv").write_text("to\n" + "\n".join(numbers) + "\n", encoding="utf-8")


def _status(herald: Herald, message_id: str) -> MessageStatus:
    message = herald.message(message_id)
    assert message is not None
    return message.status


def _sends_of(herald: Herald, sender: str = "U1") -> list[Send]:
    return herald.db.recent_sends(sender, 1000)


async def _settle(herald: Herald) -> None:
    await herald.background.drain(10)


# -- drafts ------------------------------------------------------------------------


def test_draft_of_a_message_a_send_and_one_message_of_a_send(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        one = await herald.schedule(_request("in 1h", ("+31 6 1234 5671",)))
        draft = herald.draft(f"#{one.id.upper()}")
        assert (draft.target, draft.kind) == (one.id, "message")
        assert draft.recipients == (ONE,)  # normalized, as stored
        assert (draft.sender, draft.connection, draft.text) == ("U1", "sandbox", "Doors open")
        assert draft.due_at == NOW + timedelta(hours=1) and draft.due_at.tzinfo is not None
        assert (draft.timezone, draft.announce_to, draft.rule, draft.until) == (
            "UTC",
            "C1",
            None,
            None,
        )

        three = await herald.schedule(_request("in 2h", (ONE, TWO, THREE)))
        whole = herald.draft(three.id)
        assert (whole.kind, whole.recipients) == ("send", (ONE, TWO, THREE))
        assert whole.due_at == NOW + timedelta(hours=2)
        alone = herald.draft(three.messages[1].id)
        assert (alone.kind, alone.recipients) == ("message", (TWO,))

        await herald.cancel(three.messages[0].id, actor="U1")  # one cancelled alone
        assert herald.draft(three.id).recipients == (TWO, THREE)

    _run(tmp_path, scenario)


def test_draft_of_a_schedule_has_its_rule_and_next_time(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        request = replace(
            _request(None, every="weekdays 09:00", text=""),
            template="order_delayed",
            variables={"name": "Jo", "order": "A-1", "new_date": "2026-12-09"},
        )
        scheduled = await herald.schedule(replace(request, until="2026-12-31"))
        draft = herald.draft(scheduled.id)
        assert (draft.kind, draft.rule, draft.timezone) == ("schedule", "weekdays 09:00", "UTC")
        assert draft.due_at == datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
        assert draft.until == datetime(2027, 1, 1, tzinfo=UTC)  # through 31 December
        assert (draft.text, draft.template) == ("", "order_delayed")
        assert draft.variables == {"name": "Jo", "order": "A-1", "new_date": "2026-12-09"}

        # the draft, given back unchanged, asks for the same: its end is an instant
        again = replace(request, every=draft.rule, until=draft.until.isoformat())
        replaced = await herald.replace(draft.target, again, actor="U1")
        assert replaced.new.schedule is not None
        assert replaced.new.schedule.until == draft.until
        assert replaced.new.schedule.next_due == draft.due_at

    _run(tmp_path, scenario)


def test_draft_of_a_list_send_shows_the_list_by_name(tmp_path: Path) -> None:
    _write_list(tmp_path, "team", ONE, TWO)
    file_list = tmp_path / "today.csv"
    file_list.write_text(f"to\n{THREE}\n", encoding="utf-8")

    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        listed = await herald.schedule(_request("in 1h", ("@Team", "+31 6 1234 5673")))
        assert listed.send is not None
        assert listed.send.recipients == ("@team", THREE)
        assert herald.draft(listed.id).recipients == ("@team", THREE)

        read = open_file(file_list, max_rows=10)
        from_file = await herald.schedule(replace(_request("in 1h"), recipients=[read]))
        assert herald.draft(from_file.id).recipients == ("today.csv",)

        one_row = await herald.schedule(_request("in 1h", ("@team",), sender="U2"))
        assert herald.draft(one_row.id).recipients == ("@team",)  # two rows: a send

    _run(tmp_path, scenario)


def test_draft_of_what_went_out_or_never_was_is_refused(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        one = await herald.schedule(_request("in 1h"))
        every = await herald.schedule(_request(None, every="daily 09:00"))
        clock.advance(hours=1)
        assert await herald.release_due() == 1
        with pytest.raises(InputError) as went:
            herald.draft(one.id)
        assert went.value.code == "not_reschedulable" and one.id in str(went.value)
        await herald.cancel(every.id, actor="U1")
        with pytest.raises(InputError) as stopped:
            herald.draft(every.id)
        assert "cancelled" in str(stopped.value)
        with pytest.raises(MessageNotFoundError):
            herald.draft("zzzzzzzz")
        await _settle(herald)

    _run(tmp_path, scenario)


# -- replacing ---------------------------------------------------------------------


def test_replace_cancels_the_old_and_schedules_the_new_showing_both(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        old = await herald.schedule(_request("in 1h", (ONE, TWO)))
        edited = _request("in 3h", (TWO, THREE), text="Doors open at ten")
        replaced = await herald.replace(old.id, edited, actor="U1")
        assert isinstance(replaced, Replaced)
        assert replaced.old.target == old.id
        assert {m.id for m in replaced.old.messages} == {m.id for m in old.messages}
        assert all(m.status is MessageStatus.CANCELLED for m in replaced.old.messages)
        new = replaced.new
        assert new.due_at == NOW + timedelta(hours=3)
        assert [(m.recipient, m.text) for m in new.messages] == [
            (TWO, "Doors open at ten"),
            (THREE, "Doors open at ten"),
        ]
        history = herald.db.history(old.messages[0].id)
        assert history[-1].status is MessageStatus.CANCELLED
        assert history[-1].reason == f"replaced by #{new.id}"
        (waiting,) = herald.agenda("U1").sends
        assert waiting.send.id == new.id

        await _settle(herald)
        for message in old.messages:
            assert seen.statuses(message.id)[-1] is MessageStatus.CANCELLED
        for message in new.messages:
            assert seen.statuses(message.id) == [MessageStatus.SCHEDULED]

        clock.advance(hours=1)
        assert await herald.release_due() == 0  # the old time: nothing of the old goes
        clock.advance(hours=2)
        assert await herald.release_due() == 2
        await _settle(herald)

    _run(tmp_path, scenario)


def test_replace_a_schedule_with_another_rule_and_a_send_with_a_schedule(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        every = await herald.schedule(_request(None, every="daily 09:00"))
        weekly = await herald.replace(every.id, _request(None, every="monday 10:00"), actor="U1")
        assert weekly.old.schedule is not None
        assert weekly.old.schedule.state is ScheduleState.CANCELLED
        assert weekly.new.schedule is not None and weekly.new.schedule.rule == "mon 10:00"
        audit = list(herald.db.audit_trail(every.id))
        assert audit[-1]["action"] == "replace"
        assert f"replaced by #{weekly.new.id}" in audit[-1]["detail"]

        once = await herald.schedule(_request("in 1h"))
        repeating = await herald.replace(once.id, _request(None, every="daily 08:00"), actor="U1")
        assert repeating.new.schedule is not None and repeating.old.messages
        agenda = herald.agenda("U1")
        assert agenda.sends == []
        assert {s.id for s in agenda.schedules} == {weekly.new.id, repeating.new.id}

    _run(tmp_path, scenario)


def test_replace_with_bad_input_stores_nothing_and_cancels_nothing(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        old = await herald.schedule(_request("in 1h", (ONE, TWO)))
        before = _sends_of(herald)
        for bad, code in (
            (_request("in 2h", ("not a number",)), "invalid_recipient"),
            (_request("2026-12-01 11:00Z"), "when_past"),
            (_request(None, every="fortnightly"), "rule_invalid"),
        ):
            with pytest.raises(InputError) as caught:
                await herald.replace(old.id, bad, actor="U1")
            assert caught.value.code == code
        with pytest.raises(ValueError, match="time or a rule"):
            await herald.replace(old.id, _request(None), actor="U1")
        with pytest.raises(MessageNotFoundError):
            await herald.replace("zzzzzzzz", _request("in 2h"), actor="U1")
        assert _sends_of(herald) == before
        assert all(_status(herald, m.id) is MessageStatus.SCHEDULED for m in old.messages)

    _run(tmp_path, scenario)


def test_replace_after_the_old_went_out_is_refused_and_stores_nothing(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        old = await herald.schedule(_request("in 1h"))
        clock.advance(hours=1)
        assert await herald.release_due() == 1  # it went out first
        before = _sends_of(herald)
        with pytest.raises(InputError) as refused:
            await herald.replace(old.id, _request("in 2h", text="Too late"), actor="U1")
        assert refused.value.code == "not_cancellable" and refused.value.fields == ("at",)
        assert "cannot be edited" in str(refused.value)
        assert _sends_of(herald) == before
        await _settle(herald)
        assert _status(herald, old.id).past_handover

    _run(tmp_path, scenario)


def test_replace_racing_the_release_is_one_or_the_other_never_both(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        old = await herald.schedule(_request("in 1h", (ONE, TWO)))
        clock.advance(hours=1)
        released, swapped = await asyncio.gather(
            herald.release_due(),
            herald.replace(old.id, _request("in 2h", text="Edited"), actor="U1"),
            return_exceptions=True,
        )
        sends = _sends_of(herald)
        if isinstance(swapped, Replaced):
            assert released == 0 and len(sends) == 2
            assert all(_status(herald, m.id) is MessageStatus.CANCELLED for m in old.messages)
        else:
            assert isinstance(swapped, InputError) and swapped.code == "not_cancellable"
            assert released == 2 and len(sends) == 1
        await _settle(herald)

    _run(tmp_path, scenario)


def test_a_part_of_a_send_gone_out_is_not_sent_again_by_an_edit(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        old = await herald.schedule(_request("in 1h", (ONE, TWO)))
        gone = old.messages[0]
        await herald.db.set_status(gone.id, MessageStatus.QUEUED, source="herald")
        with pytest.raises(InputError) as refused:
            await herald.replace(old.id, _request("in 2h"), actor="U1")
        assert refused.value.code == "not_cancellable" and "1 of 2" in str(refused.value)
        assert _status(herald, old.messages[1].id) is MessageStatus.SCHEDULED
        assert len(_sends_of(herald)) == 1

    _run(tmp_path, scenario)


def test_the_same_request_key_replaces_once(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        old = await herald.schedule(_request("in 1h"))
        edited = _request("in 2h", text="Edited", key="view-submission-1")
        first = await herald.replace(old.id, edited, actor="U1")
        with pytest.raises(RepeatedRequestError):
            await herald.replace(old.id, edited, actor="U1")
        with pytest.raises(RepeatedRequestError):  # even aimed at the new one
            await herald.replace(first.new.id, edited, actor="U1")
        assert len(_sends_of(herald)) == 2
        assert _status(herald, first.new.id) is MessageStatus.SCHEDULED

    _run(tmp_path, scenario)


# -- sending now ---------------------------------------------------------------------


def test_send_now_sends_a_waiting_message_at_once_saying_who(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        one = await herald.schedule(_request("in 1h"))
        moved = await herald.release_now(one.id, actor="U2")
        assert moved.due_at == NOW and [m.due_at for m in moved.messages] == [NOW]
        assert await herald.release_due() == 1
        await _settle(herald)
        assert _status(herald, one.id).past_handover
        assert seen.statuses(one.id)[:2] == [MessageStatus.SCHEDULED, MessageStatus.SCHEDULED]
        actions = [(row["actor"], row["action"]) for row in herald.db.audit_trail(one.id)]
        assert ("U2", "send_now") in actions
        with pytest.raises(InputError) as twice:
            await herald.release_now(one.id, actor="U2")
        assert twice.value.code == "not_reschedulable"
        with pytest.raises(MessageNotFoundError):
            await herald.release_now("zzzzzzzz", actor="U2")

    _run(tmp_path, scenario)


def test_send_now_sends_a_whole_send_or_one_message_of_it(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        three = await herald.schedule(_request("in 1h", (ONE, TWO, THREE)))
        ahead = three.messages[0]
        await herald.release_now(ahead.id, actor="U1")
        assert await herald.release_due() == 1
        assert [_status(herald, m.id) for m in three.messages[1:]] == [MessageStatus.SCHEDULED] * 2
        assert herald.draft(three.id).due_at == NOW + timedelta(hours=1)  # the rest keep it

        moved = await herald.release_now(three.id, actor="U1")
        assert len(moved.messages) == 2
        assert await herald.release_due() == 2
        send = herald.db.send(three.id)
        assert send is not None and send.due_at == NOW
        await _settle(herald)

    _run(tmp_path, scenario)


def test_send_now_of_a_schedule_brings_its_next_occurrence_forward(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        every = await herald.schedule(_request(None, every="daily 09:00"))
        tomorrow = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
        assert every.schedule is not None and every.schedule.next_due == tomorrow

        moved = await herald.release_now(every.id, actor="U2")
        assert moved.schedule is not None
        assert moved.schedule.next_due == tomorrow + timedelta(days=1)  # not again tomorrow
        assert moved.schedule.occurrences == 1
        (message,) = moved.messages
        assert message.status is MessageStatus.SCHEDULED and message.due_at == NOW
        assert await herald.release_due() == 1
        report = herald.report(every.id)
        assert isinstance(report, ScheduleReport)
        (occurrence,) = report.occurrences
        assert occurrence.schedule_id == every.id and occurrence.recipients == (ONE,)

        clock.now = tomorrow
        assert await herald.release_due() == 0  # brought forward, not an extra one
        clock.now = tomorrow + timedelta(days=1)
        assert await herald.release_due() == 1
        await _settle(herald)

    _run(tmp_path, scenario)


def test_send_now_of_a_schedule_with_no_time_left_ends_it(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        request = replace(_request(None, every="daily 09:00"), until="2026-12-02")
        every = await herald.schedule(request)
        moved = await herald.release_now(every.id, actor="U1")
        assert moved.schedule is not None and moved.schedule.state is ScheduleState.ENDED
        with pytest.raises(InputError) as ended:
            await herald.release_now(every.id, actor="U1")
        assert "ended" in str(ended.value)
        assert await herald.release_due() == 1
        await _settle(herald)

    _run(tmp_path, scenario)


# -- recent sends ----------------------------------------------------------------------


def test_recent_sends_are_newest_first_with_their_counts(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        sent = await herald.submit(_request(None, (ONE,)))
        batch = await herald.schedule(_request("in 1h", (ONE, TWO, THREE)))
        await herald.cancel(batch.messages[1].id, actor="U1")
        await herald.schedule(_request("in 1h", sender="U2"))  # someone else's

        first, second = herald.recent_sends("U1", 10)
        assert batch.send is not None and first.send.id == batch.send.id
        assert first.counts == {MessageStatus.SCHEDULED: 2, MessageStatus.CANCELLED: 1}
        assert list(first.counts) == [MessageStatus.SCHEDULED, MessageStatus.CANCELLED]
        assert first.total == 3
        assert first.first is not None and first.first.id == batch.messages[0].id
        assert second.send.id == sent[0].send_id and second.total == 1
        assert second.counts == {MessageStatus.QUEUED: 1}
        assert [s.send.id for s in herald.recent_sends("U1", 1)] == [batch.send.id]
        assert herald.recent_sends("U3", 10) == []

    _run(tmp_path, scenario)


def test_recent_sends_of_a_sender_with_100000_messages_read_an_index(tmp_path: Path) -> None:
    at = NOW - timedelta(days=30)
    big = Send("bigsend1", "U1", "slack", "sandbox", at)
    messages = [_message(n, at) for n in range(100_000)]

    def add(tx: Transaction) -> None:
        tx.add_send(big, messages[:60_000], actor="U1", action="x")
        for n in range(400):
            small = Send(new_message_id(), "U1", "slack", "sandbox", at + timedelta(minutes=n))
            tx.add_send(
                small, messages[60_000 + n * 100 : 60_100 + n * 100], actor="U1", action="x"
            )

    async def fill() -> None:
        store = Store(tmp_path / "herald.db")
        try:
            await store.write(add)
        finally:
            store.close()

    asyncio.run(fill())

    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        everything = herald.recent_sends("U1", 500)
        assert len(everything) == 401 and everything[-1].send.id == "bigsend1"
        assert everything[-1].total == 60_000 and everything[0].total == 100
        assert sum(s.total for s in everything) == 100_000
        plan = herald.db.db.execute(
            "EXPLAIN QUERY PLAN SELECT send_id, status, COUNT(*), MIN(rowid) FROM messages "
            "WHERE send_id IN (?) GROUP BY send_id, status",
            ["bigsend1"],
        ).fetchall()
        assert "COVERING INDEX" in " ".join(str(row[-1]) for row in plan)

    _run(tmp_path, scenario)


def _message(n: int, at: datetime) -> Message:
    return Message(
        id=f"m{n:07d}",
        connection="sandbox",
        channel=Channel.SMS,
        recipient=f"+316{n:08d}",
        text="Hi",
        sender="U1",
        origin="slack",
        status=MessageStatus.DELIVERED if n % 3 else MessageStatus.FAILED,
        created_at=at,
        updated_at=at,
    )


# -- watching ------------------------------------------------------------------------


def test_watchers_hear_the_sender_of_every_change_and_never_break_herald(tmp_path: Path) -> None:
    async def scenario(herald: Herald, clock: Clock, seen: Recorder) -> None:
        heard: list[str] = []

        def broken(sender: str) -> None:
            raise RuntimeError("a watcher that fails")

        herald.watch(broken)
        stop = herald.watch(heard.append)

        async def hears(sender: str) -> None:
            deadline = asyncio.get_running_loop().time() + 10
            while sender not in heard:
                assert asyncio.get_running_loop().time() < deadline, heard
                await asyncio.sleep(0.01)
            heard.clear()

        every = await herald.schedule(_request(None, every="daily 09:00", sender="U7"))
        await hears("U7")  # a schedule: no message to announce, still heard
        await herald.cancel(every.id, actor="U7")
        await hears("U7")
        one = await herald.schedule(_request("in 1h", sender="U8"))
        await hears("U8")
        await herald.release_now(one.id, actor="U8")
        await hears("U8")
        await herald.release_due()
        await hears("U8")  # queued, then delivery's changes
        await _settle(herald)
        other = await herald.schedule(_request("in 2h", sender="U9"))
        await hears("U9")
        await herald.replace(other.id, _request("in 3h", sender="U9"), actor="U9")
        await hears("U9")

        stop()
        await herald.schedule(_request(None, every="daily 09:00", sender="U10"))
        for _ in range(3):  # the watchers are told on a later turn of the loop: give it turns
            await asyncio.sleep(0)
        assert heard == []

    _run(tmp_path, scenario)


# -- storage ---------------------------------------------------------------------------


def test_sends_stored_before_recipients_were_kept_read_as_none(tmp_path: Path) -> None:
    path = tmp_path / "herald.db"
    with closing(sqlite3.connect(path)) as conn:
        migrations.apply(Database(conn), stop_before="add_send_recipients")
        conn.execute(
            "INSERT INTO sends (id, sender, origin, connection, created_at) "
            "VALUES ('oldsend1', 'U1', 'slack', 'sandbox', '2026-11-01T12:00:00.000+00:00')"
        )
        conn.commit()
    store = Store(path)
    try:
        old = store.send("oldsend1")
    finally:
        store.close()
    assert old is not None and old.recipients is None
