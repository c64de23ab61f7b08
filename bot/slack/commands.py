"""The slash command: ack → parse → call one service → render.

Input errors are raised as `InputError`s and turned into an ephemeral answer by
the app's one error handler (`bot.slack.app`), so nothing here catches them.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot.errors import NotAvailableYetError
from bot.sending import SendRequest
from bot.services import Herald
from bot.slack import blocks, grammar
from bot.slack.announcer import SlackAnnouncer
from bot.slack.replays import CONTEXT_KEY as REQUEST_KEY

# Slack shows "operation timed out" after 3 s: a send stored within this is acknowledged,
# one that cannot get the database's lock by then is refused (nothing stored, try again).
ACK_LOCK_WAIT = 2.0

_LATER = {
    grammar.Compose: "The compose form is not available yet; send with "
    "`{command} CONNECTION RECIPIENT TEXT` for now.",
    grammar.ListScheduled: "Scheduled messages are not available yet, so there is nothing to list.",
    grammar.Cancel: "Scheduled messages are not available yet, so there is nothing to cancel.",
}


def register(app: AsyncApp, herald: Herald, announcer: SlackAnnouncer) -> None:
    settings = herald.settings
    name = settings.slack.command
    mask = settings.mask_recipients

    @app.command(name)
    async def send_command(
        ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        parsed = grammar.parse(command.get("text", ""))
        if type(parsed) in _LATER:
            raise NotAvailableYetError(_LATER[type(parsed)].format(command=name))
        if isinstance(parsed, grammar.Help):
            await ack(text=blocks.help_text(name, settings.connections), response_type="ephemeral")
        elif isinstance(parsed, grammar.Templates):
            if parsed.name is None:
                text = blocks.templates_text(herald.template_list(), name)
            else:
                info, preview = herald.template_preview(parsed.name)
                text = blocks.template_preview_text(info, preview, name)
            await ack(text=text, response_type="ephemeral")
        elif isinstance(parsed, grammar.Status):
            report = herald.report(parsed.message_id)
            await ack(
                response_type="ephemeral",
                text=blocks.receipt_text(report.message, mask),
                blocks=blocks.status_blocks(report.message, report.history, mask),
            )
        elif isinstance(parsed, grammar.QuickSend):
            messages = await herald.submit(
                SendRequest(
                    connection=parsed.connection,
                    recipients=parsed.recipients,
                    text=parsed.text,
                    subject=parsed.subject,
                    media_urls=parsed.media,
                    template=parsed.template,
                    variables=parsed.variables,
                    at=parsed.at,
                    sender=command["user_id"],
                    origin="slack",
                    announce_to=command.get("channel_id"),
                    request_key=context.get(REQUEST_KEY),
                ),
                lock_wait=ACK_LOCK_WAIT,
            )
            announcer.remember_response_url([m.id for m in messages], command.get("response_url"))
            await ack()
            herald.background.spawn(
                herald.dispatch(messages),
                name="send-" + ",".join(m.id for m in messages),
                defer=True,
            )
