"""The App Home view: a **Compose** button, what the viewer has scheduled (each with
**Send now**, **Edit** and **Cancel**), their recent sends with their current status,
and empty states that say how to start.

Times are Slack date tokens, so each viewer reads them in their own Slack time zone;
nothing relative ("in 2 hours") is written, since a Home view stays up for hours
between refreshes ("Today"/"Tomorrow" in a token are Slack's, and stay true).

Slack takes at most 100 blocks in a Home view and 3,000 characters per section: the
lists are capped (`SCHEDULED_LIMIT`, `RECENT_LIMIT`) and the rest counted, with the
command that shows them all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.models import Message, MessageStatus, Schedule, Send
from bot.options import rule_words, until_words
from bot.scheduling.plans import Agenda, AgendaSend, Rescheduled
from bot.slack import ids
from bot.slack.blocks.mrkdwn import (
    CHANNEL_LABEL,
    SECTION_LIMIT,
    STATUS_EMOJI,
    Block,
    clip,
    context,
    esc,
    packed,
    plural,
    recipients_text,
    section,
    slack_time,
    tally,
    what_text,
    zone_named,
)
from bot.slack.blocks.receipts import shown_recipient
from providers import Channel

SCHEDULED_LIMIT = 20  # waiting sends and schedules shown, two blocks each
RECENT_LIMIT = 10  # recent sends shown, one line each
RECENT_LINES_LIMIT = 5000  # characters of recent-send lines, in all
REASON_LIMIT = 120  # characters of a failure's reason
NOTICE_LIMIT = 600
EXAMPLE_NUMBER = "+31612345678"


@dataclass(frozen=True)
class Item:
    """A scheduled send or a repeating one, as its Home section and buttons show it."""

    id: str  # what the buttons act on
    text: str
    send_now: Block  # the confirm dialogs of Send now and Cancel
    cancel: Block
    due: datetime | None = None  # a schedule's next time: Send now acts only on that one


class RecentSend(Protocol):
    """What a recent send's line reads (`bot.services.SendSummary` has it)."""

    @property
    def send(self) -> Send: ...

    @property
    def counts(self) -> Mapping[MessageStatus, int]: ...

    @property
    def total(self) -> int: ...

    @property
    def first(self) -> Message | None: ...


def home_view(
    agenda: Agenda,
    recent: Sequence[RecentSend],
    *,
    command: str,
    channels: Mapping[str, Channel],
    mask: bool,
    notice: str | None = None,
) -> dict[str, Any]:
    """The viewer's Home: ``agenda`` is what they have scheduled, ``recent`` their latest
    sends (newest first; one still waiting in ``agenda`` is left out of it), ``channels``
    each configured connection's channel, ``notice`` what a button they clicked did (or
    why it could not), shown at the top."""
    example = next(iter(channels), "CONNECTION")
    blocks: list[Block] = [{"type": "header", "text": {"type": "plain_text", "text": "Herald"}}]
    if notice:
        blocks.append(section(clip(notice, NOTICE_LIMIT)))
    blocks += [
        section(
            "Send SMS, WhatsApp, e-mail, Zalo and MMS messages to customers from Slack. "
            f"Press *Compose*, or type `{command}` in any channel. Each message's receipt "
            "appears where you sent it from and updates as the message moves."
        ),
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": ids.COMPOSE_ACTION,
                    "text": {"type": "plain_text", "text": "Compose"},
                    "style": "primary",
                    "value": "home",
                }
            ],
        },
        {"type": "divider"},
        section("*Scheduled*"),
    ]
    blocks += _scheduled(agenda, command, channels, mask, example)
    waiting = {a.send.id for a in agenda.sends}
    shown = [r for r in recent if r.send.id not in waiting][:RECENT_LIMIT]
    blocks += [
        {"type": "divider"},
        section("*Recent sends*", block_id=ids.HOME_RECENT_BLOCK),
        *_recent(shown, command, mask, example),
        context(
            "Times are in your Slack time zone.",
            f"`{command} status ID` shows a message or send · `{command} help` lists every command",
        ),
    ]
    return {"type": "home", "blocks": blocks}


def sent_now_text(moved: Rescheduled, target: str) -> str:
    """What **Send now** did, in plain words."""
    shown = esc(clip(target, 40))
    if moved.schedule is not None:
        return (
            f":outbox_tray: The next message of repeating send *#{shown}* is going out now; "
            f"after it, {esc(rule_words(moved.schedule.rule))} as before."
        )
    if len(moved.messages) > 1:
        return (
            f":outbox_tray: The {len(moved.messages)} messages of *#{shown}* are going out "
            "now. The receipt shows when they are sent and delivered."
        )
    return (
        f":outbox_tray: *#{shown}* is going out now. Its receipt shows when it is sent and "
        "delivered."
    )


def _scheduled(
    agenda: Agenda, command: str, channels: Mapping[str, Channel], mask: bool, example: str
) -> list[Block]:
    count = len(agenda.sends) + len(agenda.schedules)
    if count == 0:
        return [
            section(
                "_Nothing scheduled._ Press *Compose* and pick a time under *Send at*, or type "
                f"`{command} {esc(example)} {EXAMPLE_NUMBER} Hello --at tomorrow 9am` in any "
                'channel. Add `--every "weekdays 09:00"` to repeat it.'
            )
        ]
    items: list[Item] = [_send_item(a, mask) for a in agenda.sends]
    items += [_schedule_item(s, channels, mask) for s in agenda.schedules]
    blocks: list[Block] = []
    for item in items[:SCHEDULED_LIMIT]:
        blocks.append(section(clip(item.text, SECTION_LIMIT)))
        blocks.append(_buttons(item))
    if count > SCHEDULED_LIMIT:
        left = count - SCHEDULED_LIMIT
        blocks.append(context(f"… and {left} more scheduled: `{command} list` shows them all."))
    return blocks


def _send_item(waiting: AgendaSend, mask: bool) -> Item:
    send, messages = waiting.send, waiting.messages
    item_id = messages[0].id if len(messages) == 1 else send.id  # as `/send list` says it
    to = recipients_text([m.recipient for m in messages], mask)
    due = slack_time(waiting.due_at, zone_named(send.timezone))
    text = (
        f"{STATUS_EMOJI[MessageStatus.SCHEDULED]} *#{item_id}* · goes out {due}\n"
        f"{CHANNEL_LABEL[messages[0].channel]} to {to} via *{esc(send.connection)}*\n"
        f"{what_text(send.template, send.text, labelled=True)}"
    )
    one = len(messages) == 1
    send_now = _confirm(
        "Send it now?",
        f"*#{item_id}* goes out right away to {to}, not at {due}.",
        "Send now",
        "Keep it scheduled",
    )
    cancel = _confirm(
        f"Cancel #{item_id}?",
        f"{'It does' if one else f'Its {len(messages)} messages do'} not go out, and "
        f"{'its receipt says' if one else 'the receipts say'} *cancelled*.",
        "Cancel it",
        "Keep it",
    )
    return Item(item_id, text, send_now, cancel)


def _schedule_item(schedule: Schedule, channels: Mapping[str, Channel], mask: bool) -> Item:
    zone = zone_named(schedule.timezone)
    to = recipients_text(schedule.recipients, mask)
    label = CHANNEL_LABEL[channels[schedule.connection]] if schedule.connection in channels else ""
    text = f":repeat: *#{schedule.id}* · repeats {esc(rule_words(schedule.rule))}"
    if schedule.next_due is not None:
        text += f" · next {slack_time(schedule.next_due, zone)}"
    text += f"\n{label + ' ' if label else ''}to {to} via *{esc(schedule.connection)}*"
    if schedule.until is not None:
        text += f" · {until_words(schedule.until, zone or ZoneInfo('UTC'))}"
    text += f"\n{what_text(schedule.template, schedule.text, labelled=True)}"
    send_now = _confirm(
        "Send the next one now?",
        f"The next message of repeating send *#{schedule.id}* goes out right away to {to}. "
        "The schedule keeps its rule.",
        "Send now",
        "Not now",
    )
    cancel = _confirm(
        f"Stop #{schedule.id}?",
        "No more messages of this repeating send go out. What went out already stays as it is.",
        "Stop it",
        "Keep it",
    )
    return Item(schedule.id, text, send_now, cancel, schedule.next_due)


def _buttons(item: Item) -> Block:
    def button(action_id: str, label: str, **extra: Any) -> Block:
        return {
            "type": "button",
            "action_id": action_id,
            "text": {"type": "plain_text", "text": label},
            "value": item.id,
            **extra,
        }

    return {
        "type": "actions",
        "elements": [
            {
                **button(ids.SEND_NOW_ACTION, "Send now", confirm=item.send_now),
                "value": send_now_value(item.id, item.due),
            },
            button(ids.EDIT_ACTION, "Edit"),
            button(ids.CANCEL_ACTION, "Cancel", style="danger", confirm=item.cancel),
        ],
    }


def _confirm(title: str, text: str, yes: str, no: str) -> Block:
    return {
        "title": {"type": "plain_text", "text": clip(title, 100)},
        "text": {"type": "mrkdwn", "text": clip(text, 300)},
        "confirm": {"type": "plain_text", "text": yes},
        "deny": {"type": "plain_text", "text": no},
    }


def _recent(shown: Sequence[RecentSend], command: str, mask: bool, example: str) -> list[Block]:
    if not shown:
        return [
            section(
                "_Nothing sent yet._ Press *Compose*, or type "
                f"`{command} {esc(example)} {EXAMPLE_NUMBER} Hello` in any channel: the receipt "
                "appears there and updates as the message is sent and delivered."
            )
        ]
    lines = [_recent_line(r, mask) for r in shown]
    return [section(text) for text in packed(lines, None, RECENT_LINES_LIMIT)]


def _recent_line(recent: RecentSend, mask: bool) -> str:
    send, first = recent.send, recent.first
    when = slack_time(send.due_at or send.created_at, zone_named(send.timezone))
    repeat = f" · from :repeat: #{send.schedule_id}" if send.schedule_id else ""
    if recent.total == 1 and first is not None:
        line = (
            f"{STATUS_EMOJI[first.status]} *{first.status.value}* · *#{first.id}* · "
            f"{CHANNEL_LABEL[first.channel]} to `{shown_recipient(first, mask)}` via "
            f"{esc(send.connection)} · {when}{repeat}"
        )
        if first.status is MessageStatus.FAILED and first.error:
            line += f"\n      _{esc(clip(' '.join(first.error.split()), REASON_LIMIT))}_"
        return line
    counts = tally(recent.counts, emoji=True) or "no messages"
    label = f"{CHANNEL_LABEL[first.channel]} " if first is not None else ""
    return (
        f":busts_in_silhouette: *#{send.id}* · {label}to {plural(recent.total, 'recipient')} "
        f"via {esc(send.connection)} · {when}{repeat}\n      {counts}"
    )


def send_now_value(item_id: str, due: datetime | None) -> str:
    """A Send now button's value: the id, and for a schedule the next time it showed
    (``ID@MILLISECONDS``), so a second click, or one from a Home drawn before the schedule
    moved on, does not send another occurrence."""
    return item_id if due is None else f"{item_id}@{int(due.timestamp() * 1000)}"


def read_send_now(value: str) -> tuple[str, datetime | None]:
    """The id and the expected next time in a Send now button's value."""
    item_id, _, due = value.partition("@")
    if not due.isdigit() or len(due) > 15:
        return item_id, None
    return item_id, datetime.fromtimestamp(int(due) / 1000, UTC)
