"""App Home, end to end: published on ``app_home_opened``, republished (coalesced) when
the viewer's sends change, and its **Send now** and **Cancel** buttons clicked as Slack
sends the clicks — signed ``block_actions`` from a Home view, with no ``response_url`` —
through the real server to the sandbox. Plus the view itself, within Slack's limits."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.models import Message, MessageStatus, Schedule, ScheduleState, Send
from bot.scheduling.plans import Agenda, AgendaSend
from bot.slack import blocks, ids
from bot.slack.home import PUBLISH_EVERY
from providers import Channel
from tests.conftest import RunningHerald
from tests.fakes.slack_api import HUMAN_USER, FakeSlack
from tests.fakes.slack_views import view_problems
from tests.interactivity import Form, app_home_opened_body, block_actions_body

ALICE = HUMAN_USER  # the sender of `RunningHerald.slash`
BOB = "U0BOB00001"
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


# -- helpers ------------------------------------------------------------------------


def _open_home(running: RunningHerald, user: str = ALICE, *, tab: str = "home") -> None:
    answer = running.event(app_home_opened_body(running.slack, user, tab=tab))
    assert answer.status_code == 200


def _publishes(slack: FakeSlack, user: str = ALICE) -> list[dict[str, Any]]:
    return [c.args["view"] for c in slack.calls_to("views.publish") if c.args["user_id"] == user]


def _wait_home(
    running: RunningHerald, predicate: Any, user: str = ALICE, timeout: float = 5.0
) -> dict[str, Any]:
    """The latest Home published for ``user`` once ``predicate(text of the view)`` holds."""

    def latest(slack: FakeSlack) -> dict[str, Any] | None:
        views = _publishes(slack, user)
        return views[-1] if views and predicate(_text(views[-1])) else None

    running.slack.wait_for(latest, timeout=timeout)
    home = running.slack.home_of(user)
    assert home is not None
    return home


def _id_in(text: str) -> str:
    found = re.search(r"#([a-z0-9]{8})", text)
    assert found, text
    return found.group(1)


def _slash(running: RunningHerald, text: str) -> str:
    """Run ``text`` as the slash command; the ``#ID`` it answered with."""
    answer = running.slash(text)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert ":warning:" not in body["text"], body["text"]
    return _id_in(body["text"])


def _send(running: RunningHerald, text: str) -> str:
    """Send ``text`` now as the slash command; the ``#ID`` of its receipt once delivered."""
    assert running.slash(text).status_code == 200
    receipt = running.slack.wait_for(
        lambda s: next((r for r in s.receipts() if r.text.startswith("delivered")), None)
    )
    return _id_in(receipt.text)


def _click(running: RunningHerald, label: str, value: str, user: str = ALICE) -> None:
    """Press the button ``label`` of item ``value`` in ``user``'s Home as Slack holds it."""
    home = running.slack.home_of(user)
    assert home is not None
    form = Form(home)
    value = _buttons(home, value)[_ACTION_OF[label]]["value"]  # Send now's carries the time
    answer = running.interact(
        block_actions_body(running.slack, form, form.action(label, value=value))
    )
    assert answer.status_code == 200
    assert answer.text == ""  # acked at once; the outcome shows in Home


def _outbox(running: RunningHerald) -> list[Any]:
    return list(running.herald.providers["sandbox"].outbox)  # type: ignore[attr-defined]


_ACTION_OF = {
    "Send now": ids.SEND_NOW_ACTION,
    "Edit": ids.EDIT_ACTION,
    "Cancel": ids.CANCEL_ACTION,
}


def _buttons(home: dict[str, Any], item_id: str) -> dict[str, dict[str, Any]]:
    """The buttons of ``item_id`` (a schedule's Send now value is ``ID@MILLISECONDS``)."""
    return {
        e["action_id"]: e
        for b in home["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if str(e.get("value")).partition("@")[0] == item_id
    }


def _text(home: dict[str, Any]) -> str:
    return json.dumps(home["blocks"], ensure_ascii=False)


# -- the view -----------------------------------------------------------------------


def _message(number: int, **extra: Any) -> Message:
    fields: dict[str, Any] = {
        "id": f"msg{number:05d}",
        "connection": "sandbox",
        "channel": Channel.SMS,
        "recipient": f"+316123{number:05d}",
        "text": "Hello <b>&",
        "sender": ALICE,
        "origin": "slack",
        "status": MessageStatus.SCHEDULED,
        "created_at": NOW,
        "updated_at": NOW,
        "send_id": f"snd{number:05d}",
        "due_at": NOW + timedelta(hours=number + 1),
        **extra,
    }
    return Message(**fields)


def _waiting(number: int, **extra: Any) -> AgendaSend:
    message = _message(number, **extra)
    send = Send(
        id=f"snd{number:05d}",
        sender=ALICE,
        origin="slack",
        connection="sandbox",
        created_at=NOW,
        text=message.text,
        template=message.template,
        due_at=message.due_at,
        timezone="Europe/Amsterdam",
    )
    return AgendaSend(send, [message])


def _view(agenda: Agenda, recent: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    return blocks.home_view(
        agenda,
        recent or [],
        command="/send",
        channels={"sandbox": Channel.SMS},
        mask=True,
        **extra,
    )


def test_home_view_when_empty_teaches_the_first_step() -> None:
    view = _view(Agenda([], []))

    assert view_problems(view, "home") == []
    (compose,) = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert (compose["action_id"], compose["value"], compose["style"]) == (
        ids.COMPOSE_ACTION,
        "home",
        "primary",
    )
    text = _text(view)
    assert "Nothing scheduled" in text and "/send sandbox +31612345678 Hello --at" in text
    assert "Nothing sent yet" in text


def test_home_view_caps_long_lists_within_slacks_limits() -> None:
    agenda = Agenda([_waiting(n) for n in range(60)], [])

    view = _view(agenda)

    assert view_problems(view, "home") == []
    assert len(view["blocks"]) <= 100
    shown = [b for b in view["blocks"] if b["type"] == "actions" and len(b["elements"]) == 3]
    assert len(shown) == blocks.home.SCHEDULED_LIMIT
    assert "… and 40 more scheduled: `/send list` shows them all." in _text(view)


def test_home_view_escapes_and_masks_what_users_typed() -> None:
    agenda = Agenda([_waiting(1)], [])

    text = _text(_view(agenda))

    assert "Hello &lt;b&gt;&amp;" in text and "<b>" not in text
    assert "+31612300001" not in text and "`+316•••••001`" in text


def test_home_view_shows_a_notice_first() -> None:
    view = _view(Agenda([], []), notice=":warning: Could not cancel *#abc*: gone")

    assert view["blocks"][1]["text"]["text"] == ":warning: Could not cancel *#abc*: gone"


def test_home_view_shows_a_schedules_rule_and_next_time() -> None:
    schedule = Schedule(
        id="sch00001",
        sender=ALICE,
        origin="slack",
        connection="sandbox",
        recipients=("@customers",),
        rule="weekdays 09:00",
        timezone="Europe/Amsterdam",
        state=ScheduleState.ACTIVE,
        created_at=NOW,
        updated_at=NOW,
        next_due=NOW + timedelta(days=1),
        template="team_announcement",
    )

    view = _view(Agenda([], [schedule]))

    text = _text(view)
    assert ":repeat: *#sch00001* · repeats every weekday at 09:00" in text
    assert f"next <!date^{int(schedule.next_due.timestamp())}^" in text  # type: ignore[union-attr]
    assert "SMS to `@customers` via *sandbox*" in text
    assert "Template `team_announcement`" in text
    assert set(_buttons(view, "sch00001")) == {
        ids.SEND_NOW_ACTION,
        ids.EDIT_ACTION,
        ids.CANCEL_ACTION,
    }


# -- end to end ---------------------------------------------------------------------


def test_home_is_published_when_opened_with_compose_and_empty_state(
    running: RunningHerald,
) -> None:
    _open_home(running)

    home = _wait_home(running, lambda _: True)

    assert Form(home).find("Compose").element["value"] == "home"
    assert "Nothing scheduled" in _text(home) and "Nothing sent yet" in _text(home)


def test_home_shows_scheduled_sends_schedules_and_recent_sends(running: RunningHerald) -> None:
    waiting = _slash(
        running,
        "sandbox +31612345678 --template order_delayed --var name=Jo --var order=A-1 "
        "--var new_date=2026-12-01 --at in 2h",
    )
    repeating = _slash(running, 'sandbox +31687654321 Standup soon --every "weekdays 09:00"')
    sent = _send(running, "sandbox +31611112222 Running late")

    _open_home(running)
    home = _wait_home(running, lambda text: f"#{sent}" in text and "delivered" in text)

    text = _text(home)
    assert f"*#{waiting}* · goes out <!date^" in text
    assert "`+316•••••678`" in text and "+31612345678" not in text
    assert "Template `order_delayed`" in text
    assert f":repeat: *#{repeating}* · repeats every weekday at 09:00 · next <!date^" in text
    assert f":white_check_mark: *delivered* · *#{sent}* · SMS to `+316•••••222`" in text
    for item in (waiting, repeating):
        assert set(_buttons(home, item)) == {
            ids.SEND_NOW_ACTION,
            ids.EDIT_ACTION,
            ids.CANCEL_ACTION,
        }
        assert _buttons(home, item)[ids.CANCEL_ACTION]["confirm"]
        assert _buttons(home, item)[ids.SEND_NOW_ACTION]["confirm"]
    assert f"#{sent}" not in json.dumps(_buttons(home, sent))  # no buttons on what went out


def test_send_now_from_home_sends_it_and_republishes(running: RunningHerald) -> None:
    waiting = _slash(running, "sandbox +31612345678 Doors open --at in 2h")
    _open_home(running)
    _wait_home(running, lambda text: f"*#{waiting}* · goes out" in text)

    _click(running, "Send now", waiting)

    running.slack.wait_for(
        lambda s: any(r.text.startswith(f"delivered · #{waiting}") for r in s.receipts())
    )
    assert [m.reference for m in _outbox(running)] == [waiting]
    home = _wait_home(
        running, lambda text: f"*delivered* · *#{waiting}*" in text and "going out now" in text
    )
    assert "goes out <!date^" not in _text(home)
    assert _buttons(home, waiting) == {}


def test_a_second_send_now_from_the_same_home_sends_nothing_more(
    running: RunningHerald,
) -> None:
    repeating = _slash(running, 'sandbox +31612345678 Standup soon --every "weekdays 09:00"')
    _open_home(running)
    _wait_home(running, lambda text: f":repeat: *#{repeating}*" in text)
    stale = running.slack.home_of(ALICE)
    assert stale is not None
    button = _buttons(stale, repeating)[ids.SEND_NOW_ACTION]
    assert button["value"].startswith(f"{repeating}@")

    for _ in range(2):  # a double click, both from the Home drawn before the first
        form = Form(stale)
        click = form.action("Send now", value=button["value"])
        assert running.interact(block_actions_body(running.slack, form, click)).status_code == 200

    _wait_home(running, lambda text: "is not the one you saw any more" in text)
    running.slack.wait_for(lambda s: any(r.text.startswith("delivered") for r in s.receipts()))
    assert len(_outbox(running)) == 1
    [schedule] = running.herald.agenda(ALICE).schedules
    assert schedule.occurrences == 1


def test_send_now_of_a_repeating_send_sends_its_next_one_and_keeps_it(
    running: RunningHerald,
) -> None:
    repeating = _slash(running, 'sandbox +31612345678 Standup soon --every "weekdays 09:00"')
    _open_home(running)
    _wait_home(running, lambda text: f":repeat: *#{repeating}*" in text)

    _click(running, "Send now", repeating)

    home = _wait_home(running, lambda text: "The next message of repeating send" in text)
    running.slack.wait_for(lambda s: any(r.text.startswith("delivered") for r in s.receipts()))
    assert len(_outbox(running)) == 1
    assert set(_buttons(home, repeating)) == {
        ids.SEND_NOW_ACTION,
        ids.EDIT_ACTION,
        ids.CANCEL_ACTION,
    }


def test_cancel_from_home_cancels_it_and_republishes_without_it(running: RunningHerald) -> None:
    waiting = _slash(running, "sandbox +31612345678 Doors open --at in 2h")
    _open_home(running)
    _wait_home(running, lambda text: f"*#{waiting}* · goes out" in text)

    _click(running, "Cancel", waiting)

    running.slack.wait_for(
        lambda s: any(r.text.startswith(f"cancelled · #{waiting}") for r in s.receipts())
    )
    home = _wait_home(running, lambda text: f"Cancelled *#{waiting}*" in text)
    assert _buttons(home, waiting) == {}
    assert "Nothing scheduled" in _text(home)
    assert _outbox(running) == []
    assert running.slack.responses == []  # nothing through a response_url: Home has none


def test_a_refused_cancel_is_told_in_home(running: RunningHerald) -> None:
    waiting = _slash(running, "sandbox +31612345678 Doors open --at in 2h")
    _open_home(running)
    _wait_home(running, lambda text: f"*#{waiting}* · goes out" in text)
    stale = Form(running.slack.home_of(ALICE))  # the Home as the user still sees it
    _click(running, "Send now", waiting)
    running.slack.wait_for(
        lambda s: any(r.text.startswith(f"delivered · #{waiting}") for r in s.receipts())
    )

    answer = running.interact(
        block_actions_body(running.slack, stale, stale.action("Cancel", value=waiting))
    )

    assert answer.status_code == 200
    home = _wait_home(running, lambda text: ":warning:" in text)
    notice = home["blocks"][1]["text"]["text"]
    assert notice == f":warning: #{waiting} is delivered already, so it cannot be cancelled."
    assert [m.reference for m in _outbox(running)] == [waiting]


def test_home_follows_the_viewers_changes_coalesced(running: RunningHerald) -> None:
    _open_home(running)
    _wait_home(running, lambda _: True)
    recipients = ",".join(f"+3161{n:02d}45678" for n in range(30))
    started = time.monotonic()

    send = _slash(running, f"sandbox {recipients} Doors open --at in 2s")

    home = _wait_home(running, lambda text: "30 delivered" in text, timeout=15)
    took = time.monotonic() - started
    assert f"*#{send}*" in _text(home)
    # 30 messages, each scheduled, queued, sending, accepted, sent, delivered: 180 changes
    # and a few publishes, at most one per PUBLISH_EVERY seconds after the first
    after_opening = len(_publishes(running.slack)) - 1
    assert 1 <= after_opening <= 1 + took / PUBLISH_EVERY


def test_the_messages_tab_publishes_nothing(running: RunningHerald) -> None:
    _open_home(running, tab="messages")
    _open_home(running, BOB)  # a marker: events are handled in order

    _wait_home(running, lambda _: True, user=BOB)

    assert _publishes(running.slack, ALICE) == []


def test_who_never_opened_home_gets_no_publishes(running: RunningHerald) -> None:
    _send(running, "sandbox +31611112222 Running late")
    _open_home(running, BOB)

    _wait_home(running, lambda _: True, user=BOB)

    assert _publishes(running.slack, ALICE) == []


def test_a_rate_limited_publish_waits_and_publishes_again(running: RunningHerald) -> None:
    running.slack.rate_limit("views.publish", retry_after=1)

    _open_home(running)

    running.slack.wait_for(lambda s: len(s.calls_to("views.publish")) == 2)
    first, second = running.slack.calls_to("views.publish")
    assert (first.status, second.status) == (429, 200)


def test_home_opened_again_publishes_again(running: RunningHerald) -> None:
    _open_home(running)
    _wait_home(running, lambda _: True)

    _open_home(running)

    running.slack.wait_for(lambda s: len(_publishes(s)) == 2)
