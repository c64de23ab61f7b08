"""The send pipeline shared by Slack and the CLI: validate, store, hand to the provider.

`build_messages` turns a `SendRequest` into stored-ready `Message`s or raises an
`InputError` that says what to fix (nothing is stored then). `deliver` hands one
stored message to its provider and records the outcome.

A request's recipients may name recipient lists (``@NAME``, or a list read from a file:
`bot.sending.lists`). Each row of a list is a recipient with variables of its own: the
template is rendered for each row with the request's variables and the row's (the
row's win; rows with the same values share one rendering), and every bad row — a
recipient that cannot be used or is there twice, a variable the template needs and
the row lacks, a value a filter cannot read — is named before anything is stored.
Reading, checking and rendering a big list takes a while: `build_messages_off_loop`
and `prepare` do it on a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.config.settings import Settings
from bot.errors import InputError, RecipientListError, UnknownConnectionError
from bot.models import Message, Send, new_message_id
from bot.sending.content import (
    MAX_TEXT_LENGTH,
    MEDIA_CHANNELS,
    ROW_CODES,
    Writer,
    check_content,
    check_visible,
    template_subject,
)
from bot.sending.lists import (
    RecipientList,
    RowProblems,
    check_recipients,
    is_list_reference,
    list_name,
    open_named,
)
from bot.sending.recipients import check_count, normalize_recipient, normalize_recipients
from bot.templating.library import TemplateLibrary

__all__ = [
    "MAX_TEXT_LENGTH",
    "MEDIA_CHANNELS",
    "Recipient",
    "SendRequest",
    "build_messages",
    "build_messages_off_loop",
    "check_content",
    "check_visible",
    "parse_variable",
    "prepare",
    "read_lists",
    "row_count",
    "stored_recipients",
    "template_subject",
]

log = logging.getLogger(__name__)

Recipient = str | RecipientList  # a typed recipient or ``@NAME``, or a list already read


@dataclass(frozen=True)
class SendRequest:
    """Everything a person asked for in one send, before validation."""

    connection: str
    recipients: Sequence[Recipient]
    text: str
    sender: str
    origin: str
    subject: str | None = None
    media_urls: Sequence[str] = ()
    template: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)  # shared; a list row's win
    at: str | None = None  # when to send, as typed (`bot.scheduling.when`); None: now
    every: str | None = None  # how it repeats, as typed (`bot.scheduling.rules`)
    until: str | None = None  # the last day it repeats, as typed
    timezone: str | None = None  # the zone local times are read in (None: the config's)
    announce_to: str | None = None
    request_key: str | None = None  # the same key twice (a replayed request) sends once
    # the messages `prepare` built ahead (off the event loop); `build_messages` returns them
    prepared: tuple[Message, ...] | None = field(default=None, repr=False, compare=False)

    @property
    def is_scheduled(self) -> bool:
        """Whether it goes out later or repeats (`Herald.schedule`) rather than now."""
        return self.at is not None or self.every is not None or self.until is not None

    @property
    def names_lists(self) -> bool:
        """Whether any recipient is a list (``@NAME``, or one read already)."""
        return any(
            isinstance(entry, RecipientList) or is_list_reference(entry)
            for entry in self.recipients
        )


def read_lists(request: SendRequest, settings: Settings) -> SendRequest:
    """``request`` with each ``@NAME`` read from the lists directory (a `RecipientList`;
    a list named twice is read once); raises `RecipientListError`."""
    if not request.names_lists:
        return request
    limit = settings.limits.max_recipients
    entries: dict[str, Recipient] = {}
    for entry in request.recipients:
        if isinstance(entry, str) and is_list_reference(entry):
            key = f"@{list_name(entry)}"
            if key not in entries:
                entries[key] = open_named(entry, settings.lists_dir, max_rows=limit)
        else:
            entries[entry if isinstance(entry, str) else f"{id(entry)}"] = entry
    return replace(request, recipients=list(entries.values()))


def row_count(request: SendRequest) -> int:
    """How many recipients ``request`` has, its lists' rows counted (read them first)."""
    return sum(len(e.rows) if isinstance(e, RecipientList) else 1 for e in request.recipients)


def stored_recipients(request: SendRequest, messages: Sequence[Message]) -> tuple[str, ...]:
    """What a repeating send keeps as its recipients: each recipient, normalized, and
    ``@NAME`` for each list, read again at each occurrence (so edits to the list apply).
    A list read from a file cannot be read again: refused."""
    if not request.names_lists:
        return tuple(m.recipient for m in messages)
    channel = messages[0].channel
    kept: list[str] = []
    for entry in request.recipients:
        if isinstance(entry, RecipientList):
            if entry.reference is None:
                raise RecipientListError(
                    f"A repeating send reads its list again each time, and {entry.label} is "
                    "a file, not a list of the lists directory: copy it there as NAME.csv "
                    "and send to @NAME.",
                    code="list_not_repeatable",
                    fields=("recipients", "every"),
                    list=entry.label,
                )
            kept.append(entry.reference)
        elif is_list_reference(entry):
            kept.append(f"@{list_name(entry)}")
        else:
            kept.append(normalize_recipient(entry, channel))
    return tuple(dict.fromkeys(kept))


async def build_messages_off_loop(
    request: SendRequest, settings: Settings, library: TemplateLibrary
) -> list[Message]:
    """`build_messages`; on a worker thread when ``request`` names a list, whose rows
    would hold up the event loop (and with it every answer to Slack) while they are read,
    checked and rendered."""
    if request.prepared is not None or not request.names_lists:
        return build_messages(request, settings, library)
    return await asyncio.to_thread(build_messages, request, settings, library)


async def prepare(
    request: SendRequest, settings: Settings, library: TemplateLibrary
) -> SendRequest:
    """``request`` with its messages built already (`build_messages_off_loop`), so storing
    it (`Herald.submit`, `Herald.schedule`) does not build them again on the event loop."""
    messages = await build_messages_off_loop(request, settings, library)
    return replace(request, prepared=tuple(messages))


def build_messages(
    request: SendRequest, settings: Settings, library: TemplateLibrary
) -> list[Message]:
    """Validate ``request`` (rendering its template) and build one queued `Message` per
    recipient; raises an `InputError` that says what to fix. When it goes out is not its
    business (`bot.scheduling.planner`)."""
    if request.prepared is not None:
        return list(request.prepared)
    connection = settings.connections.get(request.connection)
    if connection is None:
        raise UnknownConnectionError.naming(request.connection, list(settings.connections))
    writer = Writer(request, connection, library)
    request = read_lists(request, settings)
    limit = settings.limits.max_recipients
    typed = [entry for entry in request.recipients if isinstance(entry, str)]
    lists = [entry for entry in request.recipients if isinstance(entry, RecipientList)]
    if not lists:
        content = writer.write(request.variables)
        recipients = normalize_recipients(typed, connection.channel, limit=limit)
        return [writer.message(new_message_id(), recipient, content) for recipient in recipients]
    check_count(row_count(request), limit)
    for listed in lists:
        if not listed.rows:
            raise RecipientListError(
                f"{listed.label} has no rows: add a line for each recipient under its first "
                "line (the column names).",
                code="list_invalid",
                fields=("recipients",),
                list=listed.label,
            )
    messages: list[Message] = []
    seen: dict[str, str] = {}
    if typed:
        content = writer.write(request.variables)  # typed recipients have --var only
        for recipient in normalize_recipients(typed, connection.channel, limit=limit):
            seen[recipient] = "the typed recipients"
            messages.append(writer.message(new_message_id(), recipient, content))
    problems = RowProblems()
    mask = settings.mask_recipients
    several = len(lists) + bool(typed) > 1
    for listed in lists:
        columns = writer.columns_of(listed)
        rows = check_recipients(
            listed, connection.channel, problems, seen, mask=mask, of_list=several
        )
        for row, recipient, where in rows:
            variables = dict(request.variables)
            for variable, column in columns.items():
                value = row.variables.get(column)
                if value:
                    variables[variable] = value
            missing = writer.missing(variables)
            if missing:
                problems.add(where, "missing " + " and ".join(f"'{v}'" for v in missing))
                continue
            try:
                content = writer.write(variables)
            except InputError as exc:
                if exc.code not in ROW_CODES:
                    raise
                problems.add(where, str(exc))
                continue
            messages.append(writer.message(new_message_id(), recipient, content))
    problems.raise_if_any(", ".join(listed.label for listed in lists))
    return messages


def parse_variable(typed: str) -> tuple[str, str]:
    """``name=Jane Doe`` → ``("name", "Jane Doe")``: a template variable as typed, the one
    reading for Slack and the CLI (the name is trimmed, the value kept as typed)."""
    key, eq, value = typed.partition("=")
    if not eq or not key.strip():
        raise InputError(
            f"A template variable is written NAME=VALUE, not {typed!r}.",
            code="variable_not_pair",
            fields=("variables",),
            typed=typed,
        )
    return key.strip(), value


def send_record(request: SendRequest, messages: Sequence[Message], **extra: Any) -> Send:
    """The `Send` of ``request``, from its validated messages: what the person asked for,
    as every message of the send carries it (``extra``: when it is due, its zone), and its
    recipients as they were given — each typed recipient normalized, ``@NAME`` for a list
    of the lists directory, the label of a list read from a file — which an Edit form shows
    again."""
    first = messages[0]
    if request.names_lists:
        given: list[str] = []
        for entry in request.recipients:
            if isinstance(entry, RecipientList):
                given.append(entry.reference or entry.label)
            elif is_list_reference(entry):
                given.append(f"@{list_name(entry)}")
            else:
                given.append(normalize_recipient(entry, first.channel))
        recipients = tuple(dict.fromkeys(given))
    else:  # the messages' recipients are the typed ones, normalized, each once
        recipients = tuple(m.recipient for m in messages)
    return Send(
        id=new_message_id(),
        sender=request.sender,
        origin=request.origin,
        connection=first.connection,
        created_at=first.created_at,
        text=None if request.template else first.text,
        template=request.template,
        variables=dict(request.variables),
        subject=first.subject,
        media_urls=first.media_urls,
        announce_to=request.announce_to,
        recipients=recipients,
        **extra,
    )
