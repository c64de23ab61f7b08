"""Sends as records: one per request, owning its messages, stored with them at once, and
looked up by ``status ID`` in Slack and the CLI like a message."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

import bot.sending.requests
import bot.storage.tables
from bot.cli import main
from bot.errors import RepeatedRequestError
from bot.lookups import MessageReport, SendReport
from bot.models import Message, MessageStatus, Send
from bot.sending.requests import SendRequest
from bot.services import Herald
from bot.slack.blocks import SECTION_LIMIT, send_status_blocks
from providers import Channel
from tests.conftest import RunningHerald, settings_for, write_config

SENDER = "U024BE7LH"  # what tests.slack_signing.slash_body sends as user_id
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
OK, REFUSED = "+31612345678", "+31612340000"  # the sandbox refuses numbers ending 0000


def _rows(path: Path, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(sql, args).fetchall()


def _submit(tmp_path: Path, *requests: SendRequest) -> list[list[Message]]:
    async def scenario() -> list[list[Message]]:
        herald = Herald(settings_for(tmp_path))
        await herald.start()
        try:
            return [await herald.submit(request) for request in requests]
        finally:
            await herald.stop()

    return asyncio.run(scenario())


def test_a_send_is_stored_with_what_was_asked_and_owns_its_messages(tmp_path: Path) -> None:
    request = SendRequest(
        "sandbox", [OK, "+31612345679"], " Running late ", sender="U1", origin="slack",
        announce_to="C2147483705",
    )  # fmt: skip
    (messages,) = _submit(tmp_path, request)

    async def read() -> tuple[Send | None, list[Message]]:
        herald = Herald(settings_for(tmp_path))
        await herald.start()
        try:
            send_id = messages[0].send_id or ""
            return herald.db.send(send_id), herald.db.messages_of(send_id)
        finally:
            await herald.stop()

    send, owned = asyncio.run(read())
    assert send is not None and send.id not in {m.id for m in messages}
    assert {m.send_id for m in messages} == {send.id}
    assert [m.recipient for m in owned] == [OK, "+31612345679"]  # in the order given
    assert (send.sender, send.origin, send.connection, send.announce_to) == (
        "U1", "slack", "sandbox", "C2147483705",
    )  # fmt: skip
    assert (send.text, send.template, send.subject, send.media_urls) == (
        "Running late", None, None, (),
    )  # fmt: skip
    assert send.created_at == owned[0].created_at  # as stored (to the millisecond)
    assert (send.due_at, send.rule) == (None, None)  # scheduling comes next


def test_a_template_send_keeps_the_template_and_shared_variables_not_the_text(
    tmp_path: Path,
) -> None:
    request = SendRequest(
        "sandbox", [OK], "", sender="cli:ann", origin="cli", template="order_delayed",
        variables={"name": "Jo", "order": "A-1042", "new_date": "2026-12-01"},
    )  # fmt: skip
    (messages,) = _submit(tmp_path, request)

    row = _rows(
        tmp_path / "herald.db",
        "SELECT text, template, variables, origin FROM sends WHERE id = ?",
        (messages[0].send_id,),
    )
    variables = '{"name": "Jo", "order": "A-1042", "new_date": "2026-12-01"}'
    assert row == [(None, "order_delayed", variables, "cli")]
    assert messages[0].text  # each message keeps the text the template wrote for it


def test_a_repeated_request_stores_neither_a_send_nor_messages(tmp_path: Path) -> None:
    request = SendRequest("sandbox", [OK], "Hi", sender="U1", origin="slack", request_key="k1")

    async def scenario() -> type[Exception] | None:
        herald = Herald(settings_for(tmp_path))
        await herald.start()
        try:
            await herald.submit(request)
            try:
                await herald.submit(request)
            except RepeatedRequestError as exc:
                return type(exc)
            return None
        finally:
            await herald.stop()

    assert asyncio.run(scenario()) is RepeatedRequestError
    db = tmp_path / "herald.db"
    assert _rows(db, "SELECT count(*) FROM sends") == [(1,)]
    assert _rows(db, "SELECT count(*) FROM messages") == [(1,)]


def test_a_send_whose_messages_cannot_be_stored_is_not_stored_either(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object, **kwargs: object) -> list[Message]:
        raise sqlite3.OperationalError("disk I/O error")  # after the send's row went in

    monkeypatch.setattr(bot.storage.tables.Transaction, "add_messages", fail)
    request = SendRequest("sandbox", [OK], "Hi", sender="U1", origin="slack", request_key="k2")

    with pytest.raises(sqlite3.OperationalError):
        _submit(tmp_path, request)

    db = tmp_path / "herald.db"
    assert _rows(db, "SELECT count(*) FROM sends") == [(0,)]
    assert _rows(db, "SELECT count(*) FROM requests") == [(0,)]  # it can be tried again


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Ids handed out in this order to whoever draws one (messages, sends, redraws)."""
    ids: list[str] = []

    def draw() -> str:
        return ids.pop(0)

    for module in (bot.sending.requests, bot.storage.tables):
        monkeypatch.setattr(module, "new_message_id", draw)
    yield ids


def test_a_send_id_never_equals_a_message_id(tmp_path: Path, drawn: list[str]) -> None:
    # Each send draws its message's id, then its own; the send is stored first.
    drawn += ["a2222222", "a2222222", "b3333333"]  # the message's id is the send's: redrawn
    drawn += ["a2222222", "c4444444", "d5555555"]  # a message draws the first send's id
    drawn += ["e6666666", "b3333333", "f7777777"]  # a send draws the first message's id
    request = SendRequest("sandbox", [OK], "Hi", sender="U1", origin="slack")

    (first,), (second,), (third,) = _submit(tmp_path, request, request, request)

    assert (first.send_id, first.id) == ("a2222222", "b3333333")
    assert (second.send_id, second.id) == ("c4444444", "d5555555")
    assert (third.send_id, third.id) == ("f7777777", "e6666666")
    assert not drawn


def _report(tmp_path: Path, some_id: str) -> MessageReport | SendReport:
    async def scenario() -> MessageReport | SendReport:
        herald = Herald(settings_for(tmp_path))
        await herald.start()
        try:
            return herald.report(some_id)
        finally:
            await herald.stop()

    return asyncio.run(scenario())


def test_a_sends_status_is_the_counts_of_its_messages(tmp_path: Path) -> None:
    request = SendRequest("sandbox", [OK, REFUSED, "+31612345679"], "Hi", "U1", "slack")

    async def scenario() -> str:
        herald = Herald(settings_for(tmp_path))
        await herald.start()
        try:
            messages = await herald.send_now(request)
            return messages[0].send_id or ""
        finally:
            await herald.stop()

    report = _report(tmp_path, f"#{asyncio.run(scenario()).upper()}")

    assert isinstance(report, SendReport)
    assert report.counts == {MessageStatus.ACCEPTED: 2, MessageStatus.FAILED: 1}
    assert [m.recipient for m in report.messages] == [OK, REFUSED, "+31612345679"]


def test_the_status_of_a_send_of_one_message_is_that_messages_history(tmp_path: Path) -> None:
    ((message,),) = _submit(tmp_path, SendRequest("sandbox", [OK], "Hi", "U1", "slack"))

    by_send, by_message = _report(tmp_path, message.send_id or ""), _report(tmp_path, message.id)

    assert isinstance(by_send, MessageReport)
    assert by_send == by_message
    assert [e.status for e in by_send.history] == [MessageStatus.QUEUED]


# -- the front ends -------------------------------------------------------------------


def test_slash_status_of_a_send_shows_counts_and_each_message_masked(
    running: RunningHerald,
) -> None:
    running.slash(f"sandbox {OK},{REFUSED} Hello")
    running.slack.wait_for(lambda s: len(s.receipts()) == 2)
    ((send_id,),) = _rows(running.settings.db_path, "SELECT id FROM sends")
    ids = dict(_rows(running.settings.db_path, "SELECT recipient, id FROM messages"))

    body = running.slash(f"status #{send_id}").json()

    assert body["response_type"] == "ephemeral"
    assert body["text"].startswith(f"#{send_id} · 2 messages via sandbox")
    assert "1 failed" in body["text"]
    shown = "\n".join(b["text"]["text"] for b in body["blocks"] if "text" in b)
    failed_line = next(line for line in shown.splitlines() if f"#{ids[REFUSED]}" in line)
    assert "failed" in failed_line and "scripted to be refused" in failed_line
    assert "`+316•••••000`" in failed_line  # masked, as in receipts
    assert f"#{ids[OK]}" in shown
    assert OK not in shown and REFUSED not in shown


def test_cli_status_of_a_send_lists_counts_and_each_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a sandbox that reports 'sent' only after the test: the counts are known
    slow = '[connections.sandbox]\nprovider = "sandbox"\nchannel = "sms"\nsent_after = 600\n'
    config = str(write_config(tmp_path, slow))
    assert main(["--config", config, "send", "sandbox", f"{OK},{REFUSED}", "Hi"]) == 1
    capsys.readouterr()
    ((send_id,),) = _rows(tmp_path / "herald.db", "SELECT id FROM sends")

    code = main(["--config", config, "status", send_id])

    lines = capsys.readouterr().out.splitlines()
    assert code == 1  # one of its messages failed
    assert lines[0] == f"send {send_id}  2 messages via sandbox  1 accepted, 1 failed"
    assert [line.split()[1:3] for line in lines[1:]] == [["accepted", OK], ["failed", REFUSED]]
    assert "scripted to be refused" in lines[2]


def _message(number: int, status: MessageStatus, error: str | None = None) -> Message:
    return Message(
        id=f"m{number:07d}", connection="sms", channel=Channel.SMS,
        recipient=f"+3161{number:07d}", text="Hi", sender="U1", origin="slack",
        status=status, created_at=NOW, updated_at=NOW, error=error, send_id="s2345678",
    )  # fmt: skip


def test_a_large_sends_status_stays_within_slacks_limits_failures_first() -> None:
    # Block Kit: at most 50 blocks in a message, 3,000 characters in a section's text;
    # Slack refuses a message whose blocks are too long as a whole (about 13,000).
    reason = "the provider said no & <that> " * 30
    messages = [
        _message(n, MessageStatus.DELIVERED if n % 3 else MessageStatus.FAILED, reason)
        for n in range(1, 1001)
    ]
    send = Send("s2345678", "U1", "slack", "sms", NOW)
    counts = SendReport(send, messages).counts

    blocks = send_status_blocks(send, messages, counts, mask=True)

    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert len(blocks) <= 50
    assert all(len(text) <= SECTION_LIMIT for text in texts)
    assert sum(len(text) for text in texts) <= 12_000
    assert ":white_check_mark: 667 delivered, :x: 333 failed" in texts[0]
    lines = "\n".join(texts[1:]).splitlines()
    assert lines[0].startswith(":x: *#m0000003* failed") and "&amp; &lt;that&gt;" in lines[0]
    shown = len(lines) - 1
    assert lines[-1] == f"… and {1000 - shown} more messages."
    assert "`+316•••••003`" in lines[0] and "+31610000003" not in "\n".join(lines)


def test_front_ends_ask_herald_never_its_store() -> None:
    root = Path(__file__).resolve().parent.parent / "bot"
    front_ends = [*(root / "slack").rglob("*.py"), *(root / "web").glob("*.py")]
    front_ends += (root / "cli").glob("*.py")
    for path in front_ends:
        source = path.read_text()
        assert "herald.db" not in source and "herald.store" not in source, path.name
