"""Block Kit stays within Slack's limits, whatever a message's history holds."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.models import Message, MessageStatus, StatusEvent
from bot.slack.blocks import SECTION_LIMIT, receipt_blocks, status_blocks
from providers import Channel

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _message(**changes: object) -> Message:
    fields: dict[str, object] = {
        "id": "k3x9p2ab",
        "connection": "sms",
        "channel": Channel.SMS,
        "recipient": "+31612345678",
        "text": "Hello",
        "sender": "U1",
        "origin": "slack",
        "status": MessageStatus.FAILED,
        "created_at": NOW,
        "updated_at": NOW,
        **changes,
    }
    return Message(**fields)  # type: ignore[arg-type]


def test_long_history_keeps_the_newest_lines_within_the_section_limit() -> None:
    reason = "bird: " + "the provider explained at length " * 8
    history = [
        StatusEvent("k3x9p2ab", MessageStatus.QUEUED, NOW, "bird", f"{i} {reason}")
        for i in range(40)
    ]

    blocks = status_blocks(_message(), history, mask=True)

    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(len(t) <= SECTION_LIMIT for t in texts)
    assert "39 bird" in texts[-1] and "…" in texts[-1]


def test_receipt_text_and_error_are_clipped() -> None:
    blocks = receipt_blocks(_message(text="x" * 5000, error="e" * 5000), mask=True)

    assert all(len(b["text"]["text"]) <= SECTION_LIMIT for b in blocks if b["type"] == "section")


def test_user_text_cannot_inject_slack_markup() -> None:
    blocks = receipt_blocks(
        _message(text="<!channel> <@U999> & co", status=MessageStatus.SENT), mask=True
    )

    preview = blocks[1]["text"]["text"]
    assert "<!channel>" not in preview and "&lt;!channel&gt;" in preview
