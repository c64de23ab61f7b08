"""The schema of Herald's SQLite tables, as sqlite-utils migrations.

Add a function at the end for every change; never edit one that has shipped.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("herald")


@migrations()
def create_messages(db: Database) -> None:
    db["messages"].create(  # type: ignore[union-attr]
        {
            "id": str,
            "connection": str,
            "channel": str,
            "recipient": str,
            "text": str,
            "subject": str,
            "media_urls": str,
            "sender": str,
            "origin": str,
            "status": str,
            "provider_message_id": str,
            "error": str,
            "announce_to": str,
            "receipt_channel": str,
            "receipt_ts": str,
            "failure_announced": int,
            "send_started_at": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"connection", "channel", "recipient", "text", "sender", "status"},
        defaults={"failure_announced": 0, "media_urls": "[]"},
    )
    db["messages"].create_index(["connection", "provider_message_id"])  # type: ignore[union-attr]
    db["messages"].create_index(["status"])  # type: ignore[union-attr]
    db["messages"].create_index(["sender", "created_at"])  # type: ignore[union-attr]
    db["status_events"].create(  # type: ignore[union-attr]
        {
            "id": int,
            "message_id": str,
            "status": str,
            "reason": str,
            "source": str,
            "at": str,
            "raw": str,
        },
        pk="id",
        foreign_keys=[("message_id", "messages", "id")],
    )
    db["status_events"].create_index(["message_id"])  # type: ignore[union-attr]
    db["audit"].create(  # type: ignore[union-attr]
        {
            "id": int,
            "at": str,
            "actor": str,
            "action": str,
            "message_id": str,
            "connection": str,
            "detail": str,
        },
        pk="id",
    )


@migrations()
def add_delivery_columns(db: Database) -> None:
    """Failover, the sender's e-mail (for providers that assign replies) and templates."""
    table = db["messages"]
    table.add_column("failover_from", str)  # type: ignore[union-attr]
    table.add_column("sender_email", str)  # type: ignore[union-attr]
    table.add_column("template", str)  # type: ignore[union-attr]
    table.add_column("variables", str)  # type: ignore[union-attr]
    table.add_column("attempts", int, not_null_default=0)  # type: ignore[union-attr]


@migrations()
def add_provider_template(db: Database) -> None:
    """The provider-side template a message was rendered into (id, parameters, …)."""
    db["messages"].add_column("provider_template", str)  # type: ignore[union-attr]


@migrations()
def add_confidential(db: Database) -> None:
    """Messages whose text Slack must not show (from confidential templates)."""
    db["messages"].add_column("confidential", int, not_null_default=0)  # type: ignore[union-attr]


@migrations()
def add_owner(db: Database) -> None:
    """Which process is working on a message (``host:pid``), so a restart of the server
    leaves alone what a running ``herald send`` is still handing over."""
    db["messages"].add_column("owner", str)  # type: ignore[union-attr]


@migrations()
def add_requests(db: Database) -> None:
    """Requests already acted on (Slack event ids, signatures of slash commands), so a
    retried or replayed request is done once, across restarts too."""
    db["requests"].create({"key": str, "at": str}, pk="key")  # type: ignore[union-attr]
    db["requests"].create_index(["at"])  # type: ignore[union-attr]


@migrations()
def add_processes(db: Database) -> None:
    """Every running Herald's heartbeat (``bot.storage.processes``): a message's ``owner`` is a
    process token from here, and an owner whose ``last_seen`` is stale is dead."""
    db["processes"].create(  # type: ignore[union-attr]
        {"token": str, "host": str, "pid": int, "started_at": float, "last_seen": float},
        pk="token",
    )
