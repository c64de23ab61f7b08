"""The slash command: ack → parse → call one service → render.

Input errors are raised as `InputError`s and turned into an ephemeral answer by
the app's one error handler (`bot.slack.app`), so nothing here catches them.

A command that reads a time (``--at``, ``--every``, ``--until``, ``reschedule``) reads it
in the sender's Slack time zone, asked of Slack while Slack waits for the answer
(`bot.slack.directory`, with a short timeout); when Slack does not say, the time is
read in Herald's zone (``[scheduling] timezone``) and the answer says so.

A send to a recipient list (``@NAME``) reads the list off the event loop first. Up to
`INLINE_ROWS` rows it goes on as any send: checked, rendered and stored before Slack gets
its answer. A bigger list takes longer than Slack waits (about 0.7 s for 10,000 rows, and
the event loop must keep answering others meanwhile), so Slack is answered at once
("Preparing the send to @customers: 10,000 rows…") and the rest runs in the background:
rows checked and rendered on a worker thread, then stored in one transaction, and the
outcome — the send's ``#ID``, or the bad rows — is said through the command's
``response_url``. Nothing is stored until every row is good, and a send is stored once
or not at all (the request's key is claimed in the same transaction), so a failure
midway leaves nothing behind and nothing goes out twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot.errors import HeraldError, RepeatedRequestError
from bot.lookups import ScheduleReport, SendReport
from bot.models import Message, normalize_message_id
from bot.scheduling.plans import Scheduled
from bot.sending.lists import RecipientList
from bot.sending.requests import SendRequest, prepare, read_lists, row_count
from bot.services import Herald
from bot.slack import blocks, grammar, phrasing
from bot.slack.announcer import SlackAnnouncer
from bot.slack.directory import SlackDirectory
from bot.slack.forms import Origin
from bot.slack.replays import CONTEXT_KEY as REQUEST_KEY
from bot.slack.responses import tell_privately
from bot.storage.store import utcnow

if TYPE_CHECKING:
    from bot.slack.compose import Composer

# Slack shows "operation timed out" after 3 s: a send stored within this is acknowledged,
# one that cannot get the database's lock by then is refused (nothing stored, try again).
ACK_LOCK_WAIT = 2.0
MIN_LOCK_WAIT = 0.5  # what is left for the lock however long Slack took to say the zone
# A send to lists of more rows than this is answered at once and stored after the answer.
INLINE_ROWS = 500

log = logging.getLogger(__name__)


class SlashCommand:
    """``/send …``: the acknowledgement's body for each command, and the slow work after it."""

    def __init__(
        self, herald: Herald, announcer: SlackAnnouncer, directory: SlackDirectory
    ) -> None:
        self.herald = herald
        self.announcer = announcer
        self.directory = directory
        self.name = herald.settings.slack.command
        self.individual_up_to = herald.settings.receipts.individual_up_to
        self.composer: Composer | None = None  # set by `bot.slack.app`: it opens the form

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
        user = str(command.get("user_id") or "")
        parsed = grammar.parse(command.get("text", ""))
        if isinstance(parsed, grammar.Compose):
            return self._compose(command, user)
        if isinstance(parsed, grammar.Help):
            return _private(blocks.help_text(name, herald.settings.connections))
        if isinstance(parsed, grammar.Templates):
            if parsed.name is None:
                return _private(blocks.templates_text(herald.template_list(), name))
            info, preview = herald.template_preview(parsed.name)
            return _private(blocks.template_preview_text(info, preview, name))
        if isinstance(parsed, grammar.Status):
            return self._status(parsed.target)
        if isinstance(parsed, grammar.ListScheduled):
            agenda = herald.agenda(None if parsed.everyone else user)
            text, shown = blocks.agenda_view(
                agenda, name, everyone=parsed.everyone, mask=mask, now=utcnow()
            )
            return _private(text, blocks=shown)
        if isinstance(parsed, grammar.Cancel):
            cancelled = await herald.cancel(parsed.target, actor=user, lock_wait=ACK_LOCK_WAIT)
            return _private(blocks.cancelled_text(cancelled))
        if isinstance(parsed, grammar.Reschedule):
            zone, note = await self._zone_of(user)
            moved = await herald.reschedule(
                parsed.target, parsed.when, actor=user, timezone=zone, lock_wait=ACK_LOCK_WAIT
            )
            target = normalize_message_id(parsed.target)
            return _private(
                blocks.rescheduled_text(moved, target, name, now=utcnow(), zone_note=note)
            )
        assert isinstance(parsed, grammar.QuickSend)
        request = SendRequest(
            connection=parsed.connection,
            recipients=parsed.recipients,
            text=parsed.text,
            subject=parsed.subject,
            media_urls=parsed.media,
            template=parsed.template,
            variables=parsed.variables,
            at=parsed.at,
            every=parsed.every,
            until=parsed.until,
            sender=user,
            origin="slack",
            announce_to=command.get("channel_id"),
            request_key=request_key,
        )
        if request.names_lists:
            request = await asyncio.to_thread(read_lists, request, herald.settings)
            if row_count(request) > INLINE_ROWS:
                return await self._later(request, command.get("response_url"))
        if request.is_scheduled:
            return await self._schedule(request, command.get("response_url"))
        messages = await herald.submit(request, lock_wait=ACK_LOCK_WAIT)
        self.announcer.remember_response_url([m.id for m in messages], command.get("response_url"))
        herald.background.spawn(
            herald.dispatch(messages),
            name="send-" + ",".join(m.id for m in messages),
            defer=True,
        )
        if len(messages) > 1 and messages[0].send_id:
            # each message gets its own receipt; the send's id follows them all at once
            return _private(
                blocks.sending_text(
                    len(messages), messages[0].send_id, name, individual_up_to=self.individual_up_to
                )
            )
        return {}

    async def _schedule(self, request: SendRequest, response_url: str | None) -> dict[str, Any]:
        """Store a send for later (or a repeating one) and confirm it privately; its
        receipts (``scheduled``, with a Cancel button) follow in the channel."""
        started = time.monotonic()
        zone, note = await self._zone_of(request.sender)
        lock_wait = lock_wait_left(started)
        scheduled = await self.herald.schedule(replace(request, timezone=zone), lock_wait=lock_wait)
        self.announcer.remember_response_url([m.id for m in scheduled.messages], response_url)
        return _private(
            blocks.scheduled_text(
                scheduled,
                self.name,
                now=utcnow(),
                zone_note=note,
                individual_up_to=self.individual_up_to,
            )
        )

    async def _later(self, request: SendRequest, response_url: str | None) -> dict[str, Any]:
        """Answer a send to a big list at once; check, store and send it in the background
        and say how that went through ``response_url``."""
        note = None
        if request.is_scheduled:
            zone, note = await self._zone_of(request.sender)
            request = replace(request, timezone=zone)

        async def tell(text: str) -> None:
            await tell_privately(response_url, text, about="how a send to a list went")

        self.herald.background.spawn(
            self.finish(request, tell, response_url, note), name="list-send"
        )
        return _private(preparing_text(request))

    def _compose(self, command: Mapping[str, Any], user: str) -> dict[str, Any]:
        """``/send`` alone: open the compose form at once (its trigger lasts 3 s) and
        answer Slack with nothing; the receipt goes to this conversation by default."""
        assert self.composer is not None
        channel = str(command.get("channel_id") or "") or None
        url = command.get("response_url")
        tell = partial(tell_privately, url, about="a form that did not open")
        self.herald.background.spawn(
            self.composer.open(
                str(command.get("trigger_id") or ""),
                user,
                Origin(via="command", channel=channel),
                tell=tell if isinstance(url, str) else None,
            ),
            name="compose-open",
        )
        return {}

    async def finish(
        self,
        request: SendRequest,
        tell: Callable[[str], Awaitable[None]],
        response_url: str | None,
        zone_note: str | None,
    ) -> None:
        """Check, store and send a send to a big list after Slack has its answer, and
        ``tell`` the person how it went: the ``#ID``, or what to fix."""
        herald, name = self.herald, self.name
        # only checking and storing can fail "before it was stored"; what is said after is
        # built once it is stored (and going out)
        scheduled: Scheduled | None = None
        messages: list[Message] = []
        try:
            prepared = await prepare(request, herald.settings, herald.templates)
            if request.is_scheduled:
                scheduled = await herald.schedule(prepared)
            else:
                messages = await herald.submit(prepared)
        except RepeatedRequestError:
            log.info("ignored a repeated slash command")
            return
        except HeraldError as error:
            problem = phrasing.problem_text(error, name, list(herald.settings.connections))
            await tell(blocks.error_text(problem, name, was_send=True))
            return
        except Exception:
            log.exception("a send to a list failed before it was stored")
            await tell(_FAILED_LATER.format(command=name))
            return
        if scheduled is not None:
            self.announcer.remember_response_url([m.id for m in scheduled.messages], response_url)
            text = blocks.scheduled_text(
                scheduled,
                name,
                now=utcnow(),
                zone_note=zone_note,
                individual_up_to=self.individual_up_to,
            )
        else:
            self.announcer.remember_response_url([m.id for m in messages], response_url)
            herald.background.spawn(
                herald.dispatch(messages), name="list-send-dispatch", defer=True
            )
            text = blocks.sending_text(
                len(messages),
                messages[0].send_id or "",
                name,
                individual_up_to=self.individual_up_to,
            )
        await tell(text)

    async def _zone_of(self, user: str) -> tuple[str | None, str | None]:
        """The zone to read ``user``'s times in (None: Herald's), and a note when that is
        not the user's own because Slack did not say."""
        zone = await self.directory.timezone_of(user)
        if zone is not None:
            return zone, None
        fallback = self.herald.settings.scheduling.zone().key
        return None, (
            f"Slack did not say your time zone just now, so times were read in {fallback} "
            "(Herald's zone)."
        )

    def _status(self, target: str) -> dict[str, Any]:
        herald, mask = self.herald, self.herald.settings.mask_recipients
        report = herald.report(target)
        if isinstance(report, ScheduleReport):
            return _private(
                blocks.schedule_status_text(report.schedule),
                blocks=blocks.schedule_status_blocks(
                    report.schedule,
                    [(send, report.counts.get(send.id, {})) for send in report.occurrences],
                    self.name,
                    mask=mask,
                    now=utcnow(),
                ),
            )
        if isinstance(report, SendReport):
            return _private(
                blocks.send_status_text(report.send, report.counts),
                blocks=blocks.send_status_blocks(report.send, report.messages, report.counts, mask),
            )
        return _private(
            blocks.receipt_text(report.message, mask),
            blocks=blocks.status_blocks(report.message, report.history, mask),
        )


def _private(text: str, **fields: Any) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text, **fields}


_FAILED_LATER = (
    ":boom: Herald hit an internal error while preparing this send, before it was "
    "stored: nothing was sent. Try again, or ask your admin to look at the logs."
)


def lock_wait_left(started: float) -> float:
    """What is left of Slack's wait (`ACK_LOCK_WAIT` from ``started``, a monotonic time)
    for the database's lock; at least `MIN_LOCK_WAIT`."""
    return max(MIN_LOCK_WAIT, ACK_LOCK_WAIT - (time.monotonic() - started))


def preparing_text(request: SendRequest) -> str:
    """The answer to a send to a big list while it is checked and stored."""
    lists = [e for e in request.recipients if isinstance(e, RecipientList)]
    named = ", ".join(listed.label for listed in lists)
    what = "scheduled send" if request.is_scheduled else "send"
    return (
        f":hourglass_flowing_sand: Preparing the {what} to {named}: {row_count(request):,} "
        "rows… Every row is checked before anything is sent; the outcome follows here."
    )
