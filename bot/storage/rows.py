"""How a `Message` is stored: its columns, and the conversions between rows and messages."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from bot.models import Message, MessageStatus
from providers import Channel, ProviderTemplate


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="milliseconds") if value else None


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


MESSAGE_COLUMNS = (
    "id",
    "connection",
    "channel",
    "recipient",
    "text",
    "subject",
    "media_urls",
    "sender",
    "origin",
    "status",
    "provider_message_id",
    "error",
    "announce_to",
    "receipt_channel",
    "receipt_ts",
    "failure_announced",
    "send_started_at",
    "created_at",
    "updated_at",
    "failover_from",
    "sender_email",
    "template",
    "variables",
    "attempts",
    "provider_template",
    "confidential",
    "owner",
)
COLUMN_LIST = ", ".join(MESSAGE_COLUMNS)
INSERT_MESSAGE = (
    f"INSERT INTO messages ({COLUMN_LIST}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in MESSAGE_COLUMNS)})"
)


def _template_json(template: ProviderTemplate | None) -> str | None:
    return json.dumps(asdict(template)) if template is not None else None


def _template(text: str | None) -> ProviderTemplate | None:
    return ProviderTemplate(**json.loads(text)) if text else None


def to_column(value: Any) -> Any:
    if isinstance(value, ProviderTemplate):
        return _template_json(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, MessageStatus):
        return value.value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, tuple):
        return json.dumps(list(value))
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def to_row(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "connection": message.connection,
        "channel": message.channel.value,
        "recipient": message.recipient,
        "text": message.text,
        "subject": message.subject,
        "media_urls": json.dumps(list(message.media_urls)),
        "sender": message.sender,
        "origin": message.origin,
        "status": message.status.value,
        "provider_message_id": message.provider_message_id,
        "error": message.error,
        "announce_to": message.announce_to,
        "receipt_channel": message.receipt_channel,
        "receipt_ts": message.receipt_ts,
        "failure_announced": int(message.failure_announced),
        "send_started_at": iso(message.send_started_at),
        "created_at": iso(message.created_at),
        "updated_at": iso(message.updated_at),
        "failover_from": message.failover_from,
        "sender_email": message.sender_email,
        "template": message.template,
        "variables": json.dumps(dict(message.variables)),
        "attempts": message.attempts,
        "provider_template": _template_json(message.provider_template),
        "confidential": int(message.confidential),
        "owner": None,
    }


def to_message(row: dict[str, Any]) -> Message:
    return Message(
        id=row["id"],
        connection=row["connection"],
        channel=Channel(row["channel"]),
        recipient=row["recipient"],
        text=row["text"],
        subject=row["subject"],
        media_urls=tuple(json.loads(row["media_urls"] or "[]")),
        sender=row["sender"],
        origin=row["origin"],
        status=MessageStatus(row["status"]),
        provider_message_id=row["provider_message_id"],
        error=row["error"],
        announce_to=row["announce_to"],
        receipt_channel=row["receipt_channel"],
        receipt_ts=row["receipt_ts"],
        failure_announced=bool(row["failure_announced"]),
        send_started_at=parse_time(row["send_started_at"]),
        created_at=parse_time(row["created_at"]) or utcnow(),
        updated_at=parse_time(row["updated_at"]) or utcnow(),
        failover_from=row["failover_from"],
        sender_email=row["sender_email"],
        template=row["template"],
        variables=json.loads(row["variables"] or "{}"),
        attempts=row["attempts"] or 0,
        provider_template=_template(row["provider_template"]),
        confidential=bool(row["confidential"]),
    )
