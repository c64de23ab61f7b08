"""The compose modal's view: `compose_view` draws the form as it should look now.

The view is drawn again (``views.update``) whenever a choice changes what it needs — a
connection (its channel decides Subject, Media URL and the WhatsApp note), a template
(one input per variable and a preview), the recipients (their count) — and every
element is drawn with what was in it (``initial_*``), so nothing typed is lost.
Input blocks that change the view carry ``dispatch_action``; text inputs dispatch when
Enter is pressed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.models import Schedule
from bot.options import rule_words, until_words
from bot.scheduling.when import describe_delta
from bot.slack import ids
from bot.slack.blocks.mrkdwn import (
    CHANNEL_LABEL,
    Block,
    clip,
    context,
    esc,
    section,
    slack_time,
)
from bot.slack.forms import (
    CONNECTION,
    KEEP_RULE,
    MEDIA,
    MESSAGE,
    NO_TEMPLATE,
    RECEIPT_TO,
    REPEAT,
    REPEATS,
    SEND_AT,
    SUBJECT,
    TEMPLATE,
    TO,
    VARIABLE,
    ComposeForm,
    Origin,
    action_id,
)
from bot.templating.library import TemplateInfo
from providers import Channel

OPTION_TEXT = 75  # Slack's cap on an option's text
MAX_OPTIONS = 100  # and on a menu's options
PREVIEW_TEXT = 2800  # a section takes 3,000 characters; the rest is the heading
SECTION_TEXT = 3000
PLACEHOLDER = 150
SUBJECT_SHOWN = 200  # characters of a subject the preview shows
MEDIA_CHANNELS = frozenset({Channel.MMS, Channel.WHATSAPP, Channel.EMAIL})
WHATSAPP_NOTE = (
    ":information_source: WhatsApp delivers a free-form message only to customers who "
    "wrote to you in the last 24 hours. For anyone else, choose a template that WhatsApp "
    "approved (its provider template is used)."
)


@dataclass(frozen=True)
class Preview:
    """The template rendered with what the form holds (samples for what it lacks)."""

    text: str
    subject: str | None = None
    analysis: str | None = None  # the SMS cost, for SMS connections
    with_samples: tuple[str, ...] = ()  # variables the preview filled with their samples
    problem: str | None = None  # why it could not be rendered


@dataclass(frozen=True)
class Shown:
    """What the form offers and says besides its fields' values."""

    connections: Mapping[str, Channel]  # name → channel, in the config's order
    templates: Sequence[TemplateInfo]
    zone: str  # the zone the person's times are in, for the hints
    template: TemplateInfo | None = None
    preview: Preview | None = None
    recipients_hint: str | None = None
    message_hint: str | None = None


def compose_view(form: ComposeForm, origin: Origin, shown: Shown) -> dict[str, Any]:
    """The modal for ``form`` as it stands."""
    channel = shown.connections.get(form.connection or "")
    blocks: list[Block] = [_connection(form, shown)]
    if channel is Channel.WHATSAPP:
        blocks.append(context(WHATSAPP_NOTE))
    blocks.append(_to(form, channel, shown))
    blocks.append(_template(form, channel, shown))
    info = shown.template
    if info is not None:
        for name in info.variable_order:
            blocks.append(_variable(name, info, form))
        if shown.preview is not None:
            blocks += _preview(shown.preview)
    blocks.append(_message(form, shown))
    if channel is Channel.EMAIL:
        needs = info is None or info.subject is None
        blocks.append(
            _text_input(
                SUBJECT,
                "Subject",
                form.subject,
                optional=not needs,
                hint=None if needs else "Leave empty to use the template's subject.",
            )
        )
    if channel in MEDIA_CHANNELS:
        blocks.append(
            _text_input(
                MEDIA,
                "Media URL",
                form.media,
                optional=True,
                placeholder="https://example.com/photo.jpg",
                hint="A public link to an image, video or file to attach.",
            )
        )
    blocks += [
        _send_at(form, shown, editing=origin.editing is not None),
        _repeat(form, origin),
        _receipt_to(form, origin),
    ]
    editing = origin.editing
    title = f"Edit #{editing}" if editing else "Send a message"
    submit = "Send now" if form.send_at is None else ("Save" if editing else "Schedule")
    return {
        "type": "modal",
        "callback_id": ids.COMPOSE_VIEW,
        "title": _plain(clip(title, 24)),
        "submit": _plain(submit),
        "close": _plain("Cancel"),
        "private_metadata": origin.dump(),
        "blocks": blocks,
    }


def option(text: str, value: str) -> dict[str, Any]:
    """A menu option, its text clipped to Slack's 75 characters."""
    return {"text": _plain(clip(text, OPTION_TEXT)), "value": value}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def _input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    hint: str | None = None,
    dispatch: bool = False,
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label),
        "element": {"action_id": action_id(block_id), **element},
        "optional": optional,
    }
    if hint:
        block["hint"] = _plain(clip(hint, 2000))
    if dispatch:
        block["dispatch_action"] = True
    return block


def _text_input(
    block_id: str,
    label: str,
    value: str,
    *,
    optional: bool = False,
    multiline: bool = False,
    placeholder: str | None = None,
    hint: str | None = None,
    dispatch: bool = False,
) -> Block:
    element: dict[str, Any] = {"type": "plain_text_input", "multiline": multiline}
    if value:
        element["initial_value"] = value
    if placeholder:
        element["placeholder"] = _plain(clip(placeholder, PLACEHOLDER))
    if dispatch:
        element["dispatch_action_config"] = {"trigger_actions_on": ["on_enter_pressed"]}
    return _input(block_id, label, element, optional=optional, hint=hint, dispatch=dispatch)


def _select(options: list[dict[str, Any]], chosen: str | None, placeholder: str) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "static_select",
        "placeholder": _plain(placeholder),
        "options": options[:MAX_OPTIONS],
    }
    initial = next((o for o in element["options"] if o["value"] == chosen), None)
    if initial is not None:
        element["initial_option"] = initial
    return element


def _connection(form: ComposeForm, shown: Shown) -> Block:
    options = [
        option(f"{name} · {CHANNEL_LABEL[channel]}", name)
        for name, channel in shown.connections.items()
    ]
    return _input(
        CONNECTION,
        "Connection",
        _select(options, form.connection, "Choose how the message goes out"),
        dispatch=True,
    )


def _to(form: ComposeForm, channel: Channel | None, shown: Shown) -> Block:
    example = (
        "ana@example.com, ben@example.com or @customers"
        if channel is Channel.EMAIL
        else "+31612345678, +4915112345678 or @customers"
    )
    hint = shown.recipients_hint or (
        "One or more recipients, separated by commas, or a recipient list as @NAME. "
        "Press Enter to check them."
    )
    return _text_input(TO, "To", form.to, placeholder=example, hint=hint, dispatch=True)


def _template(form: ComposeForm, channel: Channel | None, shown: Shown) -> Block:
    usable = [
        t for t in shown.templates if channel is None or not t.channels or channel in t.channels
    ]
    options = [option("No template: type the message", NO_TEMPLATE)]
    options += [
        option(f"{t.name} — {t.description}" if t.description else t.name, t.name)
        for t in usable[: MAX_OPTIONS - 1]
    ]
    chosen = form.template if any(t.name == form.template for t in usable) else NO_TEMPLATE
    hidden = len(usable) - (MAX_OPTIONS - 1)
    hint = (
        f"{hidden} more templates are not in this menu: type `/send templates` to see them."
        if hidden > 0
        else "A template writes the message; choosing one asks for its blanks."
    )
    return _input(
        TEMPLATE,
        "Template",
        _select(options, chosen, "No template"),
        optional=True,
        hint=hint,
        dispatch=True,
    )


def _variable(name: str, info: TemplateInfo, form: ComposeForm) -> Block:
    sample = info.samples.get(name)
    required = name in info.variables
    return _text_input(
        VARIABLE + name,
        name,
        form.variables.get(name, ""),
        optional=not required,
        placeholder=f"e.g. {sample}" if sample else None,
        hint=None if required else "Optional: the template reads well without it.",
        dispatch=True,
    )


def _preview(preview: Preview) -> list[Block]:
    if preview.problem:
        return [section(f"*Preview*\n:warning: {esc(clip(preview.problem, PREVIEW_TEXT))}")]
    lines = [f"*Subject:* {esc(clip(preview.subject, SUBJECT_SHOWN))}"] if preview.subject else []
    heading = "\n".join(["*Preview*", *lines])
    room = SECTION_TEXT - len(heading) - 1
    blocks: list[Block] = [section(f"{heading}\n{_quoted(preview.text, room)}")]
    notes = []
    if preview.analysis:
        notes.append(f"SMS: {preview.analysis}")
    if preview.with_samples:
        named = clip(", ".join(preview.with_samples), 1000)
        notes.append(f"Sample values shown for {named}: press Enter in a field to update.")
    else:
        notes.append("Press Enter in a field to update the preview.")
    blocks.append(context(*notes))
    return blocks


def _quoted(text: str, limit: int) -> str:
    """``text`` escaped and quoted line by line, clipped so that all of it (escapes and
    quote marks included) stays within ``limit`` characters."""

    def quote(raw: str) -> str:
        return "\n".join("> " + line for line in esc(raw).split("\n"))

    shown, raw = quote(text), text
    while len(shown) > limit:
        raw = raw[: max(0, len(raw) * limit // len(shown) - 2)]
        shown = quote(raw + "…")
    return shown


def _message(form: ComposeForm, shown: Shown) -> Block:
    # required unless a template writes it (Slack's client then asks for it itself)
    templated = shown.template is not None
    if templated:
        hint = "Leave empty: the template writes the message (see the preview)."
    else:
        hint = shown.message_hint or "What the customer receives."
    return _text_input(
        MESSAGE, "Message", form.message, optional=templated, multiline=True, hint=hint
    )


def _send_at(form: ComposeForm, shown: Shown, *, editing: bool) -> Block:
    element: dict[str, Any] = {"type": "datetimepicker"}
    if form.send_at is not None:
        element["initial_date_time"] = form.send_at
    empty = (
        "To send it now instead, use Send now in App Home."
        if editing
        else ("Leave empty to send now.")
    )
    return _input(
        SEND_AT,
        "Send at",
        element,
        optional=not editing,
        hint=f"{empty} Times are in your time zone ({shown.zone}).",
        dispatch=True,
    )


def _repeat(form: ComposeForm, origin: Origin) -> Block:
    options = [option(text, value) for value, text in REPEATS.items()]
    if origin.rule and form.repeat == KEEP_RULE:
        options.append(option(f"As before: {origin.rule}", KEEP_RULE))
    return _input(
        REPEAT,
        "Repeat",
        _select(options, form.repeat, "Never"),
        optional=True,
        hint="Repeats at the Send at time of day, in your time zone, "
        + ("until the end date it has." if origin.until else "until cancelled."),
    )


def _receipt_to(form: ComposeForm, origin: Origin) -> Block:
    element: dict[str, Any] = {
        "type": "conversations_select",
        "placeholder": _plain("Your direct messages with Herald"),
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
    }
    chosen = form.receipt_to
    if chosen and chosen[:1] in ("C", "G"):
        element["initial_conversation"] = chosen
    return _input(
        RECEIPT_TO,
        "Post receipt to",
        element,
        optional=True,
        hint=(
            "Where the receipt appears and updates as the message moves. Empty: your direct "
            "messages with Herald."
        ),
    )


def done_view(title: str, text: str) -> dict[str, Any]:
    """What the form turns into when what it stored has no receipt to show it (a
    repeating send's first receipt comes with its first time)."""
    return {
        "type": "modal",
        "callback_id": ids.COMPOSE_VIEW + "_done",
        "title": _plain(clip(title, 24)),
        "close": _plain("Done"),
        "blocks": [section(clip(text, PREVIEW_TEXT))],
    }


def repeating_text(
    schedule: Schedule, zone: ZoneInfo, *, now: datetime, receipts_in: str, replaced: str | None
) -> str:
    """The confirmation of a repeating send stored from the form."""
    when = slack_time(schedule.next_due or now, zone)
    until = f", {until_words(schedule.until, zone)}" if schedule.until else ""
    lines = []
    if replaced:
        lines.append(f":pencil2: Saved as *#{schedule.id}*; *#{replaced}* is cancelled.")
    lines += [
        f":repeat: Repeating send *#{schedule.id}*: {esc(rule_words(schedule.rule))} "
        f"({zone.key}){until}.",
        f"First time: {when} ({describe_delta((schedule.next_due or now) - now)}).",
        f"Each time, its receipts appear in {receipts_in}. Your App Home lists it, with "
        "*Send now*, *Edit* and *Cancel*.",
    ]
    return "\n".join(lines)
