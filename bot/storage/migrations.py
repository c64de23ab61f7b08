"""The schema of Herald's SQLite tables, as sqlite-utils migrations.

Add a function at the end for every change; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from bot.models import new_message_id

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


@migrations()
def add_sends(db: Database) -> None:
    """Sends: one row per request (a slash command, a ``herald send``), owning its messages.

    A message stored before has no send: it gets one of its own, so every message has
    one. Send ids are drawn like message ids and never equal one of either table.
    """
    db["sends"].create(  # type: ignore[union-attr]
        {
            "id": str,
            "sender": str,
            "origin": str,
            "connection": str,
            "created_at": str,
            "text": str,
            "template": str,
            "variables": str,
            "subject": str,
            "media_urls": str,
            "announce_to": str,
            "due_at": str,
            "rule": str,
        },
        pk="id",
        not_null={"sender", "origin", "connection", "created_at"},
        defaults={"variables": "{}", "media_urls": "[]"},
    )
    db["sends"].create_index(["sender", "created_at"])  # type: ignore[union-attr]
    # plain SQL: sqlite-utils adds a foreign key by rebuilding the whole table
    db.execute("ALTER TABLE messages ADD COLUMN send_id TEXT REFERENCES sends(id)")
    db["messages"].create_index(["send_id"])  # type: ignore[union-attr]
    taken = {row[0] for row in db.execute("SELECT id FROM messages")}
    old = db.execute(
        "SELECT id, sender, origin, connection, created_at, text, template, variables, "
        "subject, media_urls, announce_to FROM messages ORDER BY created_at"
    ).fetchall()
    for message_id, *values in old:
        send_id = new_message_id()
        while send_id in taken:
            send_id = new_message_id()
        taken.add(send_id)
        template = values[5]
        if template is not None:
            values[4] = None  # the template wrote the text; the send keeps what was asked
        db.execute(
            "INSERT INTO sends (id, sender, origin, connection, created_at, text, template, "
            "variables, subject, media_urls, announce_to) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, COALESCE(?, '{}'), ?, COALESCE(?, '[]'), ?)",
            [send_id, *values],
        )
        db.execute("UPDATE messages SET send_id = ? WHERE id = ?", [send_id, message_id])


@migrations()
def move_slack_receipts(db: Database) -> None:
    """Where each receipt was posted in Slack moves out of ``messages`` into the Slack
    layer's own table, read and written only through the store's receipt-post methods."""
    db["slack_receipts"].create(  # type: ignore[union-attr]
        {
            "message_id": str,
            "channel": str,
            "ts": str,
            "failure_announced": int,
            "posted_at": str,
        },
        pk="message_id",
        not_null={"channel", "ts", "failure_announced"},
        defaults={"failure_announced": 0},
        foreign_keys=[("message_id", "messages", "id")],
    )
    # posted_at stays NULL for these: when they were posted was never recorded
    db.execute(
        "INSERT INTO slack_receipts (message_id, channel, ts, failure_announced) "
        "SELECT id, receipt_channel, receipt_ts, failure_announced FROM messages "
        "WHERE receipt_channel IS NOT NULL AND receipt_ts IS NOT NULL"
    )
    if sqlite3.sqlite_version_info >= (3, 35):  # older SQLite cannot drop a column
        for column in ("receipt_channel", "receipt_ts", "failure_announced"):
            db.execute(f"ALTER TABLE messages DROP COLUMN {column}")


@migrations()
def add_scheduling(db: Database) -> None:
    """Scheduled and recurring sends (``bot.scheduling``).

    A scheduled message waits in status ``scheduled`` with its ``due_at``; ``late_by`` says
    how late it went out. A recurring send is a ``schedules`` row; each occurrence is a
    send (``sends.schedule_id``). ``timer_changes`` lists the ids whose due time changed
    (scheduled, moved, cancelled) and which process changed it, until the server's timer
    has caught up.
    """
    db.execute("ALTER TABLE messages ADD COLUMN due_at TEXT")
    db.execute("ALTER TABLE messages ADD COLUMN late_by REAL")
    db["messages"].create_index(["status", "due_at"])  # type: ignore[union-attr]
    db.execute("ALTER TABLE sends ADD COLUMN schedule_id TEXT")
    db.execute("ALTER TABLE sends ADD COLUMN timezone TEXT")
    db["sends"].create_index(["schedule_id"])  # type: ignore[union-attr]
    db["schedules"].create(  # type: ignore[union-attr]
        {
            "id": str,
            "sender": str,
            "origin": str,
            "connection": str,
            "recipients": str,
            "rule": str,
            "timezone": str,
            "state": str,
            "created_at": str,
            "updated_at": str,
            "next_due": str,
            "until": str,
            "text": str,
            "template": str,
            "variables": str,
            "subject": str,
            "media_urls": str,
            "announce_to": str,
            "occurrences": int,
        },
        pk="id",
        not_null={"sender", "origin", "connection", "recipients", "rule", "timezone", "state"},
        defaults={"variables": "{}", "media_urls": "[]", "occurrences": 0},
    )
    db["schedules"].create_index(["state", "next_due"])  # type: ignore[union-attr]
    db["schedules"].create_index(["sender"])  # type: ignore[union-attr]
    db["timer_changes"].create(  # type: ignore[union-attr]
        {"id": str, "at": str, "by": str}, pk="id"
    )


@migrations()
def add_slack_send_receipts(db: Database) -> None:
    """Where each send's summary receipt was posted in Slack (a send to more recipients
    than ``[receipts] individual_up_to``), and whether its settled reply went out: the Slack
    layer's own table, read and written only through the store's receipt-post methods."""
    db["slack_send_receipts"].create(  # type: ignore[union-attr]
        {
            "send_id": str,
            "channel": str,
            "ts": str,
            "settled_announced": int,
            "posted_at": str,
        },
        pk="send_id",
        not_null={"channel", "ts", "settled_announced"},
        defaults={"settled_announced": 0},
        foreign_keys=[("send_id", "sends", "id")],
    )


@migrations()
def add_polls(db: Database) -> None:
    """Delivery-status polls (``bot.delivery.polling``): one row per message whose status
    Herald asks its provider for, open while ``next_at`` is set, so a restarted server
    goes on polling where the last one stopped."""
    db["polls"].create(  # type: ignore[union-attr]
        {
            "message_id": str,
            "connection": str,
            "provider_message_id": str,
            "started_at": str,
            "deadline": str,
            "next_at": str,
            "lookups": int,
            "failures": int,
            "last_status": str,
            "last_error": str,
            "closed_at": str,
            "closed_reason": str,
        },
        pk="message_id",
        not_null={"connection", "started_at", "deadline", "lookups", "failures"},
        defaults={"lookups": 0, "failures": 0},
        foreign_keys=[("message_id", "messages", "id")],
    )
    db["polls"].create_index(["next_at"])  # type: ignore[union-attr]
    db["polls"].create_index(["connection", "provider_message_id"])  # type: ignore[union-attr]


@migrations()
def add_send_recipients(db: Database) -> None:
    """Each send's recipients as the person gave them (``@NAME`` for a list), for an Edit
    form; older sends have none (NULL). An index on each send's messages by status, so
    counting a send's messages per status (App Home's recent sends) reads the index alone,
    however many messages the send has."""
    db.execute("ALTER TABLE sends ADD COLUMN recipients TEXT")
    db["messages"].create_index(["send_id", "status"])  # type: ignore[union-attr]
