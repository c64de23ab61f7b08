"""Scheduling from Slack, end to end: signed slash commands and button clicks through the
real server to the sandbox, and what the sender sees — the private answer, the receipt
that waits with a Cancel button and is edited in place when the message goes out."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.errors import InputError
from bot.models import Message, MessageStatus, Schedule, ScheduleState, Send
from bot.options import phrase
from bot.scheduling.plans import Agenda, AgendaSend
from bot.services import Herald
from bot.slack import blocks, grammar, ids
from providers import Channel
from tests.conftest import RunningHerald
from tests.fakes.slack_api import FakeSlack, Posted

ALICE = "U2147483697"  # the sender of `RunningHerald.slash`
BOB = "U0BOB00001"
NEW_YORK = "America/New_York"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def alice_in_new_york(running: RunningHerald) -> RunningHerald:
    running.slack.users[ALICE] = {"id": ALICE, "name": "alice", "tz": NEW_YORK}
    running.slack.users[BOB] = {"id": BOB, "name": "bob", "tz": "Europe/Amsterdam"}
    return running


def _id_in(text: str) -> str:
    found = re.search(r"#([a-z0-9]{8})", text)
    assert found, text
    return found.group(1)


def _schedule(running: RunningHerald, text: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    """Send ``text`` as a slash command that schedules; the id it answered and the answer."""
    answer = running.slash(text, **fields)
    assert answer.status_code == 200
    body = answer.json()
    assert body["response_type"] == "ephemeral"
    assert ":warning:" not in body["text"], body["text"]
    return _id_in(body["text"]), body


def _receipt(slack: FakeSlack, message_id: str, word: str, timeout: float = 5.0) -> Posted:
    """The receipt of ``message_id`` once its fallback text starts with ``word``."""
    return slack.wait_for(  # type: ignore[no-any-return]
        lambda s: next(
            (r for r in s.receipts() if f"#{message_id}" in r.text and r.text.startswith(word)),
            None,
        ),
        timeout=timeout,
    )


def _rows(running: RunningHerald, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(running.settings.db_path) as db:
        return db.execute(sql, args).fetchall()


def _due_at(running: RunningHerald, message_id: str) -> datetime:
    (due,) = _rows(running, "SELECT due_at FROM messages WHERE id = ?", message_id)[0]
    return datetime.fromisoformat(due).astimezone(UTC)


def _outbox(running: RunningHerald) -> list[Any]:
    return list(running.herald.providers["sandbox"].outbox)  # type: ignore[attr-defined]


def _button(receipt: Posted) -> dict[str, Any]:
    actions = [b for b in receipt.blocks if b["type"] == "actions"]
    assert len(actions) == 1, receipt.blocks
    edit, button = actions[0]["elements"]
    assert edit["action_id"] == ids.EDIT_ACTION and edit["value"] == button["value"]
    return {**button, "block_id": actions[0]["block_id"]}


def _click(
    running: RunningHerald, receipt: Posted, button: dict[str, Any], user: str = ALICE
) -> int:
    """Click ``button`` of ``receipt`` as Slack sends it (a signed ``block_actions``)."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "alice", "name": "alice", "team_id": "T111"},
        "api_app_id": "A111",
        "token": "legacy",
        "trigger_id": f"{time.time_ns()}.1.abc",
        "team": {"id": "T111", "domain": "acme"},
        "container": {
            "type": "message",
            "message_ts": receipt.ts,
            "channel_id": receipt.channel,
            "is_ephemeral": False,
        },
        "channel": {"id": receipt.channel, "name": "support"},
        "message": {"type": "message", "ts": receipt.ts, "text": receipt.text, "blocks": []},
        "state": {"values": {}},
        "response_url": running.slack.response_url,
        "actions": [
            {
                "type": "button",
                "action_id": button["action_id"],
                "block_id": button["block_id"],
                "value": button["value"],
                "text": button["text"],
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return running.post_signed(body, FORM).status_code


# -- sending later, end to end ------------------------------------------------------


def test_a_send_in_2s_waits_with_a_cancel_button_then_its_receipt_goes_out_in_place(
    alice_in_new_york: RunningHerald,
) -> None:
    running = alice_in_new_york
    message_id, answer = _schedule(running, "sandbox +31612345678 Doors open --at in 2s")

    text = answer["text"]
    assert f"Scheduled *#{message_id}* for <!date^" in text
    assert "(in 2 seconds)" in text and f"`/send cancel {message_id}`" in text
    assert re.search(
        r"\|[A-Z][a-z]{2} \d+ [A-Z][a-z]{2} \d{4} \d\d:\d\d E[SD]T>", text
    )  # her clock
    waiting = _receipt(running.slack, message_id, "scheduled")
    assert "Goes out <!date^" in str(waiting.blocks)
    button = _button(waiting)
    assert (button["action_id"], button["value"]) == (ids.CANCEL_ACTION, message_id)
    assert button["confirm"]["confirm"]["text"] == "Cancel it"
    assert _outbox(running) == []

    gone = _receipt(running.slack, message_id, "delivered", timeout=10)

    assert gone.ts == waiting.ts  # the same Slack message, edited
    assert gone.edits[0]["text"].startswith("scheduled ")
    assert not [b for b in gone.blocks if b["type"] == "actions"]  # no Cancel any more
    assert "Doors open" in str(gone.blocks) and "Scheduled for <!date^" in str(gone.blocks)
    assert len(running.slack.calls_to("chat.postMessage")) == 1
    assert [m.reference for m in _outbox(running)] == [message_id]


def test_a_local_time_is_read_in_the_senders_slack_zone(alice_in_new_york: RunningHerald) -> None:
    running = alice_in_new_york
    zone = ZoneInfo(NEW_YORK)
    day = (datetime.now(zone) + timedelta(days=2)).date()

    message_id, answer = _schedule(running, f"sandbox +31612345678 Hi --at {day} 09:00")
    again, _ = _schedule(running, "sandbox +31612345678 Hi --at tomorrow 9am")

    assert _due_at(running, message_id) == datetime(
        day.year, day.month, day.day, 9, tzinfo=zone
    ).astimezone(UTC)
    tomorrow = (datetime.now(zone) + timedelta(days=1)).date()
    assert _due_at(running, again) == datetime.combine(
        tomorrow, datetime.min.time().replace(hour=9), zone
    ).astimezone(UTC)
    assert f"{day.day} " in answer["text"] and " 09:00 E" in answer["text"]
    assert len(running.slack.calls_to("users.info")) == 1  # the zone is remembered


def test_without_a_slack_zone_times_are_read_in_heralds_and_the_answer_says_so(
    running: RunningHerald,
) -> None:
    running.slack.users[ALICE] = {"id": ALICE, "name": "alice"}  # no tz

    message_id, answer = _schedule(running, "sandbox +31612345678 Hi --at in 1h")

    zone = running.settings.scheduling.zone().key
    assert f"times were read in {zone}" in answer["text"]
    assert _due_at(running, message_id) > datetime.now(UTC) + timedelta(minutes=59)


def test_a_slow_slack_zone_lookup_still_answers_within_three_seconds(
    running: RunningHerald,
) -> None:
    running.slack.users[ALICE] = {"id": ALICE, "name": "alice", "tz": NEW_YORK}
    running.slack.delays["users.info"] = 2.5

    _, answer = _schedule(running, "sandbox +31612345678 Hi --at in 1h")

    # Slack took 2.5 s to say the zone: Herald stopped asking and said whose zone it used
    assert "Slack did not say your time zone" in answer["text"]


@pytest.mark.parametrize(
    ("when", "said"),
    [
        ("2020-01-01 09:00", "--at: that time was"),
        ("in 500d", "at most 400 days ahead"),
        ("tomorow 9am", "--at: cannot read 'tomorow 9am' as a time"),
    ],
)
def test_past_far_and_unreadable_times_are_refused_naming_at(
    alice_in_new_york: RunningHerald, when: str, said: str
) -> None:
    body = alice_in_new_york.slash(f"sandbox +31612345678 Hi --at {when}").json()

    assert body["response_type"] == "ephemeral"
    assert body["text"].startswith(":warning: --at: ") and said in body["text"]
    assert "Nothing was sent" in body["text"]
    assert _rows(alice_in_new_york, "SELECT count(*) FROM messages") == [(0,)]
    assert alice_in_new_york.slack.calls_to("chat.postMessage") == []


def test_text_after_a_time_is_an_error_that_says_where_the_text_goes(
    alice_in_new_york: RunningHerald,
) -> None:
    body = alice_in_new_york.slash("sandbox +31612345678 --at tomorrow 9am Doors open").json()

    assert "--at: cannot read 'tomorrow 9am Doors open' as a time" in body["text"]
    assert "write the message first, or quote the value" in body["text"]
    assert _rows(alice_in_new_york, "SELECT count(*) FROM messages") == [(0,)]


def test_until_without_every_names_both_options(alice_in_new_york: RunningHerald) -> None:
    body = alice_in_new_york.slash("sandbox +31612345678 Hi --at in 1h --until 2030-01-01").json()

    assert "--until ends a repeating send: add --every RULE too" in body["text"]


# -- cancelling ---------------------------------------------------------------------


def test_cancel_by_command_edits_the_receipt_and_nothing_is_sent(
    alice_in_new_york: RunningHerald,
) -> None:
    running = alice_in_new_york
    message_id, _ = _schedule(running, "sandbox +31612345678 Hi --at in 1h")
    waiting = _receipt(running.slack, message_id, "scheduled")

    answer = running.slash(f"cancel #{message_id}").json()
    twice = running.slash(f"cancel {message_id}").json()

    assert answer["text"] == (
        f":no_entry_sign: Cancelled *#{message_id}*: it will not go out. Its receipt says so."
    )
    cancelled = _receipt(running.slack, message_id, "cancelled")
    assert cancelled.ts == waiting.ts
    assert "Cancelled before its time" in str(cancelled.blocks)
    assert not [b for b in cancelled.blocks if b["type"] == "actions"]
    assert f"#{message_id} is cancelled already, so it cannot be cancelled" in twice["text"]
    assert "Nothing was sent" not in twice["text"]
    assert _outbox(running) == []


def test_a_cancel_or_move_by_another_process_shows_in_the_slack_receipt(
    alice_in_new_york: RunningHerald,
) -> None:
    running = alice_in_new_york
    moved_id, _ = _schedule(running, "sandbox +31612345678 Hi --at in 1h")
    cancelled_id, _ = _schedule(running, "sandbox +31612345679 Hi --at in 1h")
    waiting = _receipt(running.slack, cancelled_id, "scheduled")
    before = _receipt(running.slack, moved_id, "scheduled")
    first_text = before.text  # the fake edits its record of the message in place

    async def elsewhere() -> None:  # as `herald jobs …` beside the server
        cli = Herald(running.settings)
        await cli.start()
        try:
            await cli.cancel(cancelled_id, actor="cli:ops")
            await cli.reschedule(moved_id, "in 3h", actor="cli:ops", timezone="UTC")
        finally:
            await cli.stop()

    asyncio.run(elsewhere())

    cancelled = _receipt(running.slack, cancelled_id, "cancelled")
    assert cancelled.ts == waiting.ts
    moved = running.slack.wait_for(
        lambda s: next(
            (r for r in s.receipts() if f"#{moved_id}" in r.text and r.text != first_text), None
        )
    )
    assert moved.ts == before.ts and moved.text.startswith("scheduled")


def test_the_cancel_button_cancels_and_a_second_click_is_told_why_not(
    alice_in_new_york: RunningHerald,
) -> None:
    running = alice_in_new_york
    message_id, _ = _schedule(running, "sandbox +31612345678 Hi --at in 1h")
    waiting = _receipt(running.slack, message_id, "scheduled")
    button = _button(waiting)  # as Bob's Slack still shows it

    assert _click(running, waiting, button) == 200
    cancelled = _receipt(running.slack, message_id, "cancelled")
    assert _click(running, waiting, button, user=BOB) == 200
    told = running.slack.wait_for(lambda s: s.responses)

    assert cancelled.ts == waiting.ts
    assert told[0]["response_type"] == "ephemeral" and told[0]["replace_original"] is False
    assert (
        told[0]["text"]
        == f":warning: #{message_id} is cancelled already, so it cannot be cancelled."
    )
    audit = _rows(running, "SELECT actor, action FROM audit WHERE action = 'cancel'")
    assert audit == [(ALICE, "cancel")]
    assert _outbox(running) == []


def test_cancel_of_an_unknown_id_says_where_ids_come_from(running: RunningHerald) -> None:
    body = running.slash("cancel zzzzzzzz").json()

    assert "There is no message, send or schedule #zzzzzzzz" in body["text"]


# -- moving -------------------------------------------------------------------------


def test_reschedule_moves_the_receipt_and_the_message_goes_at_the_new_time(
    alice_in_new_york: RunningHerald,
) -> None:
    running = alice_in_new_york
    message_id, _ = _schedule(running, "sandbox +31612345678 Hi --at in 3h")
    waiting = _receipt(running.slack, message_id, "scheduled")
    before = _due_at(running, message_id)

    answer = running.slash(f"reschedule {message_id} in 2s").json()

    assert answer["text"].startswith(f":clock3: *#{message_id}* now goes out <!date^")
    assert "(in 2 seconds)" in answer["text"]
    moved = _due_at(running, message_id)
    assert moved < before - timedelta(hours=2)
    token = f"<!date^{int(moved.timestamp())}^"
    running.slack.wait_for(lambda s: token in str(s.messages[(waiting.channel, waiting.ts)].blocks))
    gone = _receipt(running.slack, message_id, "delivered", timeout=10)
    assert gone.ts == waiting.ts


def test_reschedule_to_the_past_names_no_option(alice_in_new_york: RunningHerald) -> None:
    message_id, _ = _schedule(alice_in_new_york, "sandbox +31612345678 Hi --at in 1h")

    body = alice_in_new_york.slash(f"reschedule {message_id} 2020-01-01 09:00").json()

    assert body["text"].startswith(":warning: That time was ")


# -- listing ------------------------------------------------------------------------


def test_list_shows_yours_and_list_all_everyones(alice_in_new_york: RunningHerald) -> None:
    running = alice_in_new_york
    mine, _ = _schedule(running, "sandbox +31612345678 Doors open --at in 2h")
    schedule_id, _ = _schedule(running, "sandbox +31612345678 Standup --every weekdays 09:00")
    theirs, _ = _schedule(running, "sandbox +4915112345678 Bob's --at in 3h", user_id=BOB)

    own = running.slash("list").json()
    everyone = running.slash("list --all").json()
    carol = running.slash("list", user_id="U0CAROL001").json()

    shown = str(own["blocks"])
    assert f"*#{mine}*" in shown and f"*#{schedule_id}*" in shown and theirs not in shown
    assert "every weekday at 09:00" in shown and "“Doors open”" in shown
    assert "+316•••••678" in shown and "+31612345678" not in shown
    assert "1 more by other people: `/send list --all`" in shown
    everything = str(everyone["blocks"])
    assert all(f"*#{i}*" in everything for i in (mine, schedule_id, theirs))
    assert f"by <@{BOB}>" in everything
    assert carol["text"] == (
        "You have nothing scheduled. 3 scheduled sends of other people: "
        "`/send list --all` shows them."
    )


def test_a_long_list_stays_within_slacks_limits() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    waiting = []
    for n in range(300):
        message = Message(
            id=f"m{n:07d}",
            connection="sandbox",
            channel=Channel.SMS,
            recipient="+31612345678",
            text="x" * 500,
            sender="U1",
            origin="slack",
            status=MessageStatus.SCHEDULED,
            created_at=now,
            updated_at=now,
            send_id=f"s{n:07d}",
            due_at=now + timedelta(minutes=n + 1),
        )
        send = Send(f"s{n:07d}", "U1", "slack", "sandbox", now, text="x" * 500)
        waiting.append(AgendaSend(send, [message]))
    schedules = [
        Schedule(
            id=f"r{n:07d}",
            sender="U1",
            origin="slack",
            connection="sandbox",
            recipients=("+31612345678",),
            rule="weekdays 09:00",
            timezone=NEW_YORK,
            state=ScheduleState.ACTIVE,
            created_at=now,
            updated_at=now,
            next_due=now + timedelta(days=1),
            text="y" * 500,
        )
        for n in range(300)
    ]

    text, shown = blocks.agenda_view(
        Agenda(waiting, schedules), "/send", everyone=True, mask=True, now=now
    )

    assert len(shown) <= 50
    sections = [b["text"]["text"] for b in shown if b["type"] == "section"]
    assert all(len(s) <= blocks.SECTION_LIMIT for s in sections)
    assert sum(len(s) for s in sections) < 12_000
    assert any(re.search(r"… and \d+ more\.$", s) for s in sections)
    assert text == "600 scheduled sends (everyone's)"


# -- repeating ----------------------------------------------------------------------


def test_a_repeating_send_sends_an_occurrence_with_its_own_receipt_and_moves_on(
    alice_in_new_york: RunningHerald,
) -> None:
    # The nearest rule is every minute; its next time is moved to two seconds from now
    # with `reschedule`, as a user would, rather than waiting up to a minute.
    running = alice_in_new_york
    schedule_id, answer = _schedule(running, "sandbox +31612345678 Standup --every * * * * *")
    assert answer["text"].startswith(f":repeat: Repeating send *#{schedule_id}*: ")
    assert f"({NEW_YORK})" in answer["text"]

    moved = running.slash(f"reschedule {schedule_id} in 2s").json()
    assert moved["text"].startswith(f":repeat: The next time of repeating send *#{schedule_id}*")

    receipt = running.slack.wait_for(
        lambda s: next((r for r in s.receipts() if r.text.startswith("delivered")), None),
        timeout=10,
    )
    occurrence = _id_in(receipt.text)
    assert "Standup" in str(receipt.blocks)
    ((next_due, count),) = _rows(
        running, "SELECT next_due, occurrences FROM schedules WHERE id = ?", schedule_id
    )
    assert count == 1
    assert datetime.fromisoformat(next_due).astimezone(UTC) > datetime.now(UTC)
    status = running.slash(f"status {schedule_id}").json()
    shown = str(status["blocks"])
    assert "*State:* active" in shown and NEW_YORK in shown
    (send_id,) = _rows(running, "SELECT send_id FROM messages WHERE id = ?", occurrence)[0]
    assert f"*#{send_id}*" in shown and "1 delivered" in shown

    stopped = running.slash(f"cancel {schedule_id}").json()
    assert "is cancelled: nothing more goes out" in stopped["text"]
    assert running.slash("list").json()["text"] == "You have nothing scheduled."


# -- the grammar ----------------------------------------------------------------------

_WORD = st.text(
    st.characters(whitelist_categories=("L", "N"), whitelist_characters=".,!?'"),
    min_size=1,
    max_size=12,
).filter(lambda w: w[0].isalnum())
_TEXT = st.lists(_WORD, min_size=1, max_size=8).map(" ".join)
_WHEN = st.sampled_from(
    ["in 2h", "tomorrow 9am", "2026-12-01 09:00", "monday 09:00", "in 90s", "dec 24 18:00"]
)
_RULE = st.sampled_from(["weekdays 09:00", "mon,thu 09:00", "0 9 * * 1-5", "monthly 1 09:00"])


@settings(max_examples=200, deadline=None)
@given(text=_TEXT, when=_WHEN, rule=_RULE)
@example(text="Running late", when="in 2h", rule="daily 09:00")
def test_the_text_before_the_options_is_the_message_and_each_value_runs_to_the_next(
    text: str, when: str, rule: str
) -> None:
    parsed = grammar.parse(f"sandbox +31612345678 {text} --at {when} --every {rule}")

    assert isinstance(parsed, grammar.QuickSend)
    assert (parsed.text, parsed.at, parsed.every) == (text, when, rule)


@settings(max_examples=200, deadline=None)
@given(text=_TEXT, when=_WHEN)
def test_a_quoted_time_may_be_followed_by_the_message(text: str, when: str) -> None:
    for quoted in (f'"{when}"', f"“{when}”", f"'{when}'"):
        parsed = grammar.parse(f"sandbox +31612345678 --at {quoted} {text}")

        assert isinstance(parsed, grammar.QuickSend)
        assert (parsed.text, parsed.at) == (text, when)


@settings(max_examples=200, deadline=None)
@given(text=_TEXT, when=_WHEN)
def test_words_after_an_unquoted_time_never_become_message_text(text: str, when: str) -> None:
    # A typo in the time ("tomorow") must not leave "tomorow 9am Doors open" half time,
    # half message: the whole run is the time, and reading it fails naming --at.
    parsed = grammar.parse(f"sandbox +31612345678 --at {when} {text}")

    assert isinstance(parsed, grammar.QuickSend)
    assert (parsed.text, parsed.at) == ("", f"{when} {text}")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("list", grammar.ListScheduled()),
        ("list --all", grammar.ListScheduled(everyone=True)),
        ("LIST --ALL", grammar.ListScheduled(everyone=True)),
        ("cancel #k3x9p2ab", grammar.Cancel("#k3x9p2ab")),
        ("reschedule k3x9p2ab tomorrow 9am", grammar.Reschedule("k3x9p2ab", "tomorrow 9am")),
        ("reschedule k3x9p2ab in 2h", grammar.Reschedule("k3x9p2ab", "in 2h")),
        ("status s7h2k9pq", grammar.Status("s7h2k9pq")),
    ],
)
def test_the_scheduling_subcommands(typed: str, expected: grammar.Command) -> None:
    assert grammar.parse(typed) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("sandbox +31612345678 Hi --at=in 2h", {"at": "in 2h", "text": "Hi"}),
        ('sandbox +31612345678 --at="in 2h" Hi', {"at": "in 2h", "text": "Hi"}),
        (
            'sandbox +31612345678 Hi --every "0 9 * * 1-5" --until 2026-12-31',
            {"every": "0 9 * * 1-5", "until": "2026-12-31", "text": "Hi"},
        ),
        (
            "sandbox +31612345678 --template order_delayed --at tomorrow 9am --var order=A-1",
            {"at": "tomorrow 9am", "template": "order_delayed", "text": ""},
        ),
        (
            'sandbox +31612345678 Type "--at" to schedule',
            {"at": None, "text": 'Type "--at" to schedule'},
        ),
    ],
)
def test_scheduling_options_as_typed(typed: str, expected: dict[str, Any]) -> None:
    parsed = grammar.parse(typed)

    assert isinstance(parsed, grammar.QuickSend)
    assert {key: getattr(parsed, key) for key in expected} == expected


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("sandbox +31612345678 Hi --at --every daily 09:00", "--at needs a value."),
        ("sandbox +31612345678 Hi --every", "--every needs a value."),
        ("reschedule k3x9p2ab", "Give the id and the new time: `reschedule ID WHEN`"),
        ("list mine", "`list --all` shows everyone's"),
        ("cancel", "Give one id: `cancel ID`"),
    ],
)
def test_scheduling_mistakes_say_what_to_fix(typed: str, said: str) -> None:
    with pytest.raises(InputError) as caught:
        grammar.parse(typed)

    assert said in phrase(caught.value)


def test_sub_commands_are_not_sends() -> None:
    for typed in ("list --all", "cancel x", "reschedule x in 2h", "status x"):
        assert not grammar.is_send({"text": typed})
    assert grammar.is_send({"text": "sandbox +31612345678 Hi --at in 2h"})


# -- receipts -----------------------------------------------------------------------


def _message(**changes: Any) -> Message:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    fields: dict[str, Any] = {
        "id": "k3x9p2ab",
        "connection": "sandbox",
        "channel": Channel.SMS,
        "recipient": "+31612345678",
        "text": "Doors open",
        "sender": ALICE,
        "origin": "slack",
        "status": MessageStatus.DELIVERED,
        "created_at": now,
        "updated_at": now,
        "due_at": now - timedelta(minutes=20),
        **changes,
    }
    return Message(**fields)


def test_a_receipt_that_went_out_late_says_by_how_much_and_why() -> None:
    receipt = blocks.receipt_blocks(_message(late_by=12 * 60.0), mask=True)

    assert "Went out late, 12 minutes after its time" in str(receipt)
    assert "Herald was not running then" in str(receipt)


def test_a_missed_message_reads_as_missed() -> None:
    missed = _message(
        status=MessageStatus.FAILED,
        late_by=3 * 3600.0,
        error="missed: it was due 3 hours ago (2026-12-01 09:00 UTC) while Herald was not "
        "running, more than the 1 hour allowed (scheduling.missed_grace). It was not sent; "
        "send it again if it still matters.",
    )

    text = blocks.receipt_text(missed, mask=True)
    shown = str(blocks.receipt_blocks(missed, mask=True))
    reply = blocks.failure_reply_text(missed, mask=True)

    assert text.startswith("failed · #k3x9p2ab") and "missed" in text
    assert "*Missed*" in shown and ":warning: Missed: it was due 3 hours ago" in shown
    assert "Went out late" not in shown
    assert "was missed: it was due 3 hours ago" in reply


def test_help_documents_scheduling() -> None:
    text = blocks.help_text("/send", {})

    assert "Coming soon" not in text
    for typed in ("--at WHEN", "--every RULE", "--until DATE", "/send list", "/send cancel ID"):
        assert typed in text
    assert "/send reschedule ID WHEN" in text
