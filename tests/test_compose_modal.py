"""The compose modal end to end: signed interactivity payloads to `/slack/events`, views
opened and updated on the fake Slack, sends stored in a real SQLite file and handed to
the sandbox provider, receipts posted where the form said."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.errors import InputError
from bot.models import MessageStatus
from bot.slack import ids
from bot.slack.app import _on_first_input
from bot.slack.blocks.compose import Preview, Shown, compose_view
from bot.slack.blocks.compose import _preview as _preview_blocks
from bot.slack.forms import ComposeForm, Origin, check_form, field_errors, on_top
from bot.templating.errors import MissingVariablesError
from providers import Channel
from tests.conftest import FAST_SANDBOX, RunningHerald, run_herald, settings_for
from tests.fakes.slack_api import HUMAN_USER, FakeSlack, Posted
from tests.fakes.slack_views import view_problems
from tests.interactivity import (
    Form,
    app_home_opened_body,
    block_actions_body,
    shortcut_body,
    slack_user,
    view_submission_body,
)
from tests.waiting import eventually

CHANNEL = "C2147483705"  # where slash_body's command comes from
ZONE = "America/New_York"
CONFIG = (
    FAST_SANDBOX
    + """
[connections.mail]
provider = "sandbox"
channel = "email"

[connections.chat]
provider = "sandbox"
channel = "whatsapp"
"""
)
MANIFEST = yaml.safe_load(
    (Path(__file__).resolve().parent.parent / "app_manifest.yaml").read_text()
)


@pytest.fixture
def running(tmp_path: Path, fake_slack: FakeSlack) -> Iterator[RunningHerald]:
    fake_slack.users[HUMAN_USER] = {"id": HUMAN_USER, "name": "alice", "tz": ZONE}
    yield from run_herald(settings_for(tmp_path, fake_slack, body=CONFIG), fake_slack)


wait = eventually


def open_form(running: RunningHerald) -> Form:
    """``/send`` alone, as a person types it: Slack gets an empty answer and the form opens."""
    answer = running.slash("", trigger_id=running.slack.issue_trigger())
    assert answer.status_code == 200 and answer.text == ""
    return Form(wait(lambda: running.slack.latest_view(ids.COMPOSE_VIEW), "the form"))


def act(running: RunningHerald, form: Form) -> Form:
    """Send the last change as a block_actions and wait for the form to be redrawn."""
    before = running.slack.view(form.view_id)["hash"]
    answer = running.interact(block_actions_body(running.slack, form))
    assert answer.status_code == 200
    wait(lambda: running.slack.view(form.view_id)["hash"] != before, "the redraw")
    return form.follow(running.slack)


def sandbox_form(running: RunningHerald, template: str | None = None) -> Form:
    """``/send`` alone, then the sandbox connection chosen (and ``template``), each
    change redrawn."""
    form = open_form(running)
    form.choose("Connection", "sandbox")
    form = act(running, form)
    if template is not None:
        form.choose("Template", template)
        form = act(running, form)
    return form


def submit(running: RunningHerald, form: Form) -> dict[str, str] | None:
    """Press the form's submit button; the errors shown, or None when it closed."""
    answer = running.interact(view_submission_body(running.slack, form))
    assert answer.status_code == 200
    return running.slack.settle_submission(form.view_id, answer.text)


def labels(form: Form) -> list[str]:
    return [b["label"]["text"] for b in form.view["blocks"] if b["type"] == "input"]


def block(form: Form, block_id: str) -> dict[str, Any]:
    return next(b for b in form.view["blocks"] if b.get("block_id") == block_id)


def preview_of(form: Form) -> dict[str, Any]:
    return next(b for b in form.view["blocks"] if "*Preview*" in str(b.get("text")))


def receipts_in(fake: FakeSlack, channel: str) -> list[Posted]:
    return [p for p in fake.receipts() if p.channel == channel]


def in_an_hour() -> int:
    return int((datetime.now(UTC) + timedelta(hours=1)).replace(second=0).timestamp())


# -- opening ---------------------------------------------------------------------------


def test_send_alone_opens_the_form_with_every_field_by_its_label(running: RunningHerald) -> None:
    form = open_form(running)

    assert labels(form) == [
        "Connection",
        "To",
        "Template",
        "Message",
        "Send at",
        "Repeat",
        "Post receipt to",
    ]
    assert block(form, "receipt_to")["element"]["initial_conversation"] == CHANNEL
    assert CHANNEL in form.view["private_metadata"]
    assert form.view["submit"]["text"] == "Send now"
    assert "America/New_York" in block(form, "send_at")["hint"]["text"]
    # the fake stores the view before it records the call
    [opened] = wait(lambda: running.slack.calls_to("views.open"), "the recorded call")
    assert opened.args["view"]["callback_id"] == ids.COMPOSE_VIEW


def test_the_manifest_shortcut_opens_the_form_with_the_receipt_in_the_dm(
    running: RunningHerald,
) -> None:
    [shortcut] = MANIFEST["features"]["shortcuts"]
    assert shortcut["callback_id"] == ids.COMPOSE_SHORTCUT and shortcut["type"] == "global"

    answer = running.interact(shortcut_body(running.slack, ids.COMPOSE_SHORTCUT))

    assert answer.status_code == 200
    form = Form(wait(lambda: running.slack.latest_view(ids.COMPOSE_VIEW), "the form"))
    assert "initial_conversation" not in block(form, "receipt_to")["element"]
    form.choose("Connection", "sandbox")
    form = act(running, form)
    form.fill("To", "+31612345678").fill("Message", "Your parcel is on its way")
    assert submit(running, form) is None

    dm = "D" + HUMAN_USER[1:]  # chat.postMessage to a user id lands in their DM with Herald
    posted = wait(lambda: receipts_in(running.slack, dm), "the receipt in the DM")
    assert "#" in posted[0].text


def test_an_expired_trigger_is_said_to_the_user(running: RunningHerald) -> None:
    running.slack.trigger_ttl = 0.0  # Slack gives 3 s; this Slack gives none

    running.slash("", trigger_id=running.slack.issue_trigger())

    said = wait(lambda: running.slack.responses, "the private answer")
    assert "did not let me open the form" in said[0]["text"]


# -- adapting ----------------------------------------------------------------------------


def test_a_template_adds_its_variables_keeps_what_was_typed_and_previews(
    running: RunningHerald,
) -> None:
    form = open_form(running)
    form.fill("To", "+31612345678")
    form.choose("Connection", "sandbox")
    form = act(running, form)
    form.choose("Template", "order_delayed")
    form = act(running, form)

    assert labels(form)[3:6] == ["name", "order", "new_date"]
    assert block(form, "var:name")["element"]["placeholder"]["text"] == "e.g. Jane"
    assert form.values()["to"]["compose_to"]["value"] == "+31612345678"  # kept
    preview = next(
        b for b in form.view["blocks"] if "*Preview*" in b.get("text", {}).get("text", "")
    )
    assert "Jane" in preview["text"]["text"]  # the sample, until a name is typed
    assert any("SMS: GSM-7" in str(b) for b in form.view["blocks"])

    form.fill("name", "Ana")
    form = act(running, form)

    preview = next(
        b for b in form.view["blocks"] if "*Preview*" in b.get("text", {}).get("text", "")
    )
    assert "Ana" in preview["text"]["text"] and "Jane" not in preview["text"]["text"]


def test_the_connections_channel_decides_the_extra_fields(running: RunningHerald) -> None:
    form = open_form(running)
    form.choose("Connection", "mail")
    form = act(running, form)
    assert "Subject" in labels(form) and "Media URL" in labels(form)

    form.choose("Connection", "chat")
    form = act(running, form)
    assert "Subject" not in labels(form) and "Media URL" in labels(form)
    assert any("24 hours" in str(b) for b in form.view["blocks"] if b["type"] == "context")

    form.choose("Connection", "sandbox")
    form = act(running, form)
    assert "Subject" not in labels(form) and "Media URL" not in labels(form)


def test_to_counts_recipients_and_names_the_invalid_ones(running: RunningHerald) -> None:
    form = sandbox_form(running)
    form.fill("To", "+31612345678, +4915112345678, 12ab")
    form = act(running, form)

    hint = block(form, "to")["hint"]["text"]
    assert hint.startswith("2 recipients for SMS") and "1 invalid: 12ab" in hint


# -- submitting --------------------------------------------------------------------------


def test_a_filled_template_is_sent_and_its_receipt_appears_in_the_channel(
    running: RunningHerald,
) -> None:
    form = sandbox_form(running, "order_delayed")
    form.fill("To", "+31612345678").fill("name", "Ana").fill("order", "A-7")
    form.fill("new_date", "Friday")
    assert submit(running, form) == {
        "var:new_date": "Template 'order_delayed' (templates/order_delayed.j2, line 18): The "
        "date filter cannot read 'Friday' as a date; use ISO 8601, like 2026-12-01 or "
        "2026-12-01T09:30+01:00."
    }
    form.fill("new_date", "2026-12-04")

    assert submit(running, form) is None

    [message] = wait(lambda: running.herald.recent_messages(HUMAN_USER, 5), "the message")
    assert message.recipient == "+31612345678" and "Ana" in (message.text or "")
    wait(
        lambda: running.herald.message(message.id).status is MessageStatus.DELIVERED,
        "delivery",
    )
    posted = wait(lambda: receipts_in(running.slack, CHANNEL), "the receipt")
    assert f"#{message.id}" in posted[0].text


@pytest.mark.parametrize(
    ("fill", "block_id", "said"),
    [
        ({"To": "+3161234", "Message": "Hi"}, "to", "phone number"),
        ({"To": "+31612345678", "Message": "Hi", "Send at": -3600}, "send_at", "still ahead"),
    ],
)
def test_each_mistake_is_shown_on_its_field_and_nothing_is_stored(
    running: RunningHerald, fill: dict[str, Any], block_id: str, said: str
) -> None:
    form = sandbox_form(running)
    for label, value in fill.items():
        form.fill(label, int(time.time()) + value if label == "Send at" else value)

    errors = submit(running, form)

    assert errors is not None and list(errors) == [block_id], errors
    assert said in errors[block_id]
    assert running.herald.recent_messages(HUMAN_USER, 5) == []


def test_every_field_with_a_mistake_is_shown_at_once() -> None:
    form = ComposeForm(connection="sandbox", to="+31612345678, 12ab, +3161234", send_at=1)
    shown = ["connection", "to", "template", "message", "send_at", "repeat"]

    errors = check_form(form, Channel.SMS, datetime.now(UTC), shown=shown)

    assert set(errors) == {"to", "message", "send_at"}
    assert errors["to"] == (
        "Fix: '12ab' needs its country code · '+3161234' is not a valid phone number "
        "(check the digits and the country code)"
    )
    assert errors["message"] == "Write the message, or choose a template."
    assert "still ahead" in errors["send_at"]


def test_without_a_template_the_message_is_required(running: RunningHerald) -> None:
    form = sandbox_form(running)

    assert block(form, "message")["optional"] is False
    form.choose("Template", "order_delayed")
    form = act(running, form)
    assert block(form, "message")["optional"] is True


def test_a_missing_variable_lands_on_its_field_and_unknown_fields_fall_back() -> None:
    error = MissingVariablesError.naming("order_delayed", ["order"], {"order": "A-1"})
    shown = ["to", "template", "var:name", "var:order"]

    assert field_errors(error, shown, ComposeForm()) == {
        "var:order": "The template needs this: fill it in."
    }
    # a template that changed on disk since the form was drawn: its blanks are not shown
    assert field_errors(error, ["to", "template"], ComposeForm()) == {
        "template": "This template's blanks changed since the form was drawn: choose the "
        "template again to see them."
    }
    # a field the view does not show (a subject on SMS) still reaches the person, on To
    subject = InputError("E-mail needs a subject.", code="subject_missing", fields=("subject",))
    assert field_errors(subject, shown, ComposeForm()) == {"to": "E-mail needs a subject."}
    # neither To nor Connection (a form Herald no longer draws): the first field there is
    assert field_errors(subject, ["var:name"], ComposeForm()) == {
        "var:name": "E-mail needs a subject."
    }
    assert on_top(["message", "send_at"], "Gone.") == {"message": "Gone."}


def test_a_template_and_a_message_both_are_refused_on_both(running: RunningHerald) -> None:
    form = sandbox_form(running)
    form.choose("Template", "team_announcement")
    form = act(running, form)
    for variable in [b["block_id"] for b in form.view["blocks"]]:
        if variable.startswith("var:"):
            form.fill(variable, "x")
    form.fill("To", "+31612345678").fill("Message", "Hello")

    errors = submit(running, form)

    assert errors is not None and {"template", "message"} <= set(errors)


def test_repeat_without_a_time_asks_for_the_first_time(running: RunningHerald) -> None:
    form = sandbox_form(running)
    form.fill("To", "+31612345678").fill("Message", "Standup!").choose("Repeat", "daily")

    errors = submit(running, form)

    assert errors is not None and "first one goes out" in errors["send_at"]


def test_repeat_creates_a_recurring_schedule_in_the_senders_zone(running: RunningHerald) -> None:
    first = in_an_hour()
    form = sandbox_form(running)
    form.fill("To", "+31612345678").fill("Message", "Standup!").fill("Send at", first)
    form.choose("Repeat", "weekdays")

    assert submit(running, form) is None

    [schedule] = running.herald.agenda(HUMAN_USER).schedules
    local = datetime.fromtimestamp(first, ZoneInfo(ZONE))
    assert schedule.rule == f"weekdays {local:%H:%M}"
    assert schedule.timezone == ZONE
    # no receipt until its first time: the form turns into the confirmation
    done = running.slack.view(form.view_id)
    assert done["title"]["text"] == "Repeating send saved" and not done.get("submit")
    said = done["blocks"][0]["text"]["text"]
    assert f"*#{schedule.id}*" in said and f"<#{CHANNEL}>" in said and "App Home" in said
    assert schedule.next_due is not None and int(schedule.next_due.timestamp()) in (
        first,
        first + 86400 * 3,  # a weekend: the next weekday
        first + 86400 * 2,
        first + 86400,
    )


def test_a_time_schedules_the_send_and_the_receipt_says_scheduled(
    running: RunningHerald,
) -> None:
    due = in_an_hour()
    form = sandbox_form(running)
    form.fill("To", "+31612345678").fill("Message", "See you soon").fill("Send at", due)

    assert submit(running, form) is None

    [waiting] = running.herald.agenda(HUMAN_USER).sends
    assert int(waiting.due_at.timestamp()) == due
    posted = wait(lambda: receipts_in(running.slack, CHANNEL), "the receipt")
    assert "scheduled" in posted[0].text


# -- editing -----------------------------------------------------------------------------


def schedule_by_command(running: RunningHerald, text: str = "Running late") -> Posted:
    answer = running.slash(f"sandbox +31612345678 {text} --at in 2h")
    assert answer.status_code == 200
    return wait(lambda: receipts_in(running.slack, CHANNEL), "the scheduled receipt")[0]


def click_edit(running: RunningHerald, posted: Posted) -> Form:
    opened = len(running.slack.calls_to("views.open"))
    receipt = Form.for_message(running.slack.messages[(posted.channel, posted.ts)])
    answer = running.interact(block_actions_body(running.slack, receipt, receipt.action("Edit")))
    assert answer.status_code == 200
    wait(lambda: len(running.slack.calls_to("views.open")) > opened, "the edit form")
    return Form(wait(lambda: running.slack.latest_view(ids.COMPOSE_VIEW), "the edit form"))


def test_edit_from_a_receipt_opens_the_form_prefilled(running: RunningHerald) -> None:
    posted = schedule_by_command(running)
    [waiting] = running.herald.agenda(HUMAN_USER).sends

    form = click_edit(running, posted)

    values = form.values()
    assert values["to"]["compose_to"]["value"] == "+31612345678"
    assert values["message"]["compose_message"]["value"] == "Running late"
    assert values["send_at"]["compose_send_at"]["selected_date_time"] == int(
        waiting.due_at.timestamp()
    )
    assert values["receipt_to"]["compose_receipt_to"]["selected_conversation"] == CHANNEL
    assert form.view["title"]["text"].startswith("Edit #")
    assert form.view["submit"]["text"] == "Save"
    assert block(form, "send_at")["optional"] is False  # an edit keeps a time


def test_saving_a_new_time_reschedules_the_same_message(running: RunningHerald) -> None:
    posted = schedule_by_command(running)
    [before] = running.herald.agenda(HUMAN_USER).sends
    form = click_edit(running, posted)
    later = int(before.due_at.timestamp()) + 3600

    assert submit(running, form.fill("Send at", later)) is None

    [after] = running.herald.agenda(HUMAN_USER).sends
    assert after.send.id == before.send.id and int(after.due_at.timestamp()) == later


def test_saving_new_text_replaces_the_message_and_cancels_the_old(running: RunningHerald) -> None:
    posted = schedule_by_command(running)
    [before] = running.herald.agenda(HUMAN_USER).sends
    form = click_edit(running, posted)

    assert submit(running, form.fill("Message", "Running very late")) is None

    [after] = running.herald.agenda(HUMAN_USER).sends
    assert after.send.id != before.send.id
    assert after.messages[0].text == "Running very late"
    assert running.herald.message(before.messages[0].id).status is MessageStatus.CANCELLED
    old = running.slack.messages[(posted.channel, posted.ts)]
    wait(
        lambda: f"Replaced by #{after.messages[0].id} before its time" in str(old.blocks),
        "the old receipt to say what replaced it",
    )


def test_saving_an_edit_of_what_went_out_meanwhile_says_so(running: RunningHerald) -> None:
    posted = schedule_by_command(running)
    [before] = running.herald.agenda(HUMAN_USER).sends
    form = click_edit(running, posted)
    assert running.slash(f"cancel {before.messages[0].id}").status_code == 200
    wait(lambda: not running.herald.agenda(HUMAN_USER).sends, "the cancel")

    errors = submit(running, form.fill("Message", "Changed"))

    # said first and at the top: no field of the form can fix it
    assert errors is not None and list(errors) == ["connection"]
    assert f"#{before.messages[0].id}" in errors["connection"]
    assert "cancelled" in errors["connection"]


# -- from App Home -------------------------------------------------------------------------


def open_home(running: RunningHerald) -> Form:
    assert running.event(app_home_opened_body(running.slack)).status_code == 200
    return Form(wait(lambda: running.slack.home_of(HUMAN_USER), "the Home view"))


def test_compose_in_home_opens_the_form_and_the_receipt_goes_to_the_dm(
    running: RunningHerald,
) -> None:
    home = open_home(running)

    click = block_actions_body(running.slack, home, home.action("Compose"))
    assert running.interact(click).status_code == 200

    form = Form(wait(lambda: running.slack.latest_view(ids.COMPOSE_VIEW), "the form"))
    assert '"via":"home"' in form.view["private_metadata"]
    assert "initial_conversation" not in block(form, "receipt_to")["element"]


def test_edit_in_home_reschedules_from_the_prefilled_form(running: RunningHerald) -> None:
    schedule_by_command(running)
    [before] = running.herald.agenda(HUMAN_USER).sends
    target = before.messages[0].id
    home = open_home(running)
    wait(lambda: target in str(running.slack.home_of(HUMAN_USER)), "the entry in Home")
    home = Form(running.slack.home_of(HUMAN_USER))

    click = block_actions_body(running.slack, home, home.action("Edit", value=target))
    assert running.interact(click).status_code == 200
    form = Form(wait(lambda: running.slack.latest_view(ids.COMPOSE_VIEW), "the edit form"))
    later = int(before.due_at.timestamp()) + 600

    assert submit(running, form.fill("Send at", later)) is None

    [after] = running.herald.agenda(HUMAN_USER).sends
    assert after.messages[0].id == target and int(after.due_at.timestamp()) == later


def test_edit_in_home_of_what_is_gone_says_why_in_home(running: RunningHerald) -> None:
    schedule_by_command(running)
    [before] = running.herald.agenda(HUMAN_USER).sends
    target = before.messages[0].id
    open_home(running)
    wait(lambda: target in str(running.slack.home_of(HUMAN_USER)), "the entry in Home")
    home = Form(running.slack.home_of(HUMAN_USER))
    assert running.slash(f"cancel {target}").status_code == 200
    wait(lambda: not running.herald.agenda(HUMAN_USER).sends, "the cancel")

    click = block_actions_body(running.slack, home, home.action("Edit", value=target))
    assert running.interact(click).status_code == 200

    shown = wait(
        lambda: (
            ":warning:" in str(running.slack.home_of(HUMAN_USER))
            and str(running.slack.home_of(HUMAN_USER))
        ),
        "the notice in Home",
    )
    assert target in shown
    assert running.slack.latest_view(ids.COMPOSE_VIEW) is None


def test_an_edit_by_someone_else_keeps_the_message_the_senders(running: RunningHerald) -> None:
    posted = schedule_by_command(running)
    bob = slack_user("U0BOB00001", "bob")
    receipt = Form.for_message(running.slack.messages[(posted.channel, posted.ts)])
    click = block_actions_body(running.slack, receipt, receipt.action("Edit"), user=bob)
    assert running.interact(click).status_code == 200
    form = Form(wait(lambda: running.slack.latest_view(ids.COMPOSE_VIEW), "the edit form"))

    answer = running.interact(
        view_submission_body(running.slack, form.fill("Message", "Bob's words"), user=bob)
    )

    assert running.slack.settle_submission(form.view_id, answer.text) is None
    [after] = running.herald.agenda(HUMAN_USER).sends  # still in Alice's Home
    assert after.send.sender == HUMAN_USER and after.messages[0].text == "Bob's words"


def test_one_view_is_stored_once_whatever_its_hash(running: RunningHerald) -> None:
    form = sandbox_form(running)
    form.fill("To", "+31612345678").fill("Message", "Once")
    first = view_submission_body(running.slack, form)
    again = view_submission_body(running.slack, form)
    again["view"]["hash"] = "1700000001.redrawn"  # redrawn after an answer Slack lost

    assert running.interact(first).status_code == 200
    assert running.interact(again).status_code == 200

    wait(lambda: running.herald.recent_messages(HUMAN_USER, 5), "the message")
    assert len(running.herald.recent_messages(HUMAN_USER, 5)) == 1


@pytest.mark.parametrize(
    ("block_id", "value"),
    [
        ("send_at", {"type": "datetimepicker", "selected_date_time": "1800000000"}),
        ("send_at", {"type": "datetimepicker", "selected_date_time": 253402299000}),
        ("send_at", {"type": "datetimepicker", "selected_date_time": True}),
        ("repeat", {"type": "static_select", "selected_option": {"value": "hourly"}}),
        ("repeat", {"type": "static_select", "selected_option": {"value": "keep"}}),
        ("repeat", {"type": "static_select", "selected_option": {"value": 5}}),
        ("repeat", {"type": "static_select", "selected_option": {"value": ""}}),
        ("receipt_to", {"type": "conversations_select", "selected_conversation": "<!here>"}),
    ],
)
def test_a_value_slack_never_sends_is_refused_on_its_field(
    running: RunningHerald, block_id: str, value: dict[str, Any]
) -> None:
    form = sandbox_form(running)
    form.fill("To", "+31612345678").fill("Message", "Hi")
    payload = view_submission_body(running.slack, form)
    payload["view"]["state"]["values"][block_id] = {f"compose_{block_id}": value}

    answer = running.interact(payload)

    assert answer.json() == {
        "response_action": "errors",
        "errors": {block_id: "Slack sent something here Herald cannot read: choose it again."},
    }
    assert running.herald.recent_messages(HUMAN_USER, 5) == []


def test_a_bad_list_name_in_to_is_said_and_the_form_still_redraws(
    running: RunningHerald,
) -> None:
    form = open_form(running)
    form.fill("To", "+31612345678, @customers.csv, @customers.csv")
    form.choose("Connection", "sandbox")
    form = act(running, form)
    form.choose("Template", "order_delayed")
    form = act(running, form)

    assert "var:name" in [b.get("block_id") for b in form.view["blocks"]]
    hint = block(form, "to")["hint"]["text"]
    assert hint.startswith("1 recipient for SMS") and "@customers.csv" in hint


def test_an_internal_error_keeps_the_form_open_and_says_so() -> None:
    view = {"blocks": [{"type": "section"}, {"type": "input", "block_id": "connection"}]}

    answer = _on_first_input(view, ":boom: Herald hit an internal error")

    assert answer == {
        "response_action": "errors",
        "errors": {"connection": ":boom: Herald hit an internal error"},
    }
    assert _on_first_input({"blocks": []}, "x") is None


def test_saving_an_unchanged_edit_changes_nothing(running: RunningHerald) -> None:
    posted = schedule_by_command(running)
    [before] = running.herald.agenda(HUMAN_USER).sends
    form = click_edit(running, posted)

    assert submit(running, form) is None

    [after] = running.herald.agenda(HUMAN_USER).sends
    assert after.messages == before.messages


def test_a_new_time_for_a_repeating_send_moves_every_time_to_come(
    running: RunningHerald,
) -> None:
    answer = running.slash('sandbox +31612345678 Standup --every "daily 09:00"')
    assert answer.status_code == 200
    [schedule] = running.herald.agenda(HUMAN_USER).schedules
    home = open_home(running)
    wait(lambda: schedule.id in str(running.slack.home_of(HUMAN_USER)), "the schedule in Home")
    home = Form(running.slack.home_of(HUMAN_USER))
    click = block_actions_body(running.slack, home, home.action("Edit", value=schedule.id))
    assert running.interact(click).status_code == 200
    form = Form(wait(lambda: running.slack.latest_view(ids.COMPOSE_VIEW), "the edit form"))
    assert form.values()["repeat"]["compose_repeat"]["selected_option"]["value"] == "daily"
    assert schedule.next_due is not None
    later = int(schedule.next_due.timestamp()) + 3600  # 10:00 from now on

    assert submit(running, form.fill("Send at", later)) is None

    [after] = running.herald.agenda(HUMAN_USER).schedules
    assert after.id != schedule.id and after.rule == "daily 10:00"
    assert int(after.next_due.timestamp()) == later  # type: ignore[union-attr]


def test_a_new_time_for_one_message_of_several_moves_it_alone(running: RunningHerald) -> None:
    answer = running.slash("sandbox +31612345678,+4915112345678 Doors open --at in 2h")
    assert answer.status_code == 200
    posted = wait(lambda: receipts_in(running.slack, CHANNEL)[:2][1:], "both receipts")[0]
    [before] = running.herald.agenda(HUMAN_USER).sends
    form = click_edit(running, posted)
    due = int(before.due_at.timestamp())

    assert submit(running, form.fill("Send at", due + 600)) is None

    times = sorted(
        int(m.due_at.timestamp())  # type: ignore[union-attr]
        for waiting in running.herald.agenda(HUMAN_USER).sends
        for m in waiting.messages
    )
    assert times == [due, due + 600]


def test_an_edited_message_whose_receipt_is_in_a_dm_keeps_it_there(
    running: RunningHerald,
) -> None:
    answer = running.interact(shortcut_body(running.slack, ids.COMPOSE_SHORTCUT))
    assert answer.status_code == 200
    form = Form(wait(lambda: running.slack.latest_view(ids.COMPOSE_VIEW), "the form"))
    form.choose("Connection", "sandbox")
    form = act(running, form)
    form.fill("To", "+31612345678").fill("Message", "Hello").fill("Send at", in_an_hour())
    assert submit(running, form) is None
    dm = "D" + HUMAN_USER[1:]
    posted = wait(lambda: receipts_in(running.slack, dm), "the receipt in the DM")[0]

    form = click_edit(running, posted)
    assert submit(running, form.fill("Message", "Hello again")) is None

    [after] = running.herald.agenda(HUMAN_USER).sends
    assert after.send.announce_to == HUMAN_USER  # the DM, not the editor's choice of nothing


def test_an_edit_by_someone_in_another_zone_keeps_the_schedules_zone(
    running: RunningHerald,
) -> None:
    running.slack.users["U0BOB00001"] = {"id": "U0BOB00001", "name": "bob", "tz": "Asia/Tokyo"}
    answer = running.slash('sandbox +31612345678 Standup --every "daily 09:00"')
    assert answer.status_code == 200
    [schedule] = running.herald.agenda(HUMAN_USER).schedules
    bob = slack_user("U0BOB00001", "bob")
    open_home(running)
    # Bob's click on an Edit button for it, as Slack sends it (from a Home that showed it)
    opened = len(running.slack.calls_to("views.open"))
    click = block_actions_body(
        running.slack,
        Form(running.slack.home_of(HUMAN_USER)),
        Form(running.slack.home_of(HUMAN_USER)).action("Edit", value=schedule.id),
        user=bob,
    )
    assert running.interact(click).status_code == 200
    wait(lambda: len(running.slack.calls_to("views.open")) > opened, "the edit form")
    form = Form(wait(lambda: running.slack.latest_view(ids.COMPOSE_VIEW), "the edit form"))
    assert ZONE in block(form, "send_at")["hint"]["text"]

    answer = running.interact(
        view_submission_body(running.slack, form.fill("Message", "Standup!"), user=bob)
    )

    assert running.slack.settle_submission(form.view_id, answer.text) is None
    [after] = running.herald.agenda(HUMAN_USER).schedules
    assert (after.rule, after.timezone) == ("daily 09:00", ZONE)


@pytest.fixture
def own_templates(tmp_path: Path, fake_slack: FakeSlack) -> Iterator[tuple[RunningHerald, Path]]:
    """A server whose templates folder the test may change."""
    templates = tmp_path / "templates"
    shutil.copytree(Path(__file__).resolve().parent.parent / "templates", templates)
    settings = replace(settings_for(tmp_path, fake_slack, body=CONFIG), templates_dir=templates)
    for running in run_herald(settings, fake_slack):
        yield running, templates


def test_edit_of_a_message_whose_template_is_gone_says_so(
    own_templates: tuple[RunningHerald, Path],
) -> None:
    running, templates = own_templates
    answer = running.slash(
        "sandbox +31612345678 --template order_delayed --var name=Ana --var order=A-1 "
        "--var new_date=2026-12-24 --at in 2h"
    )
    assert answer.status_code == 200, answer.text
    posted = wait(lambda: receipts_in(running.slack, CHANNEL), "the receipt")[0]
    (templates / "order_delayed.j2").unlink()
    # the library trusts what it read for half a second, then looks again
    wait(lambda: "order_delayed" not in running.herald.templates.names(), "the library to see")
    receipt = Form.for_message(running.slack.messages[(posted.channel, posted.ts)])

    click = block_actions_body(running.slack, receipt, receipt.action("Edit"))
    assert running.interact(click).status_code == 200

    said = wait(lambda: running.slack.responses, "the private answer")
    assert "order_delayed" in said[0]["text"] and "cannot be read" in said[0]["text"]
    assert running.slack.calls_to("views.open") == []


def test_a_burst_of_changes_is_drawn_once_it_settles(running: RunningHerald) -> None:
    form = open_form(running)
    busy = running.slack.held["views.update"] = threading.Event()  # Slack busy drawing
    form.choose("Connection", "sandbox")
    assert running.interact(block_actions_body(running.slack, form)).status_code == 200
    running.slack.wait_for(lambda s: s.arrived.get("views.update"))  # the first redraw
    for number in range(10):  # ten changes while it is being drawn
        form.fill("To", f"+3161234567{number}")
        assert running.interact(block_actions_body(running.slack, form)).status_code == 200

    busy.set()

    drawn = wait(
        lambda: "+31612345679" in str(running.slack.view(form.view_id)["blocks"]),
        "the last change drawn",
    )
    assert drawn and len(running.slack.calls_to("views.update")) <= 3
    assert running.slack.arrived["views.update"] == 2  # the first, then the latest once


@pytest.mark.parametrize("text", ["a&b\n" * 700, "<" * 2800, "x" * 5000])
def test_a_long_preview_stays_within_a_section(text: str) -> None:
    preview = Preview(text=text, subject="<Subject>" * 100)
    view = compose_view(
        ComposeForm(connection="sandbox", template="t"),
        Origin(),
        Shown({"sandbox": Channel.SMS}, [], "UTC", template=None, preview=preview),
    )
    view["blocks"].insert(0, _preview_blocks(preview)[0])

    assert view_problems(view, "modal") == []
    assert len(_preview_blocks(preview)[0]["text"]["text"]) <= 3000
