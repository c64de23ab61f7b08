"""What several ``herald`` commands share in what they print and return: the exit codes,
a message on one line (``herald send``, ``herald status``) and what a send says
(``herald status``, ``herald jobs list``)."""

from __future__ import annotations

from datetime import timedelta

from bot.models import Message, MessageStatus
from bot.scheduling.when import describe_delta

EXIT_FAILED = 1
EXIT_USAGE = 2


def message_line(message: Message) -> str:
    parts = [message.id, message.status.value, message.recipient, f"via {message.connection}"]
    if message.status is MessageStatus.SCHEDULED and message.due_at is not None:
        parts.append(f"due {message.due_at:%Y-%m-%d %H:%M:%S} UTC")
    if message.late_by and message.status is not MessageStatus.FAILED:
        late = describe_delta(timedelta(seconds=message.late_by)).removeprefix("in ")
        parts.append(f"(went out {late} late: Herald was not running at its time)")
    if message.provider_message_id:
        parts.append(f"provider id {message.provider_message_id}")
    if message.status is MessageStatus.FAILED and message.error:
        parts.append(f"— {message.error}")
    return "  ".join(parts)


WHAT_WIDTH = 40


def what(template: str | None, text: str | None) -> str:
    """What a send says, on one line: its template, or its text clipped."""
    if template:
        return f"template {template}"
    flat = " ".join((text or "").split())
    return repr(flat if len(flat) <= WHAT_WIDTH else flat[: WHAT_WIDTH - 1] + "…")
