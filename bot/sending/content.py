"""What a message says: the request's text, or its template rendered for one set of
variables, checked before anything is stored (visible characters only, the length, a
subject and media the channel can carry). `Writer` writes the messages of one request,
rendering once for each set of values (a list's rows with the same values share it)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot.errors import Field, InputError, RecipientListError
from bot.models import Message, MessageStatus
from bot.sending.lists import RecipientList
from bot.storage.store import utcnow
from bot.templating.library import Rendered, TemplateInfo, TemplateLibrary
from providers import Channel, ConnectionConfig, ProviderTemplate

if TYPE_CHECKING:
    from bot.sending.requests import SendRequest

MEDIA_CHANNELS = frozenset({Channel.MMS, Channel.WHATSAPP, Channel.EMAIL})
MAX_TEXT_LENGTH = 4096
# What a row's own values can get wrong; any other error is the whole send's (raised).
ROW_CODES = frozenset(
    {"template_value_invalid", "template_render_failed", "text_missing", "text_too_long"}
    | {"invisible_character"}
)


@dataclass(frozen=True)
class Content:
    """What a message says, written from one set of variables."""

    text: str
    subject: str | None
    provider_template: ProviderTemplate | None
    variables: Mapping[str, str]


class Writer:
    """Writes the messages of one request: its text, or its template rendered once for
    each set of variables (rows with the same values share it)."""

    def __init__(
        self, request: SendRequest, connection: ConnectionConfig, library: TemplateLibrary
    ) -> None:
        self.request = request
        self.connection = connection
        self.library = library
        self.text = request.text.strip()
        self.subject = (request.subject or "").strip() or None
        self.media = tuple(request.media_urls)
        self.info: TemplateInfo | None = None
        if request.template is not None and self.text:
            raise InputError(
                "Give either a template or the message text, not both: the template writes "
                "the text.",
                code="template_and_text",
                fields=("template", "text"),
            )
        self._written: dict[tuple[tuple[str, str], ...], Content] = {}
        self._refused: dict[tuple[tuple[str, str], ...], InputError] = {}
        self.now = utcnow()

    @property
    def template(self) -> TemplateInfo | None:
        if self.info is None and self.request.template is not None:
            self.info = self.library.info(self.request.template)
        return self.info

    def columns_of(self, listed: RecipientList) -> dict[str, str]:
        """The template's variables ``listed`` has a column for (exact name, else in any
        case: ``Order`` fills ``order``) → the column; a variable the template needs that
        neither a column nor the request gives is refused for the whole list."""
        info = self.template
        if info is None:
            return {}
        folded = {column.casefold(): column for column in listed.columns}
        columns = {}
        for variable in info.variable_order:
            if variable in listed.columns:
                columns[variable] = variable
            elif variable.casefold() in folded:
                columns[variable] = folded[variable.casefold()]
        lacking = [
            v
            for v in info.variable_order
            if v in info.variables and v not in columns and v not in self.request.variables
        ]
        if lacking:
            examples = tuple(info.samples.get(v, "") for v in lacking)
            named = " and ".join(f"'{v}'" for v in lacking)
            add = "it: add the column" if len(lacking) == 1 else "them: add the columns"
            raise RecipientListError(
                f"Template '{info.name}' needs {named}, and {listed.label} has no column for "
                f"{add} to the list, or give one value for every row as a template variable.",
                code="list_columns_missing",
                fields=("recipients", "variables"),
                list=listed.label,
                template=info.name,
                missing=tuple(lacking),
                examples=examples,
            )
        return columns

    def missing(self, variables: Mapping[str, str]) -> list[str]:
        info = self.template
        if info is None:
            return []
        return [v for v in info.variable_order if v in info.variables and v not in variables]

    def write(self, variables: Mapping[str, str]) -> Content:
        """The message for ``variables``; raises `InputError` (the same one for the same
        values, which are written once)."""
        key = tuple(sorted(variables.items()))
        written = self._written.get(key)
        if written is not None:
            return written
        refused = self._refused.get(key)
        if refused is not None:
            raise refused
        try:
            written = self._write(variables)
        except InputError as exc:
            if exc.code in ROW_CODES:
                self._refused[key] = exc
            raise
        self._written[key] = written
        return written

    def _write(self, variables: Mapping[str, str]) -> Content:
        request, connection = self.request, self.connection
        channel = connection.channel
        text, subject = self.text, self.subject
        provider_template: ProviderTemplate | None = None
        if request.template is not None:
            rendered = self.library.render(
                request.template, variables, channel=channel, provider=connection.provider
            )
            text = rendered.text
            subject = subject or template_subject(channel, rendered)
            provider_template = rendered.provider_template
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
        check_content(connection, subject, self.media)
        kept = dict(variables) if request.template is not None else {}
        return Content(text, subject, provider_template, kept)

    def message(self, message_id: str, recipient: str, content: Content) -> Message:
        """The queued message ``message_id`` to ``recipient`` saying ``content``."""
        request, connection = self.request, self.connection
        info = self.template
        return Message(
            id=message_id,
            connection=connection.name,
            channel=connection.channel,
            recipient=recipient,
            text=content.text,
            subject=content.subject,
            media_urls=self.media,
            sender=request.sender,
            origin=request.origin,
            status=MessageStatus.QUEUED,
            created_at=self.now,
            updated_at=self.now,
            announce_to=request.announce_to,
            template=request.template,
            variables=content.variables,
            provider_template=content.provider_template,
            confidential=info.confidential if info is not None else False,
        )


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
