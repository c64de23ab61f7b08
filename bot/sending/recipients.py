"""Recipients: split a typed list (one rule for Slack and the CLI), normalize each (E.164
or e-mail) and mask them for display.

A typed entry that starts with ``@`` names a recipient list (`bot.sending.lists`); it is
split off like any other entry and expanded into its rows when the send is built.
Each `InvalidRecipientError` carries a ``reason`` detail (`REASONS`), so a list row can
be named with a short reason instead of the whole sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from bot.errors import Field, InvalidRecipientError
from providers import Channel

_RECIPIENTS: tuple[Field, ...] = ("recipients",)
_MASK = "•"


# Commas, semicolons (what Outlook puts between addresses) and line breaks (a pasted
# column) separate recipients; a space does not, as a number may be written with spaces.
_SEPARATOR = re.compile(r"[,;\r\n]")
# After a list that ends in a separator, a word like these goes on with the list.
_LOOKS_LIKE_RECIPIENT = re.compile(r"^[+(0-9]|@")


def split_recipients(text: str) -> list[str]:
    """``+31612345678, +4915112345678`` → two entries; spaces around an entry and empty
    entries are dropped, spaces inside one (``+31 6 1234 5678``) are kept."""
    return [part.strip() for part in _SEPARATOR.split(text) if part.strip()]


def take_recipients(words: Sequence[str]) -> tuple[list[str], int]:
    """The recipients at the start of ``words`` and how many of the words they took.

    The one reading of a typed recipient list, for the slash command and the CLI alike:
    the first word is the list, and it goes on into the next word when that starts with
    a separator, or when the list ends in one and the word looks like a recipient
    (``+31612345678, +4915112345678 Hi``): a space after a comma never turns a number
    into message text. An option (a word starting with ``-``) ends it.
    """
    if not words:
        return [], 0
    taken = 1
    while taken < len(words):
        word, before = words[taken], words[taken - 1].rstrip()
        if word.startswith("-") or not word.strip():
            break
        if not (
            _SEPARATOR.match(word) or (_ends_list(before) and _LOOKS_LIKE_RECIPIENT.search(word))
        ):
            break
        taken += 1
    return split_recipients(",".join(words[:taken])), taken


def _ends_list(word: str) -> bool:
    return bool(word) and _SEPARATOR.match(word[-1]) is not None


def normalize_recipient(value: str, channel: Channel) -> str:
    """The canonical form of one recipient for this channel, or `InvalidRecipientError`."""
    if channel is Channel.EMAIL:
        return _email(value)
    return _phone(value, channel)


def normalize_recipients(values: list[str], channel: Channel, *, limit: int) -> list[str]:
    """Each of ``values`` normalized, a recipient typed twice once; at most ``limit``."""
    if not values:
        raise InvalidRecipientError(
            "Add a recipient, e.g. +31612345678", code="recipient_missing", fields=_RECIPIENTS
        )
    check_count(len(values), limit)
    seen: dict[str, None] = {}
    for value in values:
        seen.setdefault(normalize_recipient(value, channel), None)
    return list(seen)


def check_count(count: int, limit: int, where: str = "") -> None:
    """Refuse a send to more than ``limit`` (``[limits] max_recipients``) recipients;
    ``where`` names a list that alone has too many rows."""
    if count <= limit:
        return
    said = (
        f"{where} has more than {limit:,} rows, the most"
        if where
        else f"{count:,} recipients is more than the {limit:,}"
    )
    raise InvalidRecipientError(
        f"{said} one send may have: split the list, or raise [limits] max_recipients in "
        "Herald's configuration.",
        code="too_many_recipients",
        fields=_RECIPIENTS,
        count=count,
        limit=limit,
        list=where,
    )


# Why a recipient was refused (the ``reason`` detail of `InvalidRecipientError`).
REASONS = ("email_for_phone", "not_phone", "no_country_code", "invalid_phone", "invalid_email")


def _phone(value: str, channel: Channel) -> str:
    if "@" in value:
        raise InvalidRecipientError(
            f"'{value}' is an e-mail address, but this connection sends {channel}; "
            "use a phone number such as +31612345678",
            code="invalid_recipient",
            fields=_RECIPIENTS,
            recipient=value,
            reason="email_for_phone",
        )
    cleaned = value.strip()
    if not any(c.isdigit() for c in cleaned):
        # a word, most likely the text typed where the recipient belongs
        raise InvalidRecipientError(
            f"'{value}' is not a phone number. The recipient comes right after the "
            "connection, e.g. +31612345678, and the text after it.",
            code="invalid_recipient",
            fields=_RECIPIENTS,
            recipient=value,
            reason="not_phone",
        )
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    if not cleaned.startswith("+"):
        raise InvalidRecipientError(
            f"'{value}' needs its country code: write it as +<country><number>, e.g. +31612345678",
            code="invalid_recipient",
            fields=_RECIPIENTS,
            recipient=value,
            reason="no_country_code",
        )
    try:
        number = phonenumbers.parse(cleaned, None)
    except phonenumbers.NumberParseException:
        raise InvalidRecipientError(
            f"'{value}' is not a phone number; write it as +<country><number>, e.g. +31612345678",
            code="invalid_recipient",
            fields=_RECIPIENTS,
            recipient=value,
            reason="not_phone",
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidRecipientError(
            f"'{value}' is not a valid phone number (check the digits and the country code)",
            code="invalid_recipient",
            fields=_RECIPIENTS,
            recipient=value,
            reason="invalid_phone",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _email(value: str) -> str:
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidRecipientError(
            f"'{value}' is not a valid e-mail address: {exc}",
            code="invalid_recipient",
            fields=_RECIPIENTS,
            recipient=value,
            reason="invalid_email",
        ) from None
    return result.normalized


def mask_recipient(recipient: str) -> str:
    """``+31612345678`` → ``+316•••••678``; ``jane.doe@example.com`` → ``j•••@example.com``;
    a list (``@customers``, in a repeating send) is shown as it is."""
    if recipient.startswith("@"):
        return recipient
    if "@" in recipient:
        local, _, domain = recipient.partition("@")
        return f"{local[:1]}{_MASK * 3}@{domain}"
    digits = recipient.lstrip("+")
    if len(digits) <= 6:
        return "+" + _MASK * len(digits)
    return "+" + digits[:3] + _MASK * (len(digits) - 6) + digits[-3:]
