"""The core's two small windows on the outside world.

`Announcer`: the core calls ``message_changed`` after every status change it
stores; Slack implements it by posting and editing the receipt, the CLI by
printing. `Directory`: who a sender is, for providers that route replies to the
person who wrote (Slack implements it with ``users.info``).
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


class Directory(Protocol):
    async def email_of(self, sender: str) -> str | None:
        """The e-mail address of ``sender`` (a Slack user id or ``cli:<login>``), if known."""
