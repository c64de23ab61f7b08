"""Capillary's customer interaction lookup, read into receipts (spec providers.md §1.6, §1.7).

Capillary calls nobody back (§1.7: none of its ~60 notification events is about a
message), and its JSON send answer names no message (§1.5). The one place a delivery
status shows is the list of a *customer's* messages [CAP-INTERACT]:

    GET /v1.1/customer/interaction?format=json&identifierName=mobile&identifierValue=…&type=…

    {"name": "capillary", "interaction": [{"count": 8, "name": "email", "messageList": [
      {"id": 1685578741592, "receiver": "...", "subject": "...", "campaignId": -1,
       "status": "DELIVERED", "deliveredTime": "2023-06-02T09:24:40Z",
       "sentDate": "02-06-2023 09:24:40", "userId": 177269954}]}], "warnings": []}

So a message is found in its recipient's list: by its id when the send's answer gave
one (an ``nsAdminId``, which §1.7 infers the list's ``id`` values to be), else by the
time it went out, within `MATCH_BEFORE`/`MATCH_AFTER` of Herald's acceptance. Several
messages to one customer in that window that disagree give no receipt: a guess would
put one message's status on another. Only the matched entry is kept as the receipt's
raw payload, never the customer's other messages.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from providers.base import Channel, DeliveryStatus, Receipt, SentRef
from providers.callback_json import text_of
from providers.timestamps import parse_timestamp

INTERACTION_PATH = "/v1.1/customer/interaction"
# §1.6: DELIVERED, NOT-DELIVERED and SOFT_BOUNCED are documented. The Insights fact table
# lists more delivery statuses (sent, read, opened, clicked, blocked…) whose API strings
# are UNKNOWN: read here in the same spelling, should they come. Words are compared
# upper-cased with "-" and " " as "_" (the documented words mix them).
STATUSES = {
    "DELIVERED": DeliveryStatus.DELIVERED,
    "NOT_DELIVERED": DeliveryStatus.FAILED,
    "SOFT_BOUNCED": DeliveryStatus.FAILED,
    "SENT": DeliveryStatus.SENT,
    "READ": DeliveryStatus.READ,
    "OPENED": DeliveryStatus.READ,
    "CLICKED": DeliveryStatus.READ,
    "BLOCKED": DeliveryStatus.FAILED,
}
REASONS = {
    "NOT_DELIVERED": "Capillary reports it NOT-DELIVERED",
    "SOFT_BOUNCED": "Capillary reports it SOFT_BOUNCED: the recipient's server did not take it",
    "BLOCKED": "Capillary reports it blocked",
}
# How far from Herald's acceptance an entry's sentDate may be and still be this message:
# a little before (the two clocks differ), longer after (Capillary queues, §1.5 "Queued").
MATCH_BEFORE = timedelta(minutes=2)
MATCH_AFTER = timedelta(minutes=30)
SENT_DATE = "%d-%m-%Y %H:%M:%S"  # §1.7's "02-06-2023 09:24:40"
PHONE_TAIL = 7  # digits compared: §1.3 shows Capillary prefixing country codes it echoes


def interaction_query(message: SentRef) -> dict[str, str]:
    """The query string for ``message``'s recipient: ``mobile`` (digits without "+", as
    sent) or ``email``, and the channel as the interaction ``type``."""
    if message.channel is Channel.EMAIL:
        name, value = "email", message.to.strip().lower()
    else:
        name, value = "mobile", re.sub(r"\D", "", message.to)
    return {
        "format": "json",
        "identifierName": name,
        "identifierValue": value,
        "type": message.channel.value,
    }


def interaction_receipts(body: Any, message: SentRef) -> list[Receipt]:
    """The receipt the customer's interaction list gives ``message``; none while it is
    not there (yet), says nothing Herald tracks, or cannot be told from another."""
    entries = [e for e in _entries(body, message.channel) if _same_receiver(e, message)]
    if message.provider_message_id:
        found = [e for e in entries if _text(e.get("id")) == message.provider_message_id]
    else:
        found = [e for e in entries if _near(e, message.accepted_at)]
    words = {_word(e.get("status")) for e in found}
    if len(words) != 1:
        return []  # not there, or messages in the window disagree
    (word,) = words
    status = STATUSES.get(word)
    if status is None:
        return []
    entry = found[0]
    delivered = parse_timestamp(entry.get("deliveredTime"))
    return [
        Receipt(
            status,
            provider_message_id=_text(entry.get("id")),
            reference=message.reference,
            reason=REASONS.get(word) if status is DeliveryStatus.FAILED else None,
            occurred_at=delivered if status is DeliveryStatus.DELIVERED else None,
            raw=entry,
        )
    ]


def _entries(body: Any, channel: Channel) -> list[dict[str, Any]]:
    groups = body.get("interaction") if isinstance(body, dict) else None
    found: list[dict[str, Any]] = []
    for group in groups if isinstance(groups, list) else []:
        if not isinstance(group, dict):
            continue
        name = text_of(group.get("name"))
        if name is not None and name.lower() != channel.value:
            continue  # the example names each group by its type
        listed = group.get("messageList")
        found += [e for e in listed if isinstance(e, dict)] if isinstance(listed, list) else []
    return found


def _same_receiver(entry: dict[str, Any], message: SentRef) -> bool:
    receiver = _text(entry.get("receiver"))
    if receiver is None:
        return True  # the list is the customer's own: an entry without one is theirs
    if message.channel is Channel.EMAIL:
        return receiver.lower() == message.to.strip().lower()
    ours, theirs = re.sub(r"\D", "", message.to), re.sub(r"\D", "", receiver)
    return len(theirs) >= PHONE_TAIL and ours[-PHONE_TAIL:] == theirs[-PHONE_TAIL:]


def _near(entry: dict[str, Any], accepted_at: datetime | None) -> bool:
    sent = _sent_at(entry.get("sentDate"))
    if accepted_at is None or sent is None:
        return False
    return accepted_at - MATCH_BEFORE <= sent <= accepted_at + MATCH_AFTER


def _sent_at(value: Any) -> datetime | None:
    """``sentDate`` as §1.7 shows it, read as UTC: its example's clock time is the
    ``deliveredTime`` beside it, which is marked ``Z`` [inference]."""
    text = _text(value)
    if text is None:
        return None
    try:
        return datetime.strptime(text, SENT_DATE).replace(tzinfo=UTC)
    except ValueError:
        return parse_timestamp(text)


def _word(value: Any) -> str:
    return re.sub(r"[\s-]+", "_", str(value or "").strip()).upper()


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).strip() or None
