"""The compose modal's form: what a person filled in, read from the view's state, and the
`SendRequest` it asks for.

Slack sends the state of every stateful element with each action and with the
submission (``view.state.values[block_id][action_id]``, slack.md §2.3); this module is
the one place that knows the form's block ids and how each element's value looks on the
wire. Block ids are the keys of ``response_action: errors``, so an `InputError`'s
``fields`` map straight onto them (`field_errors`).

What the view itself does not hold — where it was opened (a channel to post the receipt
in by default, the id being edited, whose it is) — travels in the view's
``private_metadata`` as a small JSON object (`Origin`), which comes back signed with
each action and the submission.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.errors import InputError
from bot.scheduling.zones import known_zone
from bot.sending.lists import is_list_reference
from bot.sending.recipients import normalize_recipient, split_recipients
from bot.sending.requests import SendRequest
from providers import Channel

# block ids (each input's block, and its element's action id with the prefix below)
CONNECTION = "connection"
TO = "to"
TEMPLATE = "template"
MESSAGE = "message"
SUBJECT = "subject"
MEDIA = "media"
SEND_AT = "send_at"
REPEAT = "repeat"
RECEIPT_TO = "receipt_to"
VARIABLE = "var:"  # + the variable's name
ACTION_PREFIX = "compose_"  # every element's action id: the prefix and its block id

NO_TEMPLATE = "-"
NEVER = "never"
KEEP_RULE = "keep"  # an edited schedule whose rule the menu cannot say (cron, mon,thu…)
REPEATS = {
    NEVER: "Never",
    "daily": "Daily",
    "weekdays": "Weekdays (Mon–Fri)",
    "weekly": "Weekly",
    "monthly": "Monthly",
}
METADATA_LIMIT = 3000  # Slack's cap on private_metadata
SHOWN_BAD = 5  # bad recipients named on To
LATEST = 32_503_680_000  # 3000-01-01: a picked time beyond this is not a time Herald reads
_CONVERSATION = re.compile(r"[CGD][A-Z0-9]{2,30}")  # a channel, private channel or DM
TEMPLATE_CHANGED = (
    "This template's blanks changed since the form was drawn: choose the template again "
    "to see them."
)
UNREADABLE = "Slack sent something here Herald cannot read: choose it again."
_FIRST_TIME = (
    "Choose when the first one goes out: a repeating send starts at this time and repeats "
    "at the same time of day."
)

_FIELD_BLOCK = {
    "connection": CONNECTION,
    "recipients": TO,
    "text": MESSAGE,
    "subject": SUBJECT,
    "media": MEDIA,
    "template": TEMPLATE,
    "at": SEND_AT,
    "every": REPEAT,
    "until": SEND_AT,
}


def action_id(block_id: str) -> str:
    """The action id of the element in the form's block ``block_id``."""
    return ACTION_PREFIX + block_id


@dataclass(frozen=True)
class Origin:
    """Where the modal was opened, kept in ``private_metadata``.

    ``via``: ``command``, ``home``, ``shortcut`` or ``edit``. ``channel``: the
    conversation the command came from, or where an edited message's receipt is (the
    receipt's default place). ``editing``: the id an Edit saves over (`Herald.edit`
    decides whether that moves it or replaces it); ``rule``/``until``: the edited
    schedule's, kept when the menu cannot show them.
    """

    via: str = "command"
    channel: str | None = None
    editing: str | None = None
    zone: str | None = None  # an edit's: the zone its time and rule were read in
    rule: str | None = None
    until: str | None = None

    def dump(self) -> str:
        data = {k: v for k, v in self.__dict__.items() if v is not None}
        text = json.dumps(data, separators=(",", ":"))
        if len(text) > METADATA_LIMIT:  # only a pathological rule could do this
            kept = {"via": self.via, "editing": self.editing, "zone": self.zone}
            text = json.dumps(kept, separators=(",", ":"))
        return text

    @classmethod
    def load(cls, text: object) -> Origin:
        """The origin in ``text``; anything unreadable is a fresh compose (it is Herald's
        own JSON, but it arrives in a request, so nothing about it is assumed)."""
        try:
            data = json.loads(text) if isinstance(text, str) and text else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        fields = ("via", "channel", "editing", "zone", "rule", "until")
        kept = {k: str(data[k])[:300] for k in fields if isinstance(data.get(k), str)}
        if "zone" in kept and known_zone(kept["zone"]) is None:
            del kept["zone"]
        return cls(**kept)


@dataclass(frozen=True)
class ComposeForm:
    """What the form holds: each field as the person left it (text stripped)."""

    connection: str | None = None
    to: str = ""
    template: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    message: str = ""
    subject: str = ""
    media: str = ""
    send_at: int | None = None  # Unix seconds (the date-time picker's value)
    repeat: str = NEVER
    receipt_to: str | None = None
    unreadable: tuple[str, ...] = ()  # blocks whose value Slack sent in a shape it never uses

    @property
    def recipients(self) -> list[str]:
        return split_recipients(self.to)


def read_form(view: Mapping[str, Any]) -> ComposeForm:
    """The form in ``view``'s state (a ``block_actions`` or ``view_submission`` view)."""
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    if not isinstance(values, dict):
        return ComposeForm()

    def element(block_id: str) -> dict[str, Any]:
        block = values.get(block_id)
        if not isinstance(block, dict):
            return {}
        found = block.get(action_id(block_id))
        return found if isinstance(found, dict) else {}

    def text(block_id: str) -> str:
        value = element(block_id).get("value")
        return value.strip() if isinstance(value, str) else ""

    def option(block_id: str) -> str | None:
        chosen = element(block_id).get("selected_option")
        value = chosen.get("value") if isinstance(chosen, dict) else None
        return value if isinstance(value, str) and value else None

    unreadable: list[str] = []
    when = element(SEND_AT).get("selected_date_time")
    if when is not None and not _instant(when):
        unreadable.append(SEND_AT)
        when = None
    conversation = element(RECEIPT_TO).get("selected_conversation")
    if conversation is not None and not (
        isinstance(conversation, str) and _CONVERSATION.fullmatch(conversation)
    ):
        unreadable.append(RECEIPT_TO)
        conversation = None
    chosen = element(REPEAT).get("selected_option")
    repeat = option(REPEAT) or NEVER
    if (chosen is not None and option(REPEAT) is None) or repeat not in {*REPEATS, KEEP_RULE}:
        unreadable.append(REPEAT)
        repeat = NEVER
    template = option(TEMPLATE)
    variables = {
        block_id.removeprefix(VARIABLE): text(block_id)
        for block_id in values
        if isinstance(block_id, str) and block_id.startswith(VARIABLE) and text(block_id)
    }
    return ComposeForm(
        connection=option(CONNECTION),
        to=text(TO),
        template=None if template in (None, NO_TEMPLATE) else template,
        variables=variables,
        message=text(MESSAGE),
        subject=text(SUBJECT),
        media=text(MEDIA),
        send_at=when,
        repeat=repeat,
        receipt_to=conversation,
        unreadable=tuple(unreadable),
    )


def _instant(value: object) -> bool:
    """Whether ``value`` is a date-time picker's value Herald can use: whole Unix seconds
    between 1970 and 3000 (later is refused as beyond the horizon, with words)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < LATEST


def rule_of(repeat: str, first: datetime, zone: ZoneInfo, kept: str | None = None) -> str | None:
    """The ``--every`` rule the **Repeat** menu means, at ``first``'s wall-clock time in
    ``zone`` (None: it does not repeat)."""
    if repeat == KEEP_RULE:
        return kept
    local = first.astimezone(zone)
    clock = local.strftime("%H:%M")
    if repeat == "daily":
        return f"daily {clock}"
    if repeat == "weekdays":
        return f"weekdays {clock}"
    if repeat == "weekly":
        return f"{local.strftime('%A').lower()} {clock}"
    if repeat == "monthly":
        return f"monthly {local.day} {clock}"
    return None


def repeat_of(rule: str | None) -> str:
    """The **Repeat** choice that shows ``rule`` (`KEEP_RULE` when none can)."""
    if rule is None:
        return NEVER
    words = rule.split()
    if len(words) == 2 and words[0] in ("daily", "weekdays"):
        return words[0]
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    if len(words) == 2 and words[0] in days + tuple(day[:3] for day in days):
        return "weekly"
    if len(words) == 3 and words[0] == "monthly":
        return "monthly"
    return KEEP_RULE


def request_of(
    form: ComposeForm, origin: Origin, *, user: str, zone: str | None, default_zone: ZoneInfo
) -> SendRequest:
    """The send ``form`` asks for; raises `InputError` for what only the form can get
    wrong (a repeat without a first time). Everything else is checked where every send is
    (`bot.sending`), and its errors land on their fields through `field_errors`."""
    if form.repeat != NEVER and form.send_at is None:
        raise InputError(_FIRST_TIME, code="when_invalid", fields=("at",))
    at = every = None
    if form.send_at is not None:
        first = datetime.fromtimestamp(form.send_at, UTC)
        every = rule_of(form.repeat, first, ZoneInfo(zone) if zone else default_zone, origin.rule)
        if every is not None and form.repeat != KEEP_RULE:
            # the rule names the minute: its first time is that minute, not a week later
            first = first.replace(second=0, microsecond=0)
        at = first.isoformat()
    return SendRequest(
        connection=form.connection or "",
        recipients=form.recipients,
        text=form.message,
        subject=form.subject or None,
        media_urls=(form.media,) if form.media else (),
        template=form.template,
        variables=dict(form.variables),
        at=at,
        every=every,
        until=origin.until if every else None,
        timezone=zone,
        sender=user,
        origin="slack",
        # nothing chosen: where an edited message's receipt was (a DM the menu cannot
        # show), else the person's direct messages with Herald
        announce_to=form.receipt_to or (origin.channel if origin.via == "edit" else None) or user,
    )


def check_form(
    form: ComposeForm,
    channel: Channel | None,
    now: datetime,
    *,
    shown: Sequence[str],
    kept_rule: str | None = None,
) -> dict[str, str]:
    """The mistakes the form can see by itself, each on its field, all at once (the send
    pipeline stops at its first); a form without them goes on to `bot.sending`."""
    errors: dict[str, str] = dict.fromkeys(form.unreadable, UNREADABLE)
    if form.repeat == KEEP_RULE and not kept_rule:
        errors[REPEAT] = UNREADABLE
    if channel is not None:
        bad = []
        for entry in form.recipients:
            if is_list_reference(entry):
                continue  # read and checked with the send
            try:
                normalize_recipient(entry, channel)
            except InputError as error:
                bad.append(_first_sentence(str(error)))
        if bad:
            more = f" (and {len(bad) - SHOWN_BAD} more)" if len(bad) > SHOWN_BAD else ""
            errors[TO] = "Fix: " + " · ".join(bad[:SHOWN_BAD]) + more
    if form.template is None and not form.message:
        errors[MESSAGE] = "Write the message, or choose a template."
    if form.send_at is not None and form.send_at <= now.timestamp():
        errors[SEND_AT] = "That time has passed: choose a time that is still ahead."
    elif form.repeat != NEVER and form.send_at is None and not errors.keys() & {SEND_AT, REPEAT}:
        errors[SEND_AT] = _FIRST_TIME
    return {k: v[:2000] for k, v in errors.items() if k in shown}


def _first_sentence(text: str) -> str:
    stops = (text.find(". "), text.find("; "), text.find(": "))
    end = min((i for i in stops if i > 0), default=len(text))
    return text[:end].rstrip(".")


def input_blocks(view: object) -> list[str]:
    """The block ids of ``view``'s inputs, top to bottom: the only blocks Slack takes
    errors for."""
    blocks = view.get("blocks") if isinstance(view, dict) else None
    return [
        block["block_id"]
        for block in (blocks if isinstance(blocks, list) else [])
        if isinstance(block, dict)
        and block.get("type") == "input"
        and isinstance(block.get("block_id"), str)
        and block["block_id"]
    ]


def on_top(shown: Sequence[str], text: str) -> dict[str, str]:
    """``text`` as the error of the form's first field (Connection), for what no field
    can fix; empty only for a view with no input at all, which cannot be submitted."""
    top = next((b for b in (CONNECTION, TO) if b in shown), shown[0] if shown else None)
    return {top: text[:2000]} if top else {}


def field_errors(error: InputError, shown: Sequence[str], form: ComposeForm) -> dict[str, str]:
    """``error`` on the blocks of ``shown`` (the view's input blocks) it is about; Slack
    refuses errors for blocks a view does not have, so the rest fall back to the first
    field there is (the error still says what is wrong)."""
    said = str(error)[:2000]
    errors: dict[str, str] = {}
    for name in error.fields:
        if name == "variables":
            missing = [VARIABLE + n for n in error.names("missing") if VARIABLE + n in shown]
            for block_id in missing:
                errors[block_id] = "The template needs this: fill it in."
            # a filter that cannot read a value quotes it: that value's field has the error
            unreadable = [
                VARIABLE + n
                for n, value in form.variables.items()
                if f"'{value}'" in said and VARIABLE + n in shown
            ]
            for block_id in unreadable:
                errors[block_id] = said
            if not missing and not unreadable:
                # its fields are not the ones the template has now: it changed on disk
                changed = error.code in ("template_variables_missing", "template_variables_unknown")
                errors[TEMPLATE] = TEMPLATE_CHANGED if changed else said
            continue
        block = _FIELD_BLOCK.get(name)
        if block is not None:
            errors[block] = said
    kept = {k: v for k, v in errors.items() if k in shown}
    if not kept:
        fallback = next((b for b in (TO, CONNECTION) if b in shown), None)
        if fallback is None and shown:
            fallback = shown[0]
        if fallback is not None:
            kept[fallback] = said
    return kept
