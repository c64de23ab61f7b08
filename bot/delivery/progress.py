"""How a reported delivery status changes a message.

Providers report out of order and more than once; a receipt never moves a
message backwards, and a message that is final stays final. Every report is
kept in the history all the same.
"""

from __future__ import annotations

from bot.models import MessageStatus

_TERMINAL = frozenset({MessageStatus.FAILED, MessageStatus.CANCELLED})


def advances(current: MessageStatus, reported: MessageStatus) -> bool:
    """Whether a report of ``reported`` should become the message's status."""
    if current in _TERMINAL or reported == current:
        return False
    if reported is MessageStatus.FAILED:
        return current not in (MessageStatus.DELIVERED, MessageStatus.READ)
    return reported.rank > current.rank
