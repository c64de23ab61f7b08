"""Recipients: parse, normalize (E.164 or e-mail) and mask for display."""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from bot.errors import InvalidRecipientError
from providers import Channel

MAX_RECIPIENTS = 25
_MASK = "•"


def split_recipients(text: str) -> list[str]:
    """``+31612345678,+4915112345678`` → two entries; blanks are dropped."""
    return [part.strip() for part in re.split(r"[,;]", text) if part.strip()]


def normalize_recipient(value: str, channel: Channel) -> str:
    """The canonical form of one recipient for this channel, or `InvalidRecipientError`."""
    if channel is Channel.EMAIL:
        return _email(value)
    return _phone(value, channel)


def normalize_recipients(values: list[str], channel: Channel) -> list[str]:
    if not values:
        raise InvalidRecipientError("Add a recipient, e.g. +31612345678", field="to")
    if len(values) > MAX_RECIPIENTS:
        raise InvalidRecipientError(
            f"{len(values)} recipients is more than {MAX_RECIPIENTS} in one send; split the list",
            field="to",
        )
    seen: dict[str, None] = {}
    for value in values:
        seen.setdefault(normalize_recipient(value, channel), None)
    return list(seen)


def _phone(value: str, channel: Channel) -> str:
    if "@" in value:
        raise InvalidRecipientError(
            f"'{value}' is an e-mail address, but this connection sends {channel}; "
            "use a phone number such as +31612345678",
            field="to",
        )
    cleaned = value.strip()
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    if not cleaned.startswith("+"):
        raise InvalidRecipientError(
            f"'{value}' needs its country code: write it as +<country><number>, e.g. +31612345678",
            field="to",
        )
    try:
        number = phonenumbers.parse(cleaned, None)
    except phonenumbers.NumberParseException:
        raise InvalidRecipientError(
            f"'{value}' is not a phone number; write it as +<country><number>, e.g. +31612345678",
            field="to",
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidRecipientError(
            f"'{value}' is not a valid phone number (check the digits and the country code)",
            field="to",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _email(value: str) -> str:
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidRecipientError(
            f"'{value}' is not a valid e-mail address: {exc}", field="to"
        ) from None
    return result.normalized


def mask_recipient(recipient: str) -> str:
    """``+31612345678`` → ``+316•••••678``; ``jane.doe@example.com`` → ``j•••@example.com``."""
    if "@" in recipient:
        local, _, domain = recipient.partition("@")
        return f"{local[:1]}{_MASK * 3}@{domain}"
    digits = recipient.lstrip("+")
    if len(digits) <= 6:
        return "+" + _MASK * len(digits)
    return "+" + digits[:3] + _MASK * (len(digits) - 6) + digits[-3:]
