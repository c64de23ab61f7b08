"""The fake Slack refuses views as Slack does, and the Form answers with Slack's shapes."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import RunningHerald
from tests.fakes.slack_api import BOT_TOKEN, HUMAN_USER, FakeSlack
from tests.interactivity import (
    Form,
    app_home_opened_body,
    block_actions_body,
    shortcut_body,
    view_submission_body,
    wire,
)


def call(fake: FakeSlack, method: str, **args: Any) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {BOT_TOKEN}"}
    answer = httpx.post(fake.api_url + method, json=args, headers=headers, timeout=5)
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def option(value: str, text: str | None = None) -> dict[str, Any]:
    return {"text": plain(text or value.title()), "value": value}


def modal(*blocks: dict[str, Any], **fields: Any) -> dict[str, Any]:
    view = {
        "type": "modal",
        "callback_id": "herald_compose",
        "title": plain("Send a message"),
        "submit": plain("Send"),
        "close": plain("Cancel"),
        "private_metadata": '{"channel":"C111"}',
        "blocks": list(blocks) or [{"type": "section", "text": plain("Hi")}],
    }
    return {**view, **fields}


def text_input(label: str, block_id: str, **element: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "element": {"type": "plain_text_input", "action_id": f"{block_id}_a", **element},
    }


def select_input(label: str, block_id: str, *values: str, **element: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "element": {
            "type": "static_select",
            "action_id": f"{block_id}_a",
            "options": [option(v) for v in values],
            **element,
        },
    }


def open_view(fake: FakeSlack, view: dict[str, Any]) -> dict[str, Any]:
    return call(fake, "views.open", trigger_id=fake.issue_trigger(), view=view)


def opened(fake: FakeSlack, view: dict[str, Any]) -> dict[str, Any]:
    answer = open_view(fake, view)
    assert answer["ok"], answer
    stored: dict[str, Any] = answer["view"]
    return stored


# -- trigger_id -------------------------------------------------------------------


def test_views_open_answers_with_the_view_slack_keeps(fake_slack: FakeSlack) -> None:
    view = opened(fake_slack, modal({"type": "divider"}, text_input("To", "to")))

    assert view["id"].startswith("V")
    assert view["root_view_id"] == view["id"]
    assert view["hash"] and view["state"] == {"values": {}}
    assert view["callback_id"] == "herald_compose"
    assert view["private_metadata"] == '{"channel":"C111"}'
    assert view["blocks"][0]["block_id"]  # made up by Slack, as the app gave none
    assert fake_slack.view(view["id"]) == view
    assert fake_slack.latest_view("herald_compose") == view
    assert fake_slack.open_views == [view]


def test_views_open_refuses_a_trigger_exchanged_before(fake_slack: FakeSlack) -> None:
    trigger = fake_slack.issue_trigger()
    assert call(fake_slack, "views.open", trigger_id=trigger, view=modal())["ok"]

    again = call(fake_slack, "views.open", trigger_id=trigger, view=modal())

    assert again == {"ok": False, "error": "exchanged_trigger_id"}


def test_views_open_refuses_a_trigger_older_than_three_seconds(fake_slack: FakeSlack) -> None:
    trigger = fake_slack.issue_trigger()
    fake_slack.advance(3.01)

    answer = call(fake_slack, "views.open", trigger_id=trigger, view=modal())

    assert answer == {"ok": False, "error": "expired_trigger_id"}


def test_trigger_lifetime_follows_the_tests_clock(fake_slack: FakeSlack) -> None:
    now = [1000.0]
    fake_slack.clock = lambda: now[0]
    fake_slack.trigger_ttl = 10.0
    trigger = fake_slack.issue_trigger()
    now[0] += 9.9

    assert call(fake_slack, "views.open", trigger_id=trigger, view=modal())["ok"]


def test_views_open_refuses_unknown_and_missing_triggers(fake_slack: FakeSlack) -> None:
    unknown = call(fake_slack, "views.open", trigger_id="123.456.abc", view=modal())
    missing = call(fake_slack, "views.open", view=modal())

    assert unknown == {"ok": False, "error": "invalid_trigger_id"}
    assert missing["error"] == "invalid_arguments"
    assert "trigger_id" in missing["response_metadata"]["messages"][0]


def test_views_open_with_an_invalid_view_leaves_the_trigger_usable(fake_slack: FakeSlack) -> None:
    trigger = fake_slack.issue_trigger()
    refused = call(fake_slack, "views.open", trigger_id=trigger, view=modal(title=plain("")))

    assert refused["error"] == "invalid_arguments"
    assert call(fake_slack, "views.open", trigger_id=trigger, view=modal())["ok"]


def test_views_push_stacks_at_most_three_views(fake_slack: FakeSlack) -> None:
    below = opened(fake_slack, modal())
    for _ in range(2):
        trigger = fake_slack.issue_trigger(view_id=below["id"])
        pushed = call(fake_slack, "views.push", trigger_id=trigger, view=modal())
        assert pushed["view"]["previous_view_id"] == below["id"]
        assert pushed["view"]["root_view_id"] == below["root_view_id"]
        below = pushed["view"]

    trigger = fake_slack.issue_trigger(view_id=below["id"])
    fourth = call(fake_slack, "views.push", trigger_id=trigger, view=modal())

    assert fourth == {"ok": False, "error": "push_limit_reached"}
    assert len(fake_slack.open_views) == 3


# -- views.update / views.publish ---------------------------------------------------


def test_views_update_with_the_current_hash_gives_a_new_hash(fake_slack: FakeSlack) -> None:
    view = opened(fake_slack, modal())

    updated = call(
        fake_slack,
        "views.update",
        view_id=view["id"],
        hash=view["hash"],
        view=modal(title=plain("Sent")),
    )

    assert updated["ok"]
    assert updated["view"]["id"] == view["id"]
    assert updated["view"]["hash"] != view["hash"]
    assert fake_slack.view(view["id"])["title"]["text"] == "Sent"


def test_views_update_refuses_a_stale_hash(fake_slack: FakeSlack) -> None:
    view = opened(fake_slack, modal())
    call(fake_slack, "views.update", view_id=view["id"], view=modal(title=plain("One")))

    stale = call(fake_slack, "views.update", view_id=view["id"], hash=view["hash"], view=modal())

    assert stale == {"ok": False, "error": "hash_conflict"}


def test_views_update_of_an_unknown_or_closed_view_is_not_found(fake_slack: FakeSlack) -> None:
    view = opened(fake_slack, modal(external_id="compose-1"))
    fake_slack.close_view(view["id"])

    assert call(fake_slack, "views.update", view_id="VNOPE", view=modal())["error"] == "not_found"
    assert call(fake_slack, "views.update", view_id=view["id"], view=modal())["error"] == (
        "not_found"
    )
    by_external = call(fake_slack, "views.update", external_id="compose-1", view=modal())
    assert by_external["error"] == "not_found"
    assert fake_slack.open_views == []


def test_views_update_by_external_id(fake_slack: FakeSlack) -> None:
    view = opened(fake_slack, modal(external_id="compose-1"))

    updated = call(fake_slack, "views.update", external_id="compose-1", view=modal())

    assert updated["ok"] and updated["view"]["id"] == view["id"]
    again = open_view(fake_slack, modal(external_id="compose-1"))
    assert again == {"ok": False, "error": "duplicate_external_id"}


def test_views_publish_remembers_each_users_home(fake_slack: FakeSlack) -> None:
    home = {"type": "home", "blocks": [{"type": "section", "text": plain("Hi")}]}

    first = call(fake_slack, "views.publish", user_id=HUMAN_USER, view=home)
    second = call(
        fake_slack, "views.publish", user_id=HUMAN_USER, view=home, hash=first["view"]["hash"]
    )
    stale = call(
        fake_slack, "views.publish", user_id=HUMAN_USER, view=home, hash=first["view"]["hash"]
    )

    assert first["ok"] and second["ok"]
    assert second["view"]["id"] == first["view"]["id"]
    assert stale == {"ok": False, "error": "hash_conflict"}
    assert fake_slack.home_of(HUMAN_USER) == second["view"]
    assert fake_slack.home_of("U999") is None


def test_views_publish_needs_a_user_and_a_home_view(fake_slack: FakeSlack) -> None:
    home = {"type": "home", "blocks": []}

    no_user = call(fake_slack, "views.publish", view=home)
    a_modal = call(fake_slack, "views.publish", user_id=HUMAN_USER, view=modal())

    assert no_user["error"] == "invalid_arguments"
    assert a_modal["error"] == "invalid_arguments"
    assert "[json-pointer:/view/type]" in a_modal["response_metadata"]["messages"][0]


def test_views_open_refuses_a_home_view(fake_slack: FakeSlack) -> None:
    answer = open_view(fake_slack, {"type": "home", "blocks": []})

    assert answer["error"] == "invalid_arguments"


# -- what Slack checks in a view ------------------------------------------------------

Change = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Change:
    def change(view: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        target: Any = view
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


def _drop(path: str) -> Change:
    def change(view: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        target: Any = view
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        del target[last]

    return change


def _valid() -> dict[str, Any]:
    return modal(
        text_input("To", "to", placeholder=plain("+316…")),
        select_input("Connection", "conn", "sandbox", "bird", initial_option=option("sandbox")),
        {"type": "section", "block_id": "note", "text": plain("Hello")},
        {"type": "context", "elements": [plain("small print")]},
        {
            "type": "actions",
            "block_id": "buttons",
            "elements": [
                {"type": "button", "action_id": "go", "text": plain("Go"), "value": "1"},
            ],
        },
    )


def _many(count: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**item, "action_id": f"a{i}"} if "action_id" in item else item for i in range(count)]


BUTTON = {"type": "button", "action_id": "b", "text": plain("B")}

REFUSED: dict[str, tuple[Change, str]] = {
    "title over 24": (_set("title", plain("x" * 25)), "/view/title/text"),
    "title mrkdwn": (_set("title", {"type": "mrkdwn", "text": "x"}), "/view/title/type"),
    "submit over 24": (_set("submit", plain("x" * 25)), "/view/submit/text"),
    "close over 24": (_set("close", plain("x" * 25)), "/view/close/text"),
    "input without submit": (_drop("submit"), "/view/submit"),
    "private_metadata over 3000": (_set("private_metadata", "x" * 3001), "/view/private_metadata"),
    "callback_id over 255": (_set("callback_id", "x" * 256), "/view/callback_id"),
    "too many blocks": (
        _set("blocks", [{"type": "divider"}] * 101),
        "/view/blocks",
    ),
    "duplicate block_id": (_set("blocks/1/block_id", "to"), "/view/blocks/1/block_id"),
    "block_id over 255": (_set("blocks/0/block_id", "x" * 256), "/view/blocks/0/block_id"),
    "unknown block type": (_set("blocks/2/type", "sectoin"), "/view/blocks/2/type"),
    "action_id over 255": (
        _set("blocks/0/element/action_id", "x" * 256),
        "/view/blocks/0/element/action_id",
    ),
    "duplicate action_id in a block": (
        _set("blocks/4/elements", [BUTTON, BUTTON]),
        "/view/blocks/4/elements/1/action_id",
    ),
    "input without label": (_drop("blocks/0/label"), "/view/blocks/0/label"),
    "label over 2000": (_set("blocks/0/label", plain("x" * 2001)), "/view/blocks/0/label/text"),
    "input without element": (_drop("blocks/0/element"), "/view/blocks/0/element"),
    "unknown input element": (
        _set("blocks/0/element", {"type": "button", "text": plain("x")}),
        "/view/blocks/0/element/type",
    ),
    "placeholder over 150": (
        _set("blocks/0/element/placeholder", plain("x" * 151)),
        "/view/blocks/0/element/placeholder/text",
    ),
    "initial_option not among the options": (
        _set("blocks/1/element/initial_option", option("sandbox", "Sandbox ")),
        "/view/blocks/1/element/initial_option",
    ),
    "over 100 options": (
        _set("blocks/1/element/options", [option(f"v{i}") for i in range(101)]),
        "/view/blocks/1/element/options",
    ),
    "option text over 75": (
        _set("blocks/1/element/options/1", option("bird", "x" * 76)),
        "/view/blocks/1/element/options/1/text/text",
    ),
    "option value over 150": (
        _set("blocks/1/element/options/1", option("x" * 151, "Bird")),
        "/view/blocks/1/element/options/1/value",
    ),
    "select without options": (
        _drop("blocks/1/element/options"),
        "/view/blocks/1/element/options",
    ),
    "section text over 3000": (
        _set("blocks/2/text", plain("x" * 3001)),
        "/view/blocks/2/text/text",
    ),
    "context over 10 elements": (
        _set("blocks/3/elements", [plain("x")] * 11),
        "/view/blocks/3/elements",
    ),
    "actions over 25 elements": (
        _set("blocks/4/elements", _many(26, BUTTON)),
        "/view/blocks/4/elements",
    ),
    "button text over 75": (
        _set("blocks/4/elements/0/text", plain("x" * 76)),
        "/view/blocks/4/elements/0/text/text",
    ),
    "button value over 2000": (
        _set("blocks/4/elements/0/value", "x" * 2001),
        "/view/blocks/4/elements/0/value",
    ),
}


def test_the_valid_view_is_accepted(fake_slack: FakeSlack) -> None:
    assert open_view(fake_slack, _valid())["ok"]


@pytest.mark.parametrize("rule", list(REFUSED))
def test_views_open_refuses_what_slack_refuses(fake_slack: FakeSlack, rule: str) -> None:
    change, pointer = REFUSED[rule]
    view = _valid()
    change(view)

    answer = open_view(fake_slack, view)

    assert answer["ok"] is False and answer["error"] == "invalid_arguments"
    messages = answer["response_metadata"]["messages"]
    assert any(
        m.startswith("[ERROR]") and m.endswith(f"[json-pointer:{pointer}]") for m in messages
    ), messages


def test_a_view_over_250_kb_is_too_large(fake_slack: FakeSlack) -> None:
    sections = [{"type": "section", "text": plain("x" * 2900)} for _ in range(90)]

    answer = open_view(fake_slack, modal(*sections))

    assert answer == {"ok": False, "error": "view_too_large"}


def test_views_update_checks_the_view_too(fake_slack: FakeSlack) -> None:
    view = opened(fake_slack, modal())

    answer = call(fake_slack, "views.update", view_id=view["id"], view=modal(title=plain("x" * 25)))

    assert answer["error"] == "invalid_arguments"


def test_conversations_open_gives_the_users_dm(fake_slack: FakeSlack) -> None:
    answer = call(fake_slack, "conversations.open", users=HUMAN_USER)

    assert answer["ok"] and answer["channel"]["id"] == "D" + HUMAN_USER[1:]
    assert call(fake_slack, "conversations.open")["error"] == "users_list_not_supplied"


# -- the Form: state as Slack's client sends it ---------------------------------------


def _every_element() -> dict[str, Any]:
    def inp(label: str, element: dict[str, Any], **block: Any) -> dict[str, Any]:
        return {
            "type": "input",
            "block_id": f"{element['action_id'][:-2]}_b",
            "label": plain(label),
            "element": element,
            **block,
        }

    days = [option("mon", "Mon"), option("tue", "Tue")]
    return modal(
        inp(
            "Title", {"type": "plain_text_input", "action_id": "title_a", "initial_value": "Weekly"}
        ),
        inp(
            "Priority",
            {
                "type": "static_select",
                "action_id": "prio_a",
                "options": [option("high"), option("low")],
            },
        ),
        inp("Project", {"type": "external_select", "action_id": "proj_a"}, optional=True),
        inp(
            "Tags",
            {"type": "multi_static_select", "action_id": "tags_a", "options": [option("ops")]},
            optional=True,
        ),
        inp("Date", {"type": "datepicker", "action_id": "date_a", "initial_date": "2026-09-01"}),
        inp(
            "Time",
            {"type": "timepicker", "action_id": "time_a", "timezone": "Europe/Amsterdam"},
            optional=True,
        ),
        inp("When", {"type": "datetimepicker", "action_id": "when_a"}, optional=True),
        inp("Channel", {"type": "conversations_select", "action_id": "chan_a"}, optional=True),
        inp(
            "Days",
            {
                "type": "checkboxes",
                "action_id": "days_a",
                "options": days,
                "initial_options": [days[0]],
            },
        ),
        inp(
            "Frequency",
            {"type": "radio_buttons", "action_id": "freq_a", "options": [option("weekly")]},
            optional=True,
        ),
        inp(
            "Count",
            {"type": "number_input", "action_id": "count_a", "is_decimal_allowed": False},
            optional=True,
        ),
        {
            "type": "section",
            "block_id": "conn_b",
            "text": plain("Connection"),
            "accessory": {
                "type": "static_select",
                "action_id": "conn_a",
                "options": [option("sandbox"), option("bird")],
            },
        },
        {
            "type": "actions",
            "block_id": "rows_b",
            "elements": [
                {"type": "button", "action_id": "cancel", "text": plain("Cancel"), "value": "7"},
                {"type": "button", "action_id": "cancel_8", "text": plain("Cancel"), "value": "8"},
            ],
        },
    )


def test_state_values_have_slacks_shapes(fake_slack: FakeSlack) -> None:
    """State value shapes (``state.values[block_id][action_id]``, always with ``type``),
    slack.md §2.3:

    | element `type` | key | value shape | empty/unset |
    |---|---|---|---|
    | `plain_text_input` | `value` | string | `null` |
    | `static_select`, `external_select`, `radio_buttons` | `selected_option` | {`text`: {`type`,`text`,`emoji`?}, `value`} | `null` |
    | `multi_static_select`, `multi_external_select`, `checkboxes` | `selected_options` | list of the same | `[]` |
    | `datepicker` | `selected_date` | `"YYYY-MM-DD"` | `null` |
    | `timepicker` | `selected_time` | `"HH:mm"` (24h); may carry `timezone` when the element set one | `null` |
    | `datetimepicker` | `selected_date_time` | **integer** Unix seconds | `null` |
    | `conversations_select` / `channels_select` / `users_select` | `selected_conversation` / `selected_channel` / `selected_user` | ID string | `null` |
    | `multi_conversations_select` etc. | `selected_conversations` / `selected_channels` / `selected_users` | list of IDs | `[]` |
    """  # noqa: E501 (Slack's table, quoted as it stands)
    form = Form(opened(fake_slack, _every_element()))

    untouched = form.values()
    form.choose("Priority", "high").choose("Project", "p-17").choose("Tags", "ops")
    form.fill("Time", dt.time(9, 30)).fill("Channel", "C111").choose("Frequency", "weekly")
    form.fill("When", dt.datetime(2026, 9, 1, 7, 30, tzinfo=dt.UTC)).fill("Count", 3)
    form.fill("Title", "Weekly sync").choose("Connection", "Bird")
    values = form.values()

    assert untouched["title_b"]["title_a"] == {"type": "plain_text_input", "value": "Weekly"}
    assert untouched["prio_b"]["prio_a"] == {"type": "static_select", "selected_option": None}
    assert untouched["tags_b"]["tags_a"] == {"type": "multi_static_select", "selected_options": []}
    assert untouched["date_b"]["date_a"] == {"type": "datepicker", "selected_date": "2026-09-01"}
    assert untouched["days_b"]["days_a"]["selected_options"] == [option("mon", "Mon")]
    assert untouched["when_b"]["when_a"] == {"type": "datetimepicker", "selected_date_time": None}
    assert "rows_b" not in untouched  # buttons hold no state
    assert values["title_b"]["title_a"]["value"] == "Weekly sync"
    assert values["prio_b"]["prio_a"]["selected_option"] == option("high")
    assert values["proj_b"]["proj_a"]["selected_option"]["value"] == "p-17"
    assert values["tags_b"]["tags_a"]["selected_options"] == [option("ops")]
    assert values["time_b"]["time_a"] == {
        "type": "timepicker",
        "selected_time": "09:30",
        "timezone": "Europe/Amsterdam",
    }
    assert values["when_b"]["when_a"]["selected_date_time"] == 1788247800
    assert values["chan_b"]["chan_a"] == {
        "type": "conversations_select",
        "selected_conversation": "C111",
    }
    assert values["freq_b"]["freq_a"]["selected_option"] == option("weekly")
    assert values["count_b"]["count_a"] == {"type": "number_input", "value": "3"}
    assert values["conn_b"]["conn_a"]["selected_option"] == option("bird")


def test_form_refuses_what_the_client_cannot_send(fake_slack: FakeSlack) -> None:
    form = Form(opened(fake_slack, _every_element()))

    with pytest.raises(ValueError, match="offers only"):
        form.choose("Priority", "urgent")
    with pytest.raises(ValueError):
        form.fill("Count", "2.5")
    with pytest.raises(ValueError):
        form.fill("Date", "2026-02-30")
    with pytest.raises(TypeError):
        form.fill("Priority", "high")
    with pytest.raises(LookupError):
        form.fill("Nope", "x")
    with pytest.raises(ValueError, match="Priority"):
        view_submission_body(fake_slack, form)  # a required select is still empty


def test_form_actions_are_what_block_actions_carry(fake_slack: FakeSlack) -> None:
    form = Form(opened(fake_slack, _every_element()))

    selected = form.choose("Connection", "sandbox").action()
    pressed = form.action("Cancel", value="8")

    assert selected["type"] == "static_select"
    assert selected["block_id"] == "conn_b" and selected["action_id"] == "conn_a"
    assert selected["selected_option"] == option("sandbox")
    assert pressed["action_id"] == "cancel_8" and pressed["value"] == "8"
    assert pressed["text"] == plain("Cancel")
    with pytest.raises(ValueError, match="dispatch_action"):
        form.fill("Title", "x").action()


def test_block_actions_in_a_modal_carry_the_view_and_a_fresh_trigger(
    fake_slack: FakeSlack,
) -> None:
    view = opened(fake_slack, _every_element())
    form = Form(view).choose("Connection", "bird")

    payload = block_actions_body(fake_slack, form)
    pushed = call(
        fake_slack, "views.push", trigger_id=payload["trigger_id"], view=modal(title=plain("More"))
    )

    assert payload["type"] == "block_actions"
    assert payload["container"] == {"type": "view", "view_id": view["id"]}
    assert payload["view"]["hash"] == view["hash"]
    assert (
        payload["view"]["state"]["values"]["conn_b"]["conn_a"]["selected_option"]["value"] == "bird"
    )
    assert "response_url" not in payload and "channel" not in payload
    assert payload["user"] == {
        "id": HUMAN_USER,
        "username": "alice",
        "name": "alice",
        "team_id": "T111",
    }
    assert pushed["ok"] and pushed["view"]["previous_view_id"] == view["id"]


def test_block_actions_on_a_message_carry_channel_message_and_response_url(
    fake_slack: FakeSlack,
) -> None:
    blocks = [{"type": "actions", "block_id": "r", "elements": [{**BUTTON, "value": "42"}]}]
    posted = call(fake_slack, "chat.postMessage", channel="C111", text="Sent", blocks=blocks)
    message = fake_slack.messages[("C111", posted["ts"])]

    payload = block_actions_body(
        fake_slack, Form.for_message(message), Form.for_message(message).action("B")
    )

    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": "C111",
        "is_ephemeral": False,
    }
    assert payload["channel"]["id"] == "C111" and payload["message"]["ts"] == posted["ts"]
    assert payload["response_url"] == fake_slack.response_url
    assert payload["actions"][0]["value"] == "42"
    assert payload["state"] == {"values": {}}


def test_an_update_keeps_what_the_user_typed_where_ids_are_unchanged(
    fake_slack: FakeSlack,
) -> None:
    view = opened(fake_slack, modal(text_input("To", "to"), text_input("Body", "body")))
    form = Form(view).fill("To", "+31612345678").fill("Body", "Hello")
    replaced = modal(text_input("To", "to"), text_input("Body", "body_2", initial_value="Hi"))
    call(fake_slack, "views.update", view_id=view["id"], view=replaced)

    payload = view_submission_body(fake_slack, form)

    values = payload["view"]["state"]["values"]
    assert values["to"]["to_a"]["value"] == "+31612345678"
    assert values["body_2"]["body_2_a"]["value"] == "Hi"
    assert payload["view"]["hash"] == fake_slack.view(view["id"])["hash"]


def test_settle_submission_does_what_slack_does_with_the_answer(fake_slack: FakeSlack) -> None:
    view = opened(fake_slack, modal(text_input("To", "to")))

    errors = fake_slack.settle_submission(
        view["id"], json.dumps({"response_action": "errors", "errors": {"to": "Not a number"}})
    )
    fake_slack.settle_submission(
        view["id"], {"response_action": "update", "view": modal(title=plain("Sent"))}
    )
    updated = fake_slack.view(view["id"])
    with pytest.raises(AssertionError, match="refuses"):
        fake_slack.settle_submission(
            view["id"], {"response_action": "push", "view": modal(title=plain("x" * 25))}
        )
    fake_slack.settle_submission(view["id"], "")

    assert errors == {"to": "Not a number"}
    assert updated["title"]["text"] == "Sent" and updated["hash"] != view["hash"]
    assert fake_slack.open_views == []


def test_wire_is_a_payload_form_field() -> None:
    assert wire({"type": "shortcut"}) == b"payload=%7B%22type%22%3A%22shortcut%22%7D"


def test_shortcut_body_carries_an_exchangeable_trigger(fake_slack: FakeSlack) -> None:
    payload = shortcut_body(fake_slack, "herald_compose")

    assert payload["type"] == "shortcut" and payload["callback_id"] == "herald_compose"
    assert call(fake_slack, "views.open", trigger_id=payload["trigger_id"], view=modal())["ok"]


def test_app_home_opened_publishes_a_home_slack_accepts(running: RunningHerald) -> None:
    answer = running.event(app_home_opened_body(running.slack))

    assert answer.status_code == 200
    home = running.slack.wait_for(lambda s: s.home_of(HUMAN_USER))
    assert home["type"] == "home"
    again = app_home_opened_body(running.slack)
    assert again["event"]["view"]["id"] == home["id"]


def test_a_deep_copy_is_handed_out(fake_slack: FakeSlack) -> None:
    view = opened(fake_slack, modal())
    mine = fake_slack.view(view["id"])
    mine["blocks"].clear()

    assert fake_slack.view(view["id"]) == copy.deepcopy(view)


def test_a_block_id_is_found_before_an_action_id_or_label_of_the_same_name(
    fake_slack: FakeSlack,
) -> None:
    view = opened(
        fake_slack,
        modal(
            text_input("Message", "message"),
            {
                **text_input("Body", "var_message"),
                "element": {"type": "plain_text_input", "action_id": "message"},
            },
            text_input("message", "other"),
        ),
    )

    form = Form(view).fill("message", "by block id").fill("Body", "by label")

    assert form.values()["message"]["message_a"]["value"] == "by block id"
    assert form.values()["var_message"]["message"]["value"] == "by label"
