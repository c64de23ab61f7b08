"""Buttons on Herald's messages and App Home: **Cancel** on a scheduled message's receipt,
and **Send now** and **Cancel** on Home's scheduled sends.

ack → call one service → show the outcome. Slack wants the ack within 3 s, so each
listener acks and hands the work to `Herald.background`.

- From a receipt, the announcer then edits the receipt (``cancelled``) as it edits it for
  every change; when the message cannot be cancelled any more (it went out meanwhile,
  someone else cancelled it), the person who clicked is told why, privately, through the
  click's ``response_url``.
- From App Home (a ``block_actions`` whose container is a view of type ``home``) there
  is no ``response_url``: what the click did, or why it could not, is a notice at the
  top of the clicker's republished Home (`bot.slack.home.HomePublisher.tell`), and the
  item itself moves or disappears there as the change is published.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.errors import HeraldError
from bot.logsafe import loggable
from bot.options import phrase
from bot.services import Herald
from bot.slack import blocks, ids
from bot.slack.blocks.home import read_send_now
from bot.slack.blocks.mrkdwn import clip, esc
from bot.slack.responses import tell_privately

if TYPE_CHECKING:
    from bot.slack.home import HomePublisher

log = logging.getLogger(__name__)

SHOWN_ID_LIMIT = 40  # characters of a clicked id echoed back (a forged value may be long)


def register(app: AsyncApp, herald: Herald) -> None:
    """The receipt's **Cancel** button (Home's buttons: `register_home`)."""

    @app.action(ids.CANCEL_ACTION, matchers=[_not_from_home])
    async def cancel_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        target, user = _clicked(body)
        response_url = body.get("response_url")
        herald.background.spawn(
            _cancel(herald, target, user, response_url if isinstance(response_url, str) else None),
            name=f"cancel-{target[:16]}",
        )


def register_home(app: AsyncApp, herald: Herald, home: HomePublisher) -> None:
    """App Home's **Send now** and **Cancel** buttons; their outcome shows in Home."""

    @app.action(ids.CANCEL_ACTION, matchers=[_from_home])
    async def cancel_in_home(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        target, user = _clicked(body)
        herald.background.spawn(
            _cancel_in_home(herald, home, target, user), name=f"home-cancel-{target[:16]}"
        )

    @app.action(ids.SEND_NOW_ACTION)
    async def send_now_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        value, user = _clicked(body)
        target, due = read_send_now(value)
        herald.background.spawn(
            _send_now_from_home(herald, home, target, user, due), name=f"send-now-{target[:16]}"
        )


async def _from_home(body: dict[str, Any]) -> bool:
    view = body.get("view")
    return isinstance(view, dict) and view.get("type") == "home"


async def _not_from_home(body: dict[str, Any]) -> bool:
    return not await _from_home(body)


def _clicked(body: dict[str, Any]) -> tuple[str, str]:
    """The clicked button's value (an id) and who clicked."""
    actions = body.get("actions") or [{}]
    target = str(actions[0].get("value") or "")
    user = str((body.get("user") or {}).get("id") or "")
    return target, user


def _refused(verb: str, target: str, user: str, error: HeraldError) -> None:
    log.info(
        "%s of %s by %s refused: %s",
        verb,
        loggable(target, SHOWN_ID_LIMIT),
        loggable(user, SHOWN_ID_LIMIT),
        type(error).__name__,
    )


def _refusal(verb: str, target: str, error: HeraldError) -> str:
    """Why ``verb`` could not be done, naming the id once (most reasons name it)."""
    reason = esc(phrase(error))
    if f"#{target}" in reason:
        return f":warning: {reason}"
    return f":warning: Could not {verb} *#{esc(clip(target, SHOWN_ID_LIMIT))}*: {reason}"


async def _cancel(herald: Herald, target: str, user: str, response_url: str | None) -> None:
    try:
        await herald.cancel(target, actor=user)  # the receipt edits itself
    except HeraldError as error:  # not cancellable any more, gone, or the database busy
        _refused("cancel", target, user, error)
        await tell_privately(
            response_url, blocks.action_error_text(phrase(error)), about="a button click"
        )


async def _cancel_in_home(herald: Herald, home: HomePublisher, target: str, user: str) -> None:
    try:
        cancelled = await herald.cancel(target, actor=user)
    except HeraldError as error:
        _refused("cancel", target, user, error)
        home.tell(user, _refusal("cancel", target, error))
        return
    home.tell(user, blocks.cancelled_text(cancelled))


async def _send_now_from_home(
    herald: Herald, home: HomePublisher, target: str, user: str, due: datetime | None
) -> None:
    try:
        moved = await herald.release_now(target, actor=user, expected_due=due)
    except HeraldError as error:  # gone out already, cancelled, or the database busy
        _refused("send now", target, user, error)
        home.tell(user, _refusal("send now", target, error))
        return
    home.tell(user, blocks.sent_now_text(moved, target))
