"""What the compose form shows besides what was typed: the connections and templates it
offers, the template's preview, and what **To** comes to (`shown_for`)."""

from __future__ import annotations

import asyncio
import logging

from bot.errors import InputError
from bot.logsafe import loggable
from bot.sending.lists import is_list_reference, list_name, open_named
from bot.sending.recipients import normalize_recipient
from bot.services import Herald
from bot.slack.blocks.compose import Preview, Shown
from bot.slack.blocks.mrkdwn import CHANNEL_LABEL, plural
from bot.slack.directory import SlackDirectory
from bot.slack.forms import ComposeForm
from bot.templating.library import TemplateInfo
from providers import Channel

log = logging.getLogger(__name__)

SHOWN_INVALID = 3  # invalid recipients the To hint names
SHOWN_PROBLEMS = 2  # lists that cannot be read the To hint names


async def shown_for(
    herald: Herald,
    directory: SlackDirectory,
    form: ComposeForm,
    user: str,
    *,
    check_recipients: bool = False,
    zone: str | None = None,
) -> Shown:
    """What the form offers and says for ``form`` (``check_recipients``: count **To**,
    which reads its lists; ``zone``: the one its times are read in, default the
    person's)."""
    settings = herald.settings
    connections = {name: c.channel for name, c in settings.connections.items()}
    channel = connections.get(form.connection or "")
    zone = zone or await directory.timezone_of(user) or settings.scheduling.zone().key
    templates = offered_templates(herald)
    info = next((t for t in templates if t.name == form.template), None)
    return Shown(
        connections=connections,
        templates=templates,
        zone=zone,
        template=info,
        preview=preview(herald, info, form, channel) if info else None,
        recipients_hint=(
            await recipients_hint(herald, form, channel)
            if check_recipients and form.to and channel
            else None
        ),
    )


def offered_templates(herald: Herald) -> list[TemplateInfo]:
    """Every template that can be read; a broken one is left out (and logged)."""
    library = herald.templates
    offered = []
    for name in library.names():
        try:
            offered.append(library.info(name))
        except InputError as error:
            log.warning("template %s is not offered in the form: %s", name, error)
    return offered


def preview(
    herald: Herald, info: TemplateInfo, form: ComposeForm, channel: Channel | None
) -> Preview:
    """``info`` rendered with the form's values, samples standing in for the missing."""
    values = dict(form.variables)
    samples = []
    for name in info.variable_order:
        if name in info.variables and name not in values:
            values[name] = info.samples.get(name) or f"[{name}]"
            samples.append(name)
    connection = herald.settings.connections.get(form.connection or "")
    try:
        rendered = herald.templates.render(
            info.name,
            values,
            channel=channel,
            provider=connection.provider if connection else None,
        )
    except InputError as error:
        return Preview(text="", problem=str(error))
    return Preview(
        text=rendered.text,
        subject=rendered.subject if channel is Channel.EMAIL else None,
        analysis=rendered.sms.summary() if channel in (Channel.SMS, None) else None,
        with_samples=tuple(samples),
    )


async def recipients_hint(herald: Herald, form: ComposeForm, channel: Channel) -> str:
    """How many recipients **To** names (each once; a list's rows counted) and which of
    them cannot be used."""
    settings = herald.settings
    lists_dir, limit = settings.lists_dir, settings.limits.max_recipients
    typed: set[str] = set()
    lists: set[str] = set()
    listed = 0
    invalid: list[str] = []
    problems: list[str] = []
    for entry in form.recipients:
        if is_list_reference(entry):
            try:
                name = list_name(entry)
                if name in lists:
                    continue
                found = await asyncio.to_thread(open_named, entry, lists_dir, max_rows=limit)
            except InputError as error:
                problems.append(f"{loggable(entry, 40)}: {_first_words(str(error))}")
                continue
            lists.add(name)
            listed += len(found.rows)
            continue
        try:
            typed.add(normalize_recipient(entry, channel))
        except InputError:
            if entry not in invalid:
                invalid.append(entry)
    parts = [f"{plural(len(typed) + listed, 'recipient')} for {CHANNEL_LABEL[channel]}"]
    if listed:
        parts[0] += f" ({listed:,} from lists)"
    if invalid:
        named = ", ".join(loggable(i, 40) for i in invalid[:SHOWN_INVALID])
        more = len(invalid) - SHOWN_INVALID
        parts.append(f"{len(invalid)} invalid: {named}" + (f" and {more} more" if more > 0 else ""))
    parts += list(dict.fromkeys(problems))[:SHOWN_PROBLEMS]
    return " · ".join(parts)


def _first_words(text: str) -> str:
    return text.split(". ")[0].rstrip(".")[:120]
