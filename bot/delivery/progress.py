"""How a reported delivery status changes a message.

Providers report out of order and more than once; a receipt never moves a
message backwards, and a message that is terminal stays terminal. Every report
is kept in the history all the same. Which statuses are which is said once, by
`MessageStatus` (``rank``, ``reached``, ``is_terminal``).
"""

from __future__ import annotations

from bot.models import MessageStatus


def advances(current: MessageStatus, reported: MessageStatus) -> bool:
    """Whether a report of ``reported`` should become the message's status."""
    if current.is_terminal or reported == current:
        return False
    if reported is MessageStatus.FAILED:
        return not current.reached
    return reported.rank > current.rank
