"""The compose modal: open it, redraw it as choices change, and send what it holds.

Opened by ``/send`` alone, the global shortcut, App Home's **Compose** button, and —
prefilled — by **Edit** on a scheduled receipt or a Home entry. Slack's ``trigger_id``
lasts 3 s and serves once, so each opener acks and calls ``views.open`` at once.

A choice that changes what the form needs (a connection, a template, the recipients
after Enter, a time) arrives as ``block_actions``; the listener acks and redraws the
view (``views.update`` with the view's ``hash``, so an older redraw never overwrites a
newer one), keeping every value typed.

A change that arrives while the form is being redrawn is drawn right after, from the
latest state (a burst of changes is a redraw or two, not one each).

The submission is `bot.slack.submission`'s.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from aiohttp import ClientError
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import HeraldError, InputError
from bot.logsafe import loggable
from bot.options import phrase
from bot.services import Herald
from bot.slack import ids
from bot.slack.blocks.compose import compose_view
from bot.slack.blocks.mrkdwn import esc
from bot.slack.directory import SlackDirectory
from bot.slack.forms import (
    ACTION_PREFIX,
    ComposeForm,
    Origin,
    read_form,
    repeat_of,
)
from bot.slack.receipts import slack_error, why
from bot.slack.responses import tell_privately
from bot.slack.shown import shown_for
from bot.slack.submission import FormSubmission

if TYPE_CHECKING:
    from bot.slack.commands import SlashCommand
    from bot.slack.home import HomePublisher

log = logging.getLogger(__name__)

TO_LIMIT = 3000  # a text input's cap: an edit whose recipients or text are longer cannot be shown
MAX_REDRAWING = 1000  # forms being redrawn at once, at most
NOT_OPENED = (
    ":warning: Slack did not let me open the form just now (it allows 3 seconds). Try again."
)


class Composer:
    """The compose modal's listeners and what they do."""

    def __init__(
        self,
        herald: Herald,
        client: AsyncWebClient,
        directory: SlackDirectory,
        command: SlashCommand,
    ) -> None:
        self.herald = herald
        self.client = client
        self.directory = directory
        self.command = command
        self.home: HomePublisher | None = None  # set by `bot.slack.app`: Home's notices
        self._latest: dict[str, tuple[dict[str, Any], str]] = {}  # view id → its last change
        self.submission = FormSubmission(herald, directory, command, self.tell)

    def register(self, app: AsyncApp) -> None:
        @app.action(ids.COMPOSE_ACTION)
        async def compose_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
            await ack()
            user = _user(body)
            opening = self.open(
                _trigger(body), user, Origin(via="home"), tell=partial(self._tell_home, user)
            )
            self._spawn(opening, "home")

        @app.shortcut(ids.COMPOSE_SHORTCUT)
        async def compose_shortcut(ack: AsyncAck, body: dict[str, Any]) -> None:
            await ack()
            self._spawn(self.open(_trigger(body), _user(body), Origin(via="shortcut")), "shortcut")

        @app.action(ids.EDIT_ACTION)
        async def edit_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
            await ack()
            target = str(((body.get("actions") or [{}])[0]).get("value") or "")
            url = body.get("response_url")
            user = _user(body)
            if isinstance(url, str):
                tell = partial(tell_privately, url, about="an edit that cannot be")
            else:  # clicked in App Home, which has no response_url: say it there
                tell = partial(self._tell_home, user)
            self._spawn(self.open_edit(_trigger(body), user, target, tell), "edit")

        @app.action(re.compile("^" + re.escape(ACTION_PREFIX)))
        async def field_changed(ack: AsyncAck, body: dict[str, Any]) -> None:
            await ack()
            view = body.get("view")
            if isinstance(view, dict) and view.get("callback_id") == ids.COMPOSE_VIEW:
                self.changed(view, _user(body))

        @app.view(ids.COMPOSE_VIEW)
        async def submitted(ack: AsyncAck, body: dict[str, Any]) -> None:
            await ack(**await self.submission.answer(body.get("view") or {}, _user(body)))

    def _spawn(self, work: Any, what: str) -> None:
        self.herald.background.spawn(work, name=f"compose-{what}")

    # -- opening ------------------------------------------------------------------

    async def open(
        self,
        trigger_id: str,
        user: str,
        origin: Origin,
        form: ComposeForm | None = None,
        tell: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        """Open the modal (``views.open``) at once: the trigger expires in 3 s; ``tell``
        the person when Slack would not open it."""
        form = form or ComposeForm(receipt_to=origin.channel)
        if form.connection is None and len(self.herald.settings.connections) == 1:
            form = replace(form, connection=next(iter(self.herald.settings.connections)))
        view = compose_view(
            form,
            origin,
            await shown_for(
                self.herald,
                self.directory,
                form,
                user,
                check_recipients=bool(form.to),
                zone=origin.zone,
            ),
        )
        try:
            await self.client.views_open(trigger_id=trigger_id, view=view)
        except (SlackApiError, ClientError, TimeoutError) as exc:
            log.warning("could not open the compose form: %s", why(exc))
            if tell is not None:
                await tell(NOT_OPENED)

    async def open_edit(
        self, trigger_id: str, user: str, target: str, tell: Callable[[str], Awaitable[None]]
    ) -> None:
        """Open the modal prefilled with what ``target`` (a scheduled message, send or
        schedule) will send; ``tell`` the person why not when it cannot be edited."""
        try:
            draft = self.herald.draft(target)
        except HeraldError as error:
            await tell(f":warning: {esc(phrase(error))}")
            return
        gone = self._gone(draft.connection, draft.template)
        if gone:
            await tell(f":warning: #{esc(draft.target)} {gone} Cancel it, or ask your admin.")
            return
        to = ", ".join(draft.recipients)
        too_long = None
        if len(to) > TO_LIMIT:
            too_long = "has too many recipients to show in a form (send to many as @NAME)"
        elif len(draft.text) > TO_LIMIT:
            too_long = f"has more text than a form shows ({TO_LIMIT:,} characters)"
        elif len(draft.media_urls) > 1:
            too_long = "has more than the one media file a form shows"
        if too_long:
            await tell(f":warning: #{esc(draft.target)} {too_long}: cancel it and send it again.")
            return
        # a channel shows in the menu; a DM cannot, and stays where it was unless one is chosen
        place = draft.announce_to or ""
        announce_to = place if place[:1] in ("C", "G") else None
        form = ComposeForm(
            connection=draft.connection,
            to=to,
            template=draft.template,
            variables=dict(draft.variables),
            message=draft.text or "",
            subject=draft.subject or "",
            media=draft.media_urls[0] if draft.media_urls else "",
            send_at=int(draft.due_at.timestamp()),
            repeat=repeat_of(draft.rule),
            receipt_to=announce_to,
        )
        origin = Origin(
            via="edit",
            channel=place or None,
            editing=draft.target,
            zone=draft.timezone,
            rule=draft.rule,
            until=draft.until.isoformat() if draft.until else None,
        )
        await self.open(trigger_id, user, origin, form, tell)

    # -- redrawing ----------------------------------------------------------------

    def changed(self, view: dict[str, Any], user: str) -> None:
        """A field changed: redraw the form, once for a burst of changes (the latest
        state wins; a change that arrives mid-redraw is drawn right after it)."""
        view_id = view.get("id")
        if not isinstance(view_id, str) or not view_id:
            return
        if view_id not in self._latest and len(self._latest) >= MAX_REDRAWING:
            log.warning("too many forms being redrawn at once; one change is not shown")
            return
        drawing = view_id in self._latest
        self._latest[view_id] = (view, user)
        if not drawing:
            self._spawn(self._redraw_latest(view_id), "redraw")

    async def _redraw_latest(self, view_id: str) -> None:
        view_hash: str | None = None
        try:
            while (latest := self._latest.get(view_id)) is not None:
                view, user = latest
                view_hash = await self.redraw(view, user, view_hash)
                if self._latest.get(view_id) is latest:
                    return
        finally:
            self._latest.pop(view_id, None)

    async def redraw(
        self, view: dict[str, Any], user: str, view_hash: str | None = None
    ) -> str | None:
        """Draw ``view`` again for what its form holds now (``view_hash``: the hash of
        this process's own last redraw of it, else the view's); the new hash."""
        form = read_form(view)
        origin = Origin.load(view.get("private_metadata"))
        shown = await shown_for(
            self.herald, self.directory, form, user, check_recipients=True, zone=origin.zone
        )
        new = compose_view(form, origin, shown)
        try:
            answer = await self.client.views_update(
                view_id=str(view.get("id") or ""), hash=view_hash or view.get("hash"), view=new
            )
        except SlackApiError as exc:
            # hash_conflict: a newer change redraws it; anything else: the form stays as is
            level = logging.DEBUG if slack_error(exc) == "hash_conflict" else logging.WARNING
            log.log(level, "could not redraw the compose form: %s", why(exc))
            return None
        except (ClientError, TimeoutError) as exc:
            log.warning("could not redraw the compose form: %s", why(exc))
            return None
        drawn = answer.get("view")
        return str(drawn.get("hash")) if isinstance(drawn, dict) and drawn.get("hash") else None

    def _gone(self, connection: str, template: str | None) -> str | None:
        """Why what an edit would open cannot go out any more (None: it can)."""
        if connection not in self.herald.settings.connections:
            return (
                f"goes out through the connection '{esc(connection)}', which is no longer set up."
            )
        if template is not None:
            library = self.herald.templates
            try:
                readable = template in library.names() and library.info(template) is not None
            except InputError:
                readable = False
            if not readable:
                return f"uses the template '{esc(template)}', which cannot be read any more."
        return None

    async def _tell_home(self, user: str, text: str) -> None:
        if self.home is not None:
            self.home.tell(user, text)

    async def tell(self, user: str, text: str) -> None:
        """Say ``text`` to ``user`` in their DM with Herald (a modal has no response_url)."""
        try:
            await self.client.chat_postMessage(channel=user, text=text)
        except (SlackApiError, ClientError, TimeoutError) as exc:
            log.warning("could not tell %s: %s", loggable(user, 20), why(exc))


def _user(body: dict[str, Any]) -> str:
    user = body.get("user")
    return str(user.get("id") or "") if isinstance(user, dict) else ""


def _trigger(body: dict[str, Any]) -> str:
    return str(body.get("trigger_id") or "")
