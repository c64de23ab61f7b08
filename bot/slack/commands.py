"""The slash command: ack → parse → call one service → render.

Input errors are raised as `InputError`s and turned into an ephemeral answer by
the app's one error handler (`bot.slack.app`), so nothing here catches them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot.errors import NotAvailableYetError
from bot.sending.requests import SendRequest
from bot.services import Herald, SendReport
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


class SlashCommand:
    """``/send …``: the acknowledgement's body for each command, and the slow work after it."""

    def __init__(self, herald: Herald, announcer: SlackAnnouncer) -> None:
        self.herald = herald
        self.announcer = announcer
        self.name = herald.settings.slack.command

    def register(self, app: AsyncApp) -> None:
        """Answer the command through Bolt too (Socket Mode, `AsyncApp.async_dispatch`)."""

        @app.command(self.name)
        async def send_command(
            ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext
        ) -> None:
            await ack(**await self.answer(command, context.get(REQUEST_KEY)))

    async def answer(self, command: Mapping[str, Any], request_key: str | None) -> dict[str, Any]:
        """The acknowledgement (``{}``: a plain 200) for ``command``; raises `HeraldError`s
        for input errors, which `bot.slack.app` turns into an answer that says what to fix."""
        herald, name = self.herald, self.name
        mask = herald.settings.mask_recipients
        parsed = grammar.parse(command.get("text", ""))
        if type(parsed) in _LATER:
            raise NotAvailableYetError(_LATER[type(parsed)].format(command=name))
        if isinstance(parsed, grammar.Help):
            return _private(blocks.help_text(name, herald.settings.connections))
        if isinstance(parsed, grammar.Templates):
            if parsed.name is None:
                return _private(blocks.templates_text(herald.template_list(), name))
            info, preview = herald.template_preview(parsed.name)
            return _private(blocks.template_preview_text(info, preview, name))
        if isinstance(parsed, grammar.Status):
            report = herald.report(parsed.message_id)
            if isinstance(report, SendReport):
                return _private(
                    blocks.send_status_text(report.send, report.counts),
                    blocks=blocks.send_status_blocks(
                        report.send, report.messages, report.counts, mask
                    ),
                )
            return _private(
                blocks.receipt_text(report.message, mask),
                blocks=blocks.status_blocks(report.message, report.history, mask),
            )
        assert isinstance(parsed, grammar.QuickSend)
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
                request_key=request_key,
            ),
            lock_wait=ACK_LOCK_WAIT,
        )
        self.announcer.remember_response_url([m.id for m in messages], command.get("response_url"))
        herald.background.spawn(
            herald.dispatch(messages),
            name="send-" + ",".join(m.id for m in messages),
            defer=True,
        )
        if len(messages) > 1 and messages[0].send_id:
            # each message gets its own receipt; the send's id follows them all at once
            return _private(blocks.sending_text(len(messages), messages[0].send_id, name))
        return {}


def _private(text: str, **fields: Any) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text, **fields}
