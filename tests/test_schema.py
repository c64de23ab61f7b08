"""The tables match their records, and an old database upgrades without losing anything."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.models import Message, MessageStatus, Schedule, Send
from bot.slack.receipts import QUIET_STATUSES
from bot.storage import Store
from bot.storage.migrations import migrations
from bot.storage.posts import ReceiptPost
from bot.storage.rows import MESSAGES, POSTS, SCHEDULES, SENDS, Columns
from providers import Channel, ProviderTemplate

NOW = datetime(2026, 11, 23, 12, 0, 0, 123000, tzinfo=UTC)


def _columns(path: Path, table: str) -> set[str]:
    with closing(sqlite3.connect(path)) as db:
        return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def test_every_record_field_is_a_column_and_every_column_a_field(tmp_path: Path) -> None:
    Store(tmp_path / "herald.db").close()

    for columns, record, table in (
        (MESSAGES, Message, "messages"),
        (SENDS, Send, "sends"),
        (SCHEDULES, Schedule, "schedules"),
        (POSTS, ReceiptPost, "slack_receipts"),
    ):
        names = tuple(f.name for f in fields(record))  # type: ignore[arg-type]
        assert columns.names[: len(names)] == names
        assert set(columns.names) == _columns(tmp_path / "herald.db", table), table


def test_a_message_reads_back_as_it_was_stored_in_every_field(tmp_path: Path) -> None:
    message = Message(
        id="k3x9p2ab", connection="wa", channel=Channel.WHATSAPP, recipient="+31612345678",
        text="Hi", sender="U1", origin="slack", status=MessageStatus.SENT, created_at=NOW,
        updated_at=NOW, subject="S", media_urls=("https://example.com/a.png",),
        provider_message_id="p1", error="e", announce_to="C1", send_started_at=NOW,
        failover_from="sms", sender_email="a@example.com", template="t",
        variables={"k": "v"}, attempts=2,
        provider_template=ProviderTemplate(id="tpl", parameters={"name": "Jo"}),
        confidential=True, due_at=NOW, late_by=12.5,
    )  # fmt: skip
    # every field differs from its default, so a field the mapping dropped would show
    for item in fields(Message):
        if item.name != "send_id":
            assert getattr(message, item.name) != item.default, item.name

    async def scenario() -> Message | None:
        store = Store(tmp_path / "herald.db")
        try:
            await store.write(lambda tx: tx.add_messages([message], actor="U1", action="send"))
            return store.get(message.id)
        finally:
            store.close()

    assert asyncio.run(scenario()) == message


def test_a_field_of_a_type_no_column_has_is_refused_by_name() -> None:
    @dataclass(frozen=True)
    class Odd:
        id: str
        ratio: complex

    with pytest.raises(TypeError, match=r"Odd\.ratio"):
        Columns("odd", Odd)


def _old_database(path: Path) -> None:
    """A database as Herald left it before sends and the Slack layer's table."""
    with closing(sqlite3.connect(path)) as conn:
        migrations.apply(Database(conn), stop_before="add_sends")
        rows = [
            ("m1", "sms", "sms", "+31612345678", "Hi", "U1", "slack", "failed", "C1", None,
             None, "C1", "1.1", 1),
            ("m2", "sms", "sms", "+31612345679", "Dear Jo", "U1", "slack", "failed", "C1",
             "greeting", '{"name": "Jo"}', "C1", "1.2", 0),
            ("m3", "sms", "sms", "+31612345670", "Yo", "cli:ann", "cli", "sent", None, None,
             None, None, None, 0),
        ]  # fmt: skip
        for n, row in enumerate(rows):
            at = f"2026-11-0{n + 1}T12:00:00.000+00:00"
            conn.execute(
                "INSERT INTO messages (id, connection, channel, recipient, text, sender, "
                "origin, status, created_at, updated_at, announce_to, template, variables, "
                "receipt_channel, receipt_ts, failure_announced) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row[:8], at, at, *row[8:]),
            )
        conn.commit()


def test_an_old_database_gives_each_message_a_send_and_moves_receipt_places(
    tmp_path: Path,
) -> None:
    path = tmp_path / "herald.db"
    _old_database(path)

    store = Store(path)
    try:
        messages = {m: store.get(m) for m in ("m1", "m2", "m3")}
        sends = {m: store.send(message.send_id or "") for m, message in messages.items() if message}
        posts = {m: store.receipt_post(m) for m in messages}
        unposted = [m.id for m in store.unposted(QUIET_STATUSES)]
    finally:
        store.close()

    assert all(sends.values()) and len({s.id for s in sends.values() if s}) == 3
    assert not {s.id for s in sends.values() if s} & set(messages)
    m1, m2, m3 = sends["m1"], sends["m2"], sends["m3"]
    assert m1 and (m1.text, m1.template, m1.sender, m1.announce_to) == ("Hi", None, "U1", "C1")
    assert m2 and (m2.text, m2.template, dict(m2.variables)) == (None, "greeting", {"name": "Jo"})
    assert m3 and (m3.origin, m3.connection, m3.created_at.day) == ("cli", "sms", 3)
    assert posts["m1"] == ReceiptPost("m1", "C1", "1.1", failure_announced=True)
    assert posts["m2"] == ReceiptPost("m2", "C1", "1.2", failure_announced=False)
    assert posts["m3"] is None
    assert unposted == ["m2"]  # its failure reply never went out; m3 has no Slack receipt
    assert not {"receipt_channel", "receipt_ts", "failure_announced"} & _columns(path, "messages")
