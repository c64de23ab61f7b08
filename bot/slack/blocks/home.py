"""The App Home view: what Herald does, and the user's recent messages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.models import Message
from bot.slack import ids
from bot.slack.blocks.mrkdwn import CHANNEL_LABEL, STATUS_EMOJI, Block, context, esc, section
from bot.slack.blocks.receipts import shown_recipient


def home_view(messages: Iterable[Message], command: str, mask: bool) -> dict[str, Any]:
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Herald"}},
        section(
            "Send SMS, WhatsApp, e-mail, Zalo and MMS to customers from any channel with "
            f"`{command}`. Receipts appear where you send from and update as the message moves."
        ),
        context(f"`{command} help` lists the commands."),
        {"type": "divider"},
        section("*Your recent messages*", block_id=ids.HOME_RECENT_BLOCK),
    ]
    rows = [
        f"{STATUS_EMOJI[m.status]} *#{m.id}* {m.status.value} · "
        f"{CHANNEL_LABEL[m.channel]} to `{shown_recipient(m, mask)}` via {esc(m.connection)}"
        for m in messages
    ]
    blocks.append(section("\n".join(rows) if rows else "_Nothing sent yet._"))
    return {"type": "home", "blocks": blocks}
