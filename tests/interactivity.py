"""Acting as Slack's client for modals, App Home and message buttons (slack.md §2.3, §2.4).

``Form`` is what the user's Slack client keeps for one surface (a view the fake holds, or a
posted message): the state of every stateful element, starting from each element's
``initial_*`` value, changed by ``fill``/``choose``, and read back exactly as Slack sends it
(``values()`` → ``state.values``; ``action()`` → one entry of a ``block_actions`` payload's
``actions``). It refuses what the client would not let a user do — choose a value that is
not among the options, submit with a required input empty, type letters in a number input.

The ``*_body`` functions build the payloads Slack posts, with a fresh ``trigger_id`` the fake
accepts; ``RunningHerald.interact(payload)`` / ``RunningHerald.event(body)`` sign and send
them. ``wire(payload)`` gives the exact form bytes (``payload=<URL-encoded JSON>``).

    form = Form(running.slack.latest_view(ids.COMPOSE_VIEW))
    form.choose("Connection", "sandbox").fill("To", "+31612345678")
    answer = running.interact(view_submission_body(running.slack, form))
    running.slack.settle_submission(form.view_id, answer.text)
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import time
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlencode

from tests.fakes.slack_api import BOT_USER, HUMAN_USER, FakeSlack, Posted

TEAM = {"id": "T111", "domain": "acme"}
APP_ID = "A111"


def slack_user(user_id: str = HUMAN_USER, name: str = "alice") -> dict[str, str]:
    return {"id": user_id, "username": name, "name": name, "team_id": TEAM["id"]}


# state.values key and the element attribute holding its initial value, per element type
_STATE: dict[str, tuple[str, str]] = {
    "plain_text_input": ("value", "initial_value"),
    "number_input": ("value", "initial_value"),
    "email_text_input": ("value", "initial_value"),
    "url_text_input": ("value", "initial_value"),
    "static_select": ("selected_option", "initial_option"),
    "external_select": ("selected_option", "initial_option"),
    "radio_buttons": ("selected_option", "initial_option"),
    "multi_static_select": ("selected_options", "initial_options"),
    "multi_external_select": ("selected_options", "initial_options"),
    "checkboxes": ("selected_options", "initial_options"),
    "users_select": ("selected_user", "initial_user"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "channels_select": ("selected_channel", "initial_channel"),
    "multi_users_select": ("selected_users", "initial_users"),
    "multi_conversations_select": ("selected_conversations", "initial_conversations"),
    "multi_channels_select": ("selected_channels", "initial_channels"),
    "datepicker": ("selected_date", "initial_date"),
    "timepicker": ("selected_time", "initial_time"),
    "datetimepicker": ("selected_date_time", "initial_date_time"),
}
_WITH_OPTIONS = frozenset(
    {"static_select", "radio_buttons", "multi_static_select", "checkboxes", "overflow"}
)
_EXTERNAL = frozenset({"external_select", "multi_external_select"})
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class Element:
    """One interactive element where the user sees it."""

    def __init__(self, block: dict[str, Any], element: dict[str, Any]) -> None:
        if "block_id" not in block or "action_id" not in element:
            raise ValueError(
                "build the Form over the view the fake holds (fake.view / fake.latest_view): "
                "Slack fills in the block_id and action_id the app left out"
            )
        self.block = block
        self.element = element
        self.type: str = element["type"]
        self.block_id: str = block["block_id"]
        self.action_id: str = element["action_id"]

    @property
    def in_input(self) -> bool:
        return bool(self.block["type"] == "input")

    @property
    def stateful(self) -> bool:
        return self.type in _STATE

    def names(self) -> list[set[str]]:
        """What a test may call it by, most exact first: block_id, action_id, the input's
        label, then the section's text, the button's text or the placeholder."""
        texts: list[set[str]] = [{self.block_id}, {self.action_id}, set(), set()]
        for tier, text in (
            (2, self.block.get("label")),
            (3, self.block.get("text") if self.block["type"] == "section" else None),
            (3, self.element.get("text")),
            (3, self.element.get("placeholder")),
        ):
            if isinstance(text, dict) and isinstance(text.get("text"), str):
                texts[tier].add(text["text"])
        return texts

    def options(self) -> list[dict[str, Any]]:
        groups = self.element.get("option_groups")
        if groups is not None:
            return [o for g in groups for o in g.get("options", [])]
        return list(self.element.get("options", []))

    def option(self, wanted: str | dict[str, Any]) -> dict[str, Any]:
        """The option the user picks, by value (or text); external selects take any
        value, the app's options endpoint having offered it."""
        if self.type in _EXTERNAL:
            if isinstance(wanted, dict):
                return wanted
            return {"text": {"type": "plain_text", "text": wanted, "emoji": True}, "value": wanted}
        options = self.options()
        found = [o for o in options if o == wanted]
        found = found or [o for o in options if o.get("value") == wanted]
        found = found or [o for o in options if o.get("text", {}).get("text") == wanted]
        if found:
            return copy.deepcopy(found[0])
        offered = [o.get("value") for o in options]
        raise ValueError(f"{self.action_id}: Slack offers only {offered}, not {wanted!r}")

    def initial(self) -> Any:
        key, initial = _STATE[self.type]
        value = self.element.get(initial)
        if value is None:
            return [] if key.endswith("s") else None
        return copy.deepcopy(value)


class Form:
    """A Slack client's view of one surface: ``Form(fake.view(view_id))``, or
    ``Form.for_message(posted)`` for the buttons of a posted message."""

    def __init__(self, view: dict[str, Any] | None, *, message: Posted | None = None) -> None:
        if view is None:
            raise ValueError("no view: did the app open or publish one?")
        self.view = copy.deepcopy(view)
        self.message = message
        self._changed: dict[tuple[str, str], Any] = {}
        self.last: Element | None = None  # the element last changed (what action() gives)

    @classmethod
    def for_message(cls, posted: Posted) -> Form:
        return cls({"type": "message", "blocks": posted.blocks}, message=posted)

    @property
    def view_id(self) -> str:
        return str(self.view["id"])

    def elements(self) -> Iterator[Element]:
        for block in self.view.get("blocks", []):
            found = [block.get("accessory"), block.get("element")]
            if block["type"] == "actions":
                found += block.get("elements", [])
            for element in found:
                if isinstance(element, dict) and element.get("type") != "image":
                    yield Element(block, element)

    def find(self, name: str, *, value: str | None = None) -> Element:
        """The element called ``name`` (block_id, action_id, input label, section text,
        button text or placeholder); ``value`` picks among buttons sharing a name."""
        elements = list(self.elements())
        if value is not None:
            elements = [e for e in elements if e.element.get("value") == value]
        found: list[Element] = []
        for tier in range(4):  # an id beats a label, a label beats other text
            found = found or [e for e in elements if name in e.names()[tier]]
        if len(found) != 1:
            known = sorted({n for e in self.elements() for names in e.names() for n in names})
            raise LookupError(f"{len(found)} elements called {name!r} (value={value}); {known}")
        return found[0]

    # -- what the user does ------------------------------------------------------

    def fill(self, name: str, value: Any) -> Form:
        """Type or pick a free value: text, number, e-mail, URL, a date (``"YYYY-MM-DD"`` or
        a ``date``), a time (``"HH:mm"`` or a ``time``), a date and time (Unix seconds or an
        aware ``datetime``), a user/conversation/channel id (a list for the multi_ ones);
        ``None`` clears it."""
        element = self.find(name)
        if element.type in _WITH_OPTIONS or element.type in _EXTERNAL:
            raise TypeError(f"{name!r} is a {element.type}: use choose()")
        if element.type not in _STATE:
            raise TypeError(f"{name!r} is a {element.type}, which holds no value")
        return self._set(element, None if value is None else _typed(element, value))

    def choose(self, name: str, *picks: str | dict[str, Any] | None) -> Form:
        """Pick options by value or text (several for multi-selects and checkboxes, none
        to clear them; ``None`` deselects a single select)."""
        element = self.find(name)
        if element.type not in _WITH_OPTIONS and element.type not in _EXTERNAL:
            raise TypeError(f"{name!r} is a {element.type}: use fill()")
        chosen = [element.option(p) for p in picks if p is not None]
        key = _STATE.get(element.type, ("selected_option", ""))[0]
        if key.endswith("s"):
            return self._set(element, chosen)
        if len(picks) != 1:
            raise ValueError(f"{name!r} is a {element.type}: pick exactly one (or None)")
        return self._set(element, chosen[0] if chosen else None)

    def _set(self, element: Element, value: Any) -> Form:
        self._changed[(element.block_id, element.action_id)] = value
        self.last = element
        return self

    # -- what Slack sends --------------------------------------------------------

    def current(self, element: Element) -> Any:
        key = (element.block_id, element.action_id)
        return copy.deepcopy(self._changed[key]) if key in self._changed else element.initial()

    def values(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``state.values`` as Slack sends it: every stateful element of the surface."""
        values: dict[str, dict[str, dict[str, Any]]] = {}
        for element in self.elements():
            if element.stateful:
                entry = {"type": element.type, _STATE[element.type][0]: self.current(element)}
                if element.type == "timepicker" and element.element.get("timezone"):
                    entry["timezone"] = element.element["timezone"]
                values.setdefault(element.block_id, {})[element.action_id] = entry
        return values

    def action(self, name: str | None = None, *, value: str | None = None) -> dict[str, Any]:
        """The ``actions[0]`` Slack sends when the user acts on an element: a button press
        (``value`` picks among same-named buttons), an overflow item (``value``), or the
        change just made to a select/picker (``name`` defaults to the last one changed)."""
        if name is None:
            if self.last is None:
                raise ValueError("nothing changed yet: name the element")
            element = self.last
        else:
            element = self.find(name, value=value if self.find_buttons(name) else None)
        if element.in_input and not element.block.get("dispatch_action"):
            raise ValueError(
                f"{name!r} is in an input block without dispatch_action: "
                "Slack sends no block_actions for it"
            )
        action: dict[str, Any] = {
            "type": element.type,
            "block_id": element.block_id,
            "action_id": element.action_id,
            "action_ts": f"{time.time():.6f}",
        }
        if element.type in ("button", "workflow_button"):
            for key in ("text", "value", "url", "style"):
                if key in element.element:
                    action[key] = copy.deepcopy(element.element[key])
        elif element.type == "overflow":
            if value is None:
                raise ValueError("an overflow sends the item picked: give value=")
            action["selected_option"] = element.option(value)
        else:
            key, initial = _STATE[element.type]
            action[key] = self.current(element)
            if initial in element.element:
                action[initial] = copy.deepcopy(element.element[initial])
        return action

    def find_buttons(self, name: str) -> bool:
        return any(e.type == "button" and name in set().union(*e.names()) for e in self.elements())

    def missing(self) -> list[str]:
        """Required inputs still empty: Slack's client will not submit while there are any."""
        return [
            str(e.block.get("label", {}).get("text", e.block_id))
            for e in self.elements()
            if e.in_input and e.stateful and not e.block.get("optional")
            if self.current(e) in (None, [], "")
        ]

    def surface(self) -> dict[str, Any]:
        """The view as a payload carries it: the fake's copy with the client's state."""
        view = copy.deepcopy(self.view)
        view["state"] = {"values": self.values()}
        return view

    def follow(self, fake: FakeSlack) -> Form:
        """Show the view as Slack holds it now, as the client re-renders after a
        ``views.update``: what the user typed stays where block_id, action_id and element
        type are unchanged (that is why apps change a block_id to reset an input)."""
        if self.message is not None or "id" not in self.view:
            return self
        latest = fake.view(self.view_id)
        if latest["hash"] == self.view["hash"]:
            return self
        before = {(e.block_id, e.action_id): e.type for e in self.elements()}
        self.view = latest
        now = {(e.block_id, e.action_id): e.type for e in self.elements()}
        self._changed = {k: v for k, v in self._changed.items() if now.get(k) == before.get(k)}
        if self.last and (self.last.block_id, self.last.action_id) not in self._changed:
            self.last = None
        return self


def _typed(element: Element, value: Any) -> Any:
    """The value in the shape Slack stores for the element, refusing what its client would."""
    kind, spec = element.type, element.element
    if kind == "datepicker":
        text = value.isoformat() if isinstance(value, dt.date) else str(value)
        dt.date.fromisoformat(text)  # the picker offers only real dates
        return text
    if kind == "timepicker":
        text = value.strftime("%H:%M") if isinstance(value, dt.time) else str(value)
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text):
            raise ValueError(f"a timepicker gives HH:mm, not {text!r}")
        return text
    if kind == "datetimepicker":
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                raise ValueError("a datetimepicker is an instant: give an aware datetime")
            return int(value.timestamp())
        return int(value)
    if kind.startswith("multi_"):
        return [str(v) for v in value]
    text = str(value)
    if kind == "number_input":
        number = float(text)  # ValueError for letters, as the client refuses them
        if not spec.get("is_decimal_allowed") and not re.fullmatch(r"-?\d+", text):
            raise ValueError(f"{element.action_id} takes whole numbers only, not {text!r}")
        low, high = spec.get("min_value"), spec.get("max_value")
        if (low is not None and number < float(low)) or (high is not None and number > float(high)):
            raise ValueError(f"{element.action_id}: {text} is outside {low}..{high}")
    if kind == "email_text_input" and not _EMAIL.fullmatch(text):
        raise ValueError(f"Slack's client refuses {text!r} as an e-mail address")
    if kind == "url_text_input" and not re.match(r"https?://\S+", text):
        raise ValueError(f"Slack's client refuses {text!r} as a URL")
    if kind == "plain_text_input":
        limit = spec.get("max_length", 3000)
        if len(text) > limit:
            raise ValueError(f"{element.action_id} stops typing at {limit} characters")
    return text


# -- payloads ----------------------------------------------------------------------


def wire(payload: dict[str, Any]) -> bytes:
    """The form body Slack posts for an interaction: ``payload=<URL-encoded JSON>``."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()


def _common(kind: str, user: dict[str, str]) -> dict[str, Any]:
    return {
        "type": kind,
        "team": dict(TEAM),
        "user": dict(user),
        "api_app_id": APP_ID,
        "token": "legacy",
        "is_enterprise_install": False,
        "enterprise": None,
    }


def block_actions_body(
    fake: FakeSlack,
    form: Form,
    action: dict[str, Any] | None = None,
    *,
    user: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A ``block_actions`` payload for ``action`` (default: ``form.action()``, the last
    change) on the form's surface: a modal or Home view (``container`` of type view, the
    full ``view`` with its current hash and state) or a posted message (``container`` of
    type message, ``channel``, ``message``, ``state``, ``response_url``)."""
    user = user or slack_user()
    form.follow(fake)
    action = action or form.action()
    payload = _common("block_actions", user)
    if form.message is not None:
        posted = form.message
        payload["trigger_id"] = fake.issue_trigger(user=user["id"])
        payload["container"] = {
            "type": "message",
            "message_ts": posted.ts,
            "channel_id": posted.channel,
            "is_ephemeral": False,
        }
        payload["channel"] = {"id": posted.channel, "name": "support"}
        payload["message"] = {
            "type": "message",
            "ts": posted.ts,
            "user": BOT_USER,
            "bot_id": "B111",
            "text": posted.text,
            "blocks": copy.deepcopy(posted.blocks),
            **({"thread_ts": posted.thread_ts} if posted.thread_ts else {}),
        }
        payload["state"] = {"values": form.values()}
        payload["response_url"] = fake.response_url
    else:
        view_id = form.view_id
        payload["trigger_id"] = fake.issue_trigger(user=user["id"], view_id=view_id)
        payload["container"] = {"type": "view", "view_id": view_id}
        payload["view"] = form.surface()
    payload["actions"] = [action]
    return payload


def view_submission_body(
    fake: FakeSlack, form: Form, *, user: dict[str, str] | None = None
) -> dict[str, Any]:
    """The ``view_submission`` Slack posts when the user presses Submit; refused here
    (ValueError) while a required input is empty, as the client refuses to submit."""
    form.follow(fake)
    missing = form.missing()
    if missing:
        raise ValueError(f"Slack's client will not submit with {missing} empty")
    if not form.view.get("submit"):
        raise ValueError("the view has no submit button")
    user = user or slack_user()
    payload = _common("view_submission", user)
    payload["trigger_id"] = fake.issue_trigger(user=user["id"], view_id=form.view_id)
    payload["view"] = form.surface()
    payload["response_urls"] = []
    return payload


def view_closed_body(
    fake: FakeSlack, form: Form, *, cleared: bool = False, user: dict[str, str] | None = None
) -> dict[str, Any]:
    """Sent only for a view with ``notify_on_close``; has no trigger_id."""
    form.follow(fake)
    if not form.view.get("notify_on_close"):
        raise ValueError("Slack sends view_closed only for views with notify_on_close")
    payload = _common("view_closed", user or slack_user())
    payload["view"] = form.surface()
    payload["is_cleared"] = cleared
    return payload


def shortcut_body(
    fake: FakeSlack, callback_id: str, *, user: dict[str, str] | None = None
) -> dict[str, Any]:
    """A global shortcut (the lightning menu)."""
    user = user or slack_user()
    payload = _common("shortcut", user)
    payload["callback_id"] = callback_id
    payload["trigger_id"] = fake.issue_trigger(user=user["id"])
    payload["action_ts"] = f"{time.time():.6f}"
    return payload


def app_home_opened_body(
    fake: FakeSlack, user_id: str = HUMAN_USER, *, tab: str = "home"
) -> dict[str, Any]:
    """The Events API envelope of ``app_home_opened``; carries the user's Home view when
    one was published for them before."""
    now = time.time()
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": "D" + user_id[1:],
        "tab": tab,
        "event_ts": f"{now:.6f}",
    }
    home = fake.home_of(user_id)
    if home is not None:
        event["view"] = home
    return {
        "token": "legacy",
        "team_id": TEAM["id"],
        "api_app_id": APP_ID,
        "type": "event_callback",
        "event_id": f"Ev{time.time_ns():X}",
        "event_time": int(now),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM["id"],
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-eyJldCI6ImFwcF9ob21lX29wZW5lZCJ9",
        "event": event,
    }


def option_values(state_entry: dict[str, Any]) -> Iterable[str]:
    """The values chosen in one ``state.values[block][action]`` entry (tests' shorthand)."""
    chosen = state_entry.get("selected_options") or [state_entry.get("selected_option")]
    return [o["value"] for o in chosen if o]
