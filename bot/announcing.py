"""How the core tells the outside world that a message changed.

The core calls `Announcer.message_changed` after every status change it stores.
Slack implements it by posting and editing the receipt; the CLI by printing.
"""

from __future__ import annotations

from typing import Protocol

from bot.models import Message


class Announcer(Protocol):
    async def message_changed(self, message: Message) -> None:
        """``message`` is the stored state right after the change."""


class SilentAnnouncer:
    """Announces nothing (a process with no one to tell)."""

    async def message_changed(self, message: Message) -> None:
        return None
