"""Which statuses are final, terminal, settled or past the hand-over: said once, by
`MessageStatus`, and read from there by progress, delivery and the CLI's ``--wait``."""

from __future__ import annotations

import itertools

import pytest

from bot.cli import WAIT_FOR
from bot.delivery.progress import advances
from bot.models import MessageStatus

S = MessageStatus

# status: (past_handover, reached, is_terminal, settled, is_final)
TABLE = {
    S.QUEUED: (False, False, False, False, False),
    S.SCHEDULED: (False, False, False, False, False),
    S.SENDING: (False, False, False, False, False),
    S.ACCEPTED: (True, False, False, False, False),
    S.SENT: (True, False, False, False, False),
    S.DELIVERED: (True, True, False, True, False),  # read may still follow
    S.READ: (True, True, False, True, True),
    S.FAILED: (True, False, True, True, True),
    S.CANCELLED: (True, False, True, True, True),
}


def test_every_status_is_in_the_table() -> None:
    assert set(TABLE) == set(MessageStatus)


@pytest.mark.parametrize("status", list(MessageStatus))
def test_status_properties_match_the_table(status: MessageStatus) -> None:
    shown = (status.past_handover, status.reached, status.is_terminal, status.settled)
    assert (*shown, status.is_final) == TABLE[status]


def test_wait_stops_at_delivered_read_failed_and_cancelled() -> None:
    stops = {S.DELIVERED, S.READ, S.FAILED, S.CANCELLED}
    assert set(WAIT_FOR) == stops


def _advances_before_the_refit(current: MessageStatus, reported: MessageStatus) -> bool:
    # `advances` as it read with the sets spelled out, so the rewrite is checked pair by pair.
    if current in (S.FAILED, S.CANCELLED) or reported == current:
        return False
    if reported is S.FAILED:
        return current not in (S.DELIVERED, S.READ)
    return reported.rank > current.rank


@pytest.mark.parametrize(("current", "reported"), list(itertools.product(MessageStatus, repeat=2)))
def test_advances_is_unchanged_for_every_pair(
    current: MessageStatus, reported: MessageStatus
) -> None:
    assert advances(current, reported) is _advances_before_the_refit(current, reported)


@pytest.mark.parametrize("status", [s for s in MessageStatus if s.is_terminal])
def test_nothing_moves_a_terminal_status(status: MessageStatus) -> None:
    assert not any(advances(status, reported) for reported in MessageStatus)


@pytest.mark.parametrize("status", [s for s in MessageStatus if s.reached])
def test_a_failure_report_never_undoes_a_delivery(status: MessageStatus) -> None:
    assert not advances(status, S.FAILED)
