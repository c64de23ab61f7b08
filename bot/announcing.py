"""The core's two small windows on the outside world.

`Announcer`: the core calls ``message_changed`` after every status change it
stores; Slack implements it by posting and editing the receipt, the CLI by
printing. At start the core asks it which stored messages it never got to show
(Herald stopped between a change and its announcement) and announces those.
`Directory`: who a sender is, for providers that route replies to the person
who wrote (Slack implements it with ``users.info``).
"""

from __future__ import annotations

from typing import Protocol

from bot.models import Message


class Announcer(Protocol):
    async def message_changed(self, message: Message) -> None:
        """``message`` is the stored state right after the change."""

    def unannounced(self) -> list[Message]:
        """Stored messages whose announcement never happened, oldest first."""


class SilentAnnouncer:
    """Announces nothing (a process with no one to tell)."""

    async def message_changed(self, message: Message) -> None:
        return None

    def unannounced(self) -> list[Message]:
        return []


class Directory(Protocol):
    async def email_of(self, sender: str) -> str | None:
        """The e-mail address of ``sender`` (a Slack user id or ``cli:<login>``), if known."""
