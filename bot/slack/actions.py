"""Buttons on Herald's messages: the **Cancel** button of a scheduled message's receipt.

ack → call one service → the receipt shows the outcome. Slack wants the ack within 3 s,
so the listener acks and hands the cancel to `Herald.background`; the announcer then
edits the receipt to ``cancelled`` as it edits it for every change. When the message
cannot be cancelled any more (it went out meanwhile, someone else cancelled it), the
person who clicked is told why, privately, through the click's ``response_url``.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.errors import HeraldError
from bot.logsafe import loggable
from bot.options import phrase
from bot.services import Herald
from bot.slack import blocks, ids
from bot.slack.responses import tell_privately

log = logging.getLogger(__name__)


def register(app: AsyncApp, herald: Herald) -> None:
    @app.action(ids.CANCEL_ACTION)
    async def cancel_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        actions = body.get("actions") or [{}]
        target = str(actions[0].get("value") or "")
        user = str((body.get("user") or {}).get("id") or "")
        response_url = body.get("response_url")
        herald.background.spawn(
            _cancel(herald, target, user, response_url if isinstance(response_url, str) else None),
            name=f"cancel-{target[:16]}",
        )


async def _cancel(herald: Herald, target: str, user: str, response_url: str | None) -> None:
    try:
        await herald.cancel(target, actor=user)  # the receipt edits itself
    except HeraldError as error:  # not cancellable any more, gone, or the database busy
        log.info(
            "cancel of %s by %s refused: %s",
            loggable(target, 40),
            loggable(user, 40),
            type(error).__name__,
        )
        await tell_privately(
            response_url, blocks.action_error_text(phrase(error)), about="a button click"
        )
