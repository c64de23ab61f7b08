"""What a person asks to send (`SendRequest`), checked and turned into messages
(``requests.py``), with its recipients read and normalized (``recipients.py``)."""

from bot.sending.requests import SendRequest, build_messages

__all__ = ["SendRequest", "build_messages"]
