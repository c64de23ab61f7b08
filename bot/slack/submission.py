"""The compose form's submission: checked, stored, answered (`FormSubmission.answer`).

Checked as every send is (`bot.sending`, `bot.scheduling`) while Slack waits: the form's
own mistakes all at once (`bot.slack.forms.check_form`), then the send pipeline's; each
error lands on its field (``response_action: errors``) and nothing is stored. A good
one is stored before the answer, so the form closing means it is Herald's; a send to a
big list is answered at once and prepared after, as the slash command does it, and the
outcome is said in the person's DM with Herald. Saving an Edit goes to `Herald.edit`,
which moves it (only its time changed) or replaces it. A repeating send has no receipt
until its first time, so the form turns into its confirmation instead of closing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from bot.errors import HeraldError, InputError, RepeatedRequestError
from bot.options import phrase
from bot.scheduling.plans import Scheduled
from bot.sending.requests import SendRequest, prepare, read_lists, row_count
from bot.services import Herald
from bot.slack import commands
from bot.slack.blocks.compose import done_view, repeating_text
from bot.slack.blocks.scheduling import rescheduled_text
from bot.slack.commands import SlashCommand, lock_wait_left, preparing_text
from bot.slack.directory import SlackDirectory
from bot.slack.forms import (
    ComposeForm,
    Origin,
    check_form,
    field_errors,
    input_blocks,
    on_top,
    read_form,
    request_of,
)
from bot.storage.store import utcnow

# what was edited went out, was cancelled or moved on meanwhile: said at the top
_STATE_CODES = frozenset({"not_cancellable", "not_reschedulable"})


class FormSubmission:
    """What a submitted compose form does, and what Slack is answered."""

    def __init__(
        self,
        herald: Herald,
        directory: SlackDirectory,
        command: SlashCommand,
        tell: Callable[[str, str], Awaitable[None]],
    ) -> None:
        self.herald = herald
        self.directory = directory
        self.command = command
        self.tell = tell  # (user, text): say something in the person's DM with Herald

    def _request(
        self, form: ComposeForm, origin: Origin, user: str, zone: str | None
    ) -> SendRequest:
        return request_of(
            form, origin, user=user, zone=zone, default_zone=self.herald.settings.scheduling.zone()
        )

    async def answer(self, view: dict[str, Any], user: str) -> dict[str, Any]:
        """The answer to the submission: ``{}`` closes the modal, ``errors`` keeps it."""
        started = time.monotonic()
        form = read_form(view)
        origin = Origin.load(view.get("private_metadata"))
        shown_ids = input_blocks(view)
        owner = user
        if origin.editing:
            try:  # still waiting? said first, at the top: no field can fix that
                owner = self.herald.draft(origin.editing).sender  # an edit keeps it theirs
            except HeraldError as error:
                return _errors(on_top(shown_ids, phrase(error)))
        connection = self.herald.settings.connections.get(form.connection or "")
        found = check_form(
            form,
            connection.channel if connection else None,
            utcnow(),
            shown=shown_ids,
            kept_rule=origin.rule,
        )
        if found:
            return _errors(found)
        # an edit reads times in the zone it was made in (a schedule keeps its wall clock)
        zone = origin.zone or await self.directory.timezone_of(user)
        view_id = view.get("id")
        try:
            request = self._request(form, origin, owner, zone)
            # one view is stored once, however often Slack or the person submits it
            key = f"compose:{view_id}" if isinstance(view_id, str) and view_id else None
            request = replace(request, request_key=key)
            if origin.editing:
                done = await self._save(origin, request, user, started)
            else:
                done = await self._send(request, user, started)
        except RepeatedRequestError:
            return {}
        except InputError as error:
            if error.code not in _STATE_CODES:
                return _errors(field_errors(error, shown_ids, form))
            return _errors(on_top(shown_ids, phrase(error)))
        except HeraldError as error:  # not found, the database busy: at the top
            return _errors(on_top(shown_ids, phrase(error)))
        if done is None:
            return {}  # the modal closes; the receipt shows what happened
        return {"response_action": "update", "view": done}

    def _repeating(
        self, scheduled: Scheduled, request: SendRequest, replaced: str | None = None
    ) -> dict[str, Any] | None:
        """The confirmation of a repeating send (it has no receipt until its first time);
        None for anything else."""
        if scheduled.schedule is None:
            return None
        place = request.announce_to or ""
        receipts_in = (
            f"<#{place}>" if place[:1] in ("C", "G") else "your direct messages with Herald"
        )
        text = repeating_text(
            scheduled.schedule,
            scheduled.zone,
            now=utcnow(),
            receipts_in=receipts_in,
            replaced=replaced,
        )
        return done_view("Repeating send saved", text)

    async def _send(self, request: SendRequest, user: str, started: float) -> dict[str, Any] | None:
        herald, command = self.herald, self.command
        if request.names_lists:
            request = await asyncio.to_thread(read_lists, request, herald.settings)
            if row_count(request) > commands.INLINE_ROWS:
                await self.tell(user, preparing_text(request))
                herald.background.spawn(
                    command.finish(request, lambda text: self.tell(user, text), None, None),
                    name="compose-list-send",
                )
                return None
        if request.is_scheduled:
            scheduled = await herald.schedule(request, lock_wait=lock_wait_left(started))
            return self._repeating(scheduled, request)
        messages = await herald.submit(request, lock_wait=lock_wait_left(started))
        herald.background.spawn(herald.dispatch(messages), name="compose-send", defer=True)
        return None

    async def _save(
        self, origin: Origin, request: SendRequest, user: str, started: float
    ) -> dict[str, Any] | None:
        assert origin.editing is not None
        if not request.is_scheduled:
            raise InputError(
                "Choose when it goes out. To send it now, use Send now in App Home.",
                code="when_invalid",
                fields=("at",),
            )
        if request.names_lists:  # read, checked and written off the event loop
            request = await prepare(request, self.herald.settings, self.herald.templates)
        edited = await self.herald.edit(
            origin.editing, request, actor=user, lock_wait=lock_wait_left(started)
        )
        if edited.replaced is not None:
            return self._repeating(edited.replaced.new, request, replaced=origin.editing)
        moved = edited.moved
        if moved is None or moved.schedule is None:
            return None  # nothing changed, or its receipt shows the new time
        text = rescheduled_text(moved, origin.editing, self.command.name, now=utcnow())
        return done_view("Repeating send moved", text)


def _errors(errors: dict[str, str]) -> dict[str, Any]:
    return {"response_action": "errors", "errors": errors}
