"""The send pipeline shared by Slack and the CLI: validate, store, hand to the provider.

`build_messages` turns a `SendRequest` into stored-ready `Message`s or raises an
`InputError` that says what to fix (nothing is stored then). `deliver` hands one
stored message to its provider and records the outcome.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.config.settings import Settings
from bot.errors import Field, InputError, UnknownConnectionError
from bot.models import Message, MessageStatus, new_message_id
from bot.sending.recipients import normalize_recipients
from bot.storage.store import utcnow
from bot.templating.library import Rendered, TemplateLibrary
from providers import Channel, ConnectionConfig, ProviderTemplate

log = logging.getLogger(__name__)

MEDIA_CHANNELS = frozenset({Channel.MMS, Channel.WHATSAPP, Channel.EMAIL})
MAX_TEXT_LENGTH = 4096


@dataclass(frozen=True)
class SendRequest:
    """Everything a person asked for in one send, before validation."""

    connection: str
    recipients: Sequence[str]
    text: str
    sender: str
    origin: str
    subject: str | None = None
    media_urls: Sequence[str] = ()
    template: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    at: str | None = None  # when to send, as typed (`bot.scheduling.when`); None: now
    every: str | None = None  # how it repeats, as typed (`bot.scheduling.rules`)
    until: str | None = None  # the last day it repeats, as typed
    timezone: str | None = None  # the zone local times are read in (None: the config's)
    announce_to: str | None = None
    request_key: str | None = None  # the same key twice (a replayed request) sends once

    @property
    def is_scheduled(self) -> bool:
        """Whether it goes out later or repeats (`Herald.schedule`) rather than now."""
        return self.at is not None or self.every is not None or self.until is not None


def build_messages(
    request: SendRequest, settings: Settings, library: TemplateLibrary
) -> list[Message]:
    """Validate ``request`` (rendering its template) and build one queued `Message` per
    recipient; raises an `InputError` that says what to fix. When it goes out is not its
    business (`bot.scheduling.planner`)."""
    connection = settings.connections.get(request.connection)
    if connection is None:
        raise UnknownConnectionError.naming(request.connection, list(settings.connections))
    channel = connection.channel
    text = request.text.strip()
    subject = (request.subject or "").strip() or None
    provider_template: ProviderTemplate | None = None
    confidential = False
    if request.template is not None:
        if text:
            raise InputError(
                "Give either a template or the message text, not both: the template writes "
                "the text.",
                code="template_and_text",
                fields=("template", "text"),
            )
        rendered = library.render(
            request.template, request.variables, channel=channel, provider=connection.provider
        )
        text = rendered.text
        subject = subject or template_subject(channel, rendered)
        provider_template = rendered.provider_template
        confidential = library.info(request.template).confidential
    elif request.variables:
        raise InputError(
            "Template variables fill a template: choose the template too.",
            code="variables_without_template",
            fields=("variables", "template"),
        )
    if not text:
        raise InputError("Write the message text.", code="text_missing", fields=("text",))
    if len(text) > MAX_TEXT_LENGTH:
        raise InputError(
            f"The message is {len(text)} characters; the limit is {MAX_TEXT_LENGTH}.",
            code="text_too_long",
            fields=("text",),
            length=len(text),
            limit=MAX_TEXT_LENGTH,
        )
    check_visible(text, "text")
    check_visible(subject or "", "subject")
    media = tuple(request.media_urls)
    check_content(connection, subject, media)
    recipients = normalize_recipients(list(request.recipients), channel)
    now = utcnow()
    return [
        Message(
            id=new_message_id(),
            connection=connection.name,
            channel=channel,
            recipient=recipient,
            text=text,
            subject=subject,
            media_urls=media,
            sender=request.sender,
            origin=request.origin,
            status=MessageStatus.QUEUED,
            created_at=now,
            updated_at=now,
            announce_to=request.announce_to,
            template=request.template,
            variables=dict(request.variables),
            provider_template=provider_template,
            confidential=confidential,
        )
        for recipient in recipients
    ]


# Control characters (but line breaks and tabs) and the bidi overrides and isolates, which
# reorder how a receipt reads in Slack: never what an agent meant to send.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def check_visible(value: str, name: Field) -> None:
    """Refuse characters that cannot be seen in ``value`` (the message's ``name``)."""
    found = _INVISIBLE.search(value)
    if found:
        character, after = f"U+{ord(found.group()):04X}", value[: found.start()][-20:]
        raise InputError(
            f"The {name} holds an invisible control character ({character}) "
            f"after {after!r}: remove it and send again.",
            code="invisible_character",
            fields=(name,),
            character=character,
            after=after,
        )


def check_content(connection: ConnectionConfig, subject: str | None, media: Sequence[str]) -> None:
    """Whether ``connection``'s channel can carry a subject and media as given."""
    channel = connection.channel
    if channel is Channel.EMAIL and subject is None:
        raise InputError("E-mail needs a subject.", code="subject_missing", fields=("subject",))
    where = {"connection": connection.name, "channel": str(channel)}
    if channel is not Channel.EMAIL and subject is not None:
        raise InputError(
            f"A subject is for e-mail; '{connection.name}' sends {channel}.",
            code="subject_not_for_channel",
            fields=("subject",),
            **where,
        )
    if media and channel not in MEDIA_CHANNELS:
        raise InputError(
            f"Media needs an MMS, WhatsApp or e-mail connection; '{connection.name}' sends "
            f"{channel}.",
            code="media_not_for_channel",
            fields=("media",),
            **where,
        )
    for url in media:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError(
                f"A media URL must be a public http(s) URL, not {url!r}.",
                code="media_not_public",
                fields=("media",),
                url=url,
            )


def template_subject(channel: Channel, rendered: Rendered) -> str | None:
    """The template's subject if ``channel`` carries one (e-mail), else None.

    A template for several channels keeps its e-mail subject in its header; on SMS or
    WhatsApp that is not the user asking for a subject, so it is left out, not refused.
    """
    return rendered.subject if channel is Channel.EMAIL else None


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
