"""Recipient lists: ``@NAME`` (``NAME.csv`` in ``[lists] dir``) and ``--to-file PATH.csv``,
each row a recipient with its own template variables — read with the standard library's
csv, every bad row named before anything is stored, end to end through signed slash
commands and the ``herald`` command."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import io
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from bot.cli import main
from bot.config.settings import Settings, load_settings
from bot.errors import ConfigError, InputError, RecipientListError
from bot.lookups import ScheduleReport
from bot.models import Message, MessageStatus
from bot.options import phrase
from bot.sending.lists import RecipientList, read_list
from bot.sending.requests import SendRequest, build_messages
from bot.services import Herald
from bot.slack import commands
from bot.templating.library import TemplateLibrary
from tests.conftest import FAST_SANDBOX, RunningHerald, run_herald, settings_for, write_config
from tests.fakes.slack_api import FakeSlack

T = TypeVar("T")
ALICE = "U2147483697"  # the sender of `RunningHerald.slash`
HEADER = "to,name,order,new_date"


def _number(index: int) -> str:
    # ending in 1: never one of the sandbox's scripted failures
    return f"+31612{index:05d}1"


def _rows(count: int, start: int = 1) -> list[str]:
    return [
        f"{_number(i)},Customer {i},A-{1000 + i},2026-12-{1 + i % 28:02d}"
        for i in range(start, start + count)
    ]


def write_list(directory: Path, name: str, lines: list[str], header: str = HEADER) -> Path:
    path = directory / "lists" / f"{name}.csv"
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def _texts(messages: list[Message]) -> dict[str, str]:
    return {m.recipient: m.text for m in messages}


def _count(running: RunningHerald, sql: str) -> int:
    with sqlite3.connect(running.settings.db_path) as db:
        return int(db.execute(sql).fetchone()[0])


def _answer(running: RunningHerald, text: str) -> str:
    response = running.slash(text)
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    return str(body["text"])


def _build(settings: Settings, **request: Any) -> list[Message]:
    fields: dict[str, Any] = {"text": "", "sender": "U1", "origin": "slack", **request}
    return build_messages(
        SendRequest(fields.pop("connection", "sandbox"), **fields),
        settings,
        TemplateLibrary(settings.templates_dir),
    )


def _refused(settings: Settings, **request: Any) -> InputError:
    with pytest.raises(InputError) as caught:
        _build(settings, **request)
    return caught.value


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path)


# -- through Slack ----------------------------------------------------------------


def test_a_list_send_writes_each_message_from_its_own_row(running: RunningHerald) -> None:
    directory = running.settings.lists_dir.parent
    write_list(directory, "customers", _rows(12))

    answer = _answer(running, "sandbox @customers --template order_delayed")

    send_id = re.search(r"#([a-z0-9]{8})", answer)
    assert send_id, answer
    messages = running.herald.send_report(send_id.group(1)).messages
    assert len(messages) == 12
    for i in range(1, 13):
        text = _texts(messages)[_number(i)]
        assert f"Hi Customer {i}, your order A-{1000 + i} is delayed" in text
        assert f"{1 + i % 28:02d} Dec" in text
    assert messages[0].variables == {
        "name": "Customer 1",
        "order": "A-1001",
        "new_date": "2026-12-02",
    }
    send = running.herald.send_report(send_id.group(1)).send
    assert send.variables == {}  # what the rows share: no --var here
    deadline = time.monotonic() + 15
    while _count(running, "SELECT COUNT(*) FROM messages WHERE status = 'delivered'") < 12:
        assert time.monotonic() < deadline, "the list's messages were not all delivered"
        time.sleep(0.05)
    assert _count(running, "SELECT COUNT(*) FROM status_events WHERE status = 'sending'") == 12


def test_a_bad_row_stops_the_send_and_is_named_by_its_row_number(
    running: RunningHerald,
) -> None:
    lines = _rows(10)
    lines[3] = "+3161234,Bad,A-4,2026-12-01"  # row 4
    lines[8] = f"{_number(9)},Nine,,2026-12-01"  # row 9: no order
    write_list(running.settings.lists_dir.parent, "customers", lines)

    answer = _answer(running, "sandbox @customers --template order_delayed")

    assert ":warning:" in answer and "Nothing was sent" in answer
    assert "@customers: 2 rows cannot be sent to." in answer
    assert "row 4: '+3161234' is not a phone number\nrow 9: missing 'order'" in answer
    assert _count(running, "SELECT COUNT(*) FROM messages") == 0
    assert _count(running, "SELECT COUNT(*) FROM sends") == 0


def test_an_unknown_list_suggests_the_closest(running: RunningHerald) -> None:
    write_list(running.settings.lists_dir.parent, "customers", _rows(2))

    answer = _answer(running, "sandbox @custmers Hi")

    assert "There is no list @custmers. Did you mean @customers?" in answer


@pytest.mark.parametrize("name", ["../../etc/passwd", "..", "a/b", "x.csv", "~root"])
def test_a_list_name_is_never_a_path(running: RunningHerald, name: str) -> None:
    (running.settings.lists_dir.parent / "secret.csv").write_text("to\n+31612345671\n")

    answer = _answer(running, f"sandbox @{name} Hi")

    assert f"'@{name}' is not a list" in answer
    assert _count(running, "SELECT COUNT(*) FROM messages") == 0


def test_a_list_mixes_with_typed_recipients_each_with_its_variables(
    running: RunningHerald,
) -> None:
    write_list(running.settings.lists_dir.parent, "vip", _rows(2))

    answer = _answer(
        running,
        f"sandbox @vip, {_number(50)} --template order_delayed --var name=Friend "
        "--var order=A-0 --var new_date=2026-12-24",
    )

    send_id = re.search(r"#([a-z0-9]{8})", answer)
    assert send_id, answer
    texts = _texts(running.herald.send_report(send_id.group(1)).messages)
    assert texts[_number(50)].startswith("Hi Friend, your order A-0 is delayed")
    assert texts[_number(1)].startswith("Hi Customer 1, your order A-1001 is delayed")
    assert texts[_number(2)].startswith("Hi Customer 2, your order A-1002 is delayed")


def test_a_big_list_is_answered_at_once_and_its_bad_rows_follow(
    running: RunningHerald,
) -> None:
    lines = _rows(2000)
    lines[1999] = f"{_number(2000)},Last,A-2000,not a date"
    write_list(running.settings.lists_dir.parent, "everyone", lines)

    answer = _answer(running, "sandbox @everyone --template order_delayed")

    # answered before the rows were checked: the bad row comes after, not in the answer
    assert "Preparing the send to @everyone: 2,000 rows" in answer
    response = running.slack.wait_for(lambda s: s.responses[-1] if s.responses else None, 20)
    assert "row 2000: " in response["text"] and "not a date" in response["text"]
    assert response["response_type"] == "ephemeral"
    assert _count(running, "SELECT COUNT(*) FROM messages") == 0


def test_a_big_list_is_stored_after_the_answer_and_its_id_follows(
    running: RunningHerald, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(commands, "INLINE_ROWS", 5)  # 12 rows take the big lists' way
    write_list(running.settings.lists_dir.parent, "customers", _rows(12))

    answer = _answer(running, "sandbox @customers --template order_delayed")

    assert "Preparing the send to @customers: 12 rows" in answer
    response = running.slack.wait_for(lambda s: s.responses[-1] if s.responses else None, 20)
    send_id = re.search(r"#([a-z0-9]{8})", response["text"])
    assert send_id, response
    messages = running.herald.send_report(send_id.group(1)).messages
    assert len(messages) == 12
    assert _texts(messages)[_number(7)].startswith("Hi Customer 7, your order A-1007")


def test_max_recipients_caps_lists_and_typed_recipients_alike(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    limits = FAST_SANDBOX + "[limits]\nmax_recipients = 3\n"
    settings = settings_for(tmp_path, fake_slack, body=limits)
    write_list(tmp_path, "four", _rows(4))
    typed = ",".join(_number(i) for i in range(4))
    with contextlib.contextmanager(run_herald)(settings, fake_slack) as running:
        from_list = _answer(running, "sandbox @four --template order_delayed")
        from_typed = _answer(running, f"sandbox {typed} Hi")

    assert "@four has more than 3 rows, the most one send may have" in from_list
    assert "4 recipients is more than the 3 one send may have" in from_typed
    assert "raise [limits] max_recipients" in from_typed


# -- in the core -------------------------------------------------------------------


def test_the_row_wins_over_a_shared_variable_and_an_empty_cell_takes_it(
    settings: Settings, tmp_path: Path
) -> None:
    write_list(tmp_path, "two", [f"{_number(1)},Jane,A-1,", f"{_number(2)},Joe,A-2,2026-12-09"])

    messages = _build(
        settings,
        recipients=["@two"],
        template="order_delayed",
        variables={"name": "Customer", "new_date": "2026-12-01"},
    )

    texts = _texts(messages)
    assert texts[_number(1)].startswith("Hi Jane, your order A-1 is delayed")
    assert "01 Dec" in texts[_number(1)]  # the empty cell: the shared value
    assert "09 Dec" in texts[_number(2)]  # the row's own value wins
    assert messages[1].variables == {"name": "Joe", "order": "A-2", "new_date": "2026-12-09"}


def test_a_recipient_twice_is_refused_naming_both_rows(settings: Settings, tmp_path: Path) -> None:
    write_list(tmp_path, "dups", [*_rows(3), f"{_number(2)},Again,A-9,2026-12-01"])

    error = _refused(settings, recipients=["@dups"], template="order_delayed")

    assert error.code == "list_rows_invalid" and error.fields == ("recipients",)
    assert "row 4: repeats +316•••••021 of row 2" in str(error)


def test_only_the_first_ten_bad_rows_are_named_and_the_rest_counted(
    settings: Settings, tmp_path: Path
) -> None:
    write_list(tmp_path, "bad", [f"0612345{i:03d},N,A,2026-12-01" for i in range(15)])

    error = _refused(settings, recipients=["@bad"], template="order_delayed")

    assert isinstance(error, RecipientListError)
    assert error.details["count"] == 15 and len(error.names("rows")) == 10
    assert (
        error.names("rows")[0]
        == "row 1: '0612345000' has no country code (write it as +<country><number>)"
    )
    assert str(error).startswith("@bad: 15 rows cannot be sent to.")
    assert str(error).endswith("… and 5 more")


def test_a_column_the_template_needs_and_nobody_gives_is_one_error(
    settings: Settings, tmp_path: Path
) -> None:
    write_list(tmp_path, "short", [f"{_number(1)},Jane"], header="to,name")

    error = _refused(settings, recipients=["@short"], template="order_delayed")

    assert error.code == "list_columns_missing"
    assert phrase(error) == (
        "Template 'order_delayed' needs 'order' and 'new_date', and @short has no column for "
        "them: add the columns to the list, or give one value for every row with "
        "--var order=A-1042 --var new_date=2026-12-01."
    )


def test_header_names_are_read_in_any_case(settings: Settings, tmp_path: Path) -> None:
    write_list(
        tmp_path, "caps", [f"{_number(1)},Jane,A-1,2026-12-01"], header=" To ,Name,ORDER,new_date"
    )

    (message,) = _build(settings, recipients=["@caps"], template="order_delayed")

    assert message.text.startswith("Hi Jane, your order A-1 is delayed")


def test_a_plain_text_goes_to_every_row_and_the_columns_rest(
    settings: Settings, tmp_path: Path
) -> None:
    write_list(tmp_path, "people", _rows(3))

    messages = _build(settings, recipients=["@people"], text="Doors open at nine")

    assert [m.text for m in messages] == ["Doors open at nine"] * 3
    assert all(m.variables == {} for m in messages)


def test_a_file_that_is_not_utf8_names_its_line(settings: Settings, tmp_path: Path) -> None:
    path = write_list(tmp_path, "latin", _rows(2))
    path.write_bytes(path.read_bytes() + "+31612345671,Jos\xe9,A,2026-12-01\n".encode("latin-1"))

    error = _refused(settings, recipients=["@latin"], text="Hi")

    assert error.code == "list_invalid"
    assert "@latin is not UTF-8 text: line 4 holds the byte 0xe9" in str(error)


def test_a_file_too_big_is_refused_before_it_is_read(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, body=FAST_SANDBOX + "[limits]\nmax_recipients = 10\n")
    path = write_list(tmp_path, "huge", _rows(2))
    path.write_bytes(path.read_bytes() + b"#" * (1 << 20))

    error = _refused(settings, recipients=["@huge"], text="Hi")

    assert error.code == "list_too_large" and "bigger than 1.0 MB" in str(error)


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("phone,name", "has no 'to' column"),
        ("to,name,Name", "names the column 'name' twice"),
        ("", "is empty"),
    ],
)
def test_a_list_that_cannot_be_read_says_why(
    settings: Settings, tmp_path: Path, header: str, problem: str
) -> None:
    write_list(tmp_path, "broken", [] if not header else [f"{_number(1)},Jane"], header=header)

    error = _refused(settings, recipients=["@broken"], text="Hi")

    assert error.code == "list_invalid" and problem in str(error)


def test_a_list_without_rows_is_refused(settings: Settings, tmp_path: Path) -> None:
    write_list(tmp_path, "empty", [])

    error = _refused(settings, recipients=["@empty"], text="Hi")

    assert error.code == "list_invalid" and "@empty has no rows" in str(error)


def _read(data: bytes, max_rows: int = 100) -> tuple[tuple[str, ...], list[Any]]:
    return read_list(io.BytesIO(data), "test.csv", max_rows=max_rows, max_bytes=1 << 20)


def test_bom_quotes_blank_lines_and_spaces_are_read_as_a_spreadsheet_writes_them() -> None:
    data = codecs.BOM_UTF8 + (
        b"To , name ,order\r\n"
        b"\r\n"
        b'"+31 6 1234 5678"," Doe, Jane ","A ""1"""\r\n'
        b"   \r\n"
        b",,\r\n"
        b'+4915112345678,"two\nlines",\r\n'
    )

    columns, rows = _read(data)

    assert columns == ("name", "order")
    assert [(r.number, r.to, dict(r.variables)) for r in rows] == [
        (1, "+31 6 1234 5678", {"name": "Doe, Jane", "order": 'A "1"'}),
        (2, "+4915112345678", {"name": "two\nlines"}),
    ]


def test_a_semicolon_header_sets_the_separator_and_old_mac_lines_are_lines() -> None:
    columns, rows = _read(b"to;name\r+31612345678;Jane\r+4915112345678;Joe\r")

    assert columns == ("name",)
    assert [(r.to, r.variables["name"]) for r in rows] == [
        ("+31612345678", "Jane"),
        ("+4915112345678", "Joe"),
    ]


def test_a_value_without_a_column_is_a_row_problem() -> None:
    _columns, rows = _read(b"to,name\n+31612345678,Jane,extra\n+31612345679,Joe,\n")

    assert rows[0].problem == "has 3 values, but the first line names 2 columns"
    assert rows[1].problem is None


@examples(database=None, max_examples=200)
@given(
    st.lists(st.lists(st.text(max_size=12), min_size=0, max_size=5), max_size=6),
    st.sampled_from([",", ";", "\t"]),
)
def test_any_cells_are_read_or_refused_with_an_input_error(
    cells: list[list[str]], separator: str
) -> None:
    out = io.StringIO()
    csv.writer(out, delimiter=separator).writerows(cells)
    try:
        _columns, rows = _read(out.getvalue().encode("utf-8", "surrogatepass"), max_rows=3)
    except InputError:
        return
    assert all(row.number == index for index, row in enumerate(rows, 1))


@examples(database=None, max_examples=200)
@given(st.binary(max_size=300))
def test_any_bytes_are_read_or_refused_with_an_input_error(data: bytes) -> None:
    with contextlib.suppress(InputError):
        _read(data, max_rows=5)


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return settings_for(tmp_path_factory.mktemp("lists"))


CELL = st.text(max_size=12) | st.sampled_from(["", " ", "+31612345671", "2026-12-01", "a@b.c"])


@examples(database=None, max_examples=100, deadline=None)
@given(st.lists(st.lists(CELL, min_size=1, max_size=5), min_size=1, max_size=5))
def test_any_rows_are_sent_or_refused_with_an_input_error(
    module_settings: Settings, rows: list[list[str]]
) -> None:
    out = io.StringIO()
    csv.writer(out).writerows([["to", "name", "order", "new_date"], *rows])
    columns, read = _read(out.getvalue().encode("utf-8", "surrogatepass"))
    listed = RecipientList("@any", Path("any.csv"), columns, tuple(read), "any")
    try:
        messages = _build(module_settings, recipients=[listed], template="order_delayed")
    except InputError:
        return
    assert len(messages) == len(read)


# -- scheduled ---------------------------------------------------------------------


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _scheduling(
    tmp_path: Path, scenario: Callable[[Herald, Clock], Awaitable[T]], now: datetime
) -> T:
    async def run() -> T:
        clock = Clock(now)
        herald = Herald(settings_for(tmp_path))
        herald.planner.clock = clock
        herald.planner.started_at = clock.now
        await herald.start()
        try:
            return await scenario(herald, clock)
        finally:
            await herald.stop()

    return asyncio.run(run())


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_scheduled_send_to_a_list_is_checked_and_written_when_scheduled(
    tmp_path: Path,
) -> None:
    write_list(tmp_path, "team", _rows(3))

    async def scenario(herald: Herald, clock: Clock) -> list[Message]:
        request = SendRequest(
            "sandbox", ["@team"], "", "U1", "slack", template="order_delayed", at="in 2h"
        )
        scheduled = await herald.schedule(request)
        write_list(tmp_path, "team", _rows(3, start=10))  # edited after: not this send's
        return scheduled.messages

    messages = _scheduling(tmp_path, scenario, NOW)

    assert [m.status for m in messages] == [MessageStatus.SCHEDULED] * 3
    assert _texts(messages)[_number(2)].startswith("Hi Customer 2, your order A-1002")
    assert {m.due_at for m in messages} == {NOW + timedelta(hours=2)}


def test_a_scheduled_send_to_a_bad_list_stores_nothing(tmp_path: Path) -> None:
    write_list(tmp_path, "team", ["+31,Jane,A-1,2026-12-01"])

    async def scenario(herald: Herald, clock: Clock) -> InputError:
        request = SendRequest(
            "sandbox", ["@team"], "", "U1", "slack", template="order_delayed", at="in 2h"
        )
        with pytest.raises(InputError) as caught:
            await herald.schedule(request)
        assert herald.agenda().sends == []
        return caught.value

    assert "row 1: '+31' is not a phone number" in str(_scheduling(tmp_path, scenario, NOW))


def test_a_recurring_schedule_reads_its_list_again_at_each_time(tmp_path: Path) -> None:
    write_list(tmp_path, "team", _rows(2))

    async def scenario(herald: Herald, clock: Clock) -> list[list[Message]]:
        request = SendRequest(
            "sandbox",
            ["@team"],
            "",
            "U1",
            "slack",
            template="order_delayed",
            every="daily 13:00",
            timezone="UTC",
        )
        scheduled = await herald.schedule(request)
        schedule = scheduled.schedule
        assert schedule is not None and schedule.recipients == ("@team",)
        occurrences = []
        for day, rows in enumerate([_rows(2), _rows(3, start=5)]):
            write_list(tmp_path, "team", rows)
            clock.now = NOW + timedelta(days=day, hours=1)
            assert await herald.release_due() == len(rows)
            report = herald.report(schedule.id)
            assert isinstance(report, ScheduleReport)
            occurrences.append(herald.send_report(report.occurrences[0].id).messages)
        await herald.background.drain(10)
        return occurrences

    first, second = _scheduling(tmp_path, scenario, NOW)

    assert sorted(_texts(first)) == [_number(1), _number(2)]
    assert sorted(_texts(second)) == [_number(5), _number(6), _number(7)]
    assert _texts(second)[_number(6)].startswith("Hi Customer 6, your order A-1006")


def test_an_occurrence_whose_list_went_bad_fails_saying_why(tmp_path: Path) -> None:
    write_list(tmp_path, "team", _rows(2))

    async def scenario(herald: Herald, clock: Clock) -> list[Message]:
        request = SendRequest(
            "sandbox", ["@team"], "Stand-up", "U1", "slack", every="daily 13:00", timezone="UTC"
        )
        scheduled = await herald.schedule(request)
        assert scheduled.schedule is not None
        write_list(tmp_path, "team", ["+31,Broken,A,2026-12-01"])
        clock.now = NOW + timedelta(hours=1)
        await herald.release_due()
        report = herald.report(scheduled.schedule.id)
        assert isinstance(report, ScheduleReport)
        messages = herald.send_report(report.occurrences[0].id).messages
        await herald.background.drain(10)
        return messages

    (failed,) = _scheduling(tmp_path, scenario, NOW)

    assert failed.status is MessageStatus.FAILED and failed.recipient == "@team"
    assert failed.error is not None and "row 1: '+31' is not a phone number" in failed.error


# -- the command line --------------------------------------------------------------


def test_herald_lists_show_prints_the_count_columns_first_rows_and_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    write_list(tmp_path, "customers", [*_rows(7), "+3161234,Bad,A,2026-12-01"])

    assert main(["--config", str(config), "lists", "show", "customers"]) == 1

    out = capsys.readouterr().out
    assert "@customers" in out and "8 rows · columns: to, name, order, new_date" in out
    assert "row 1      +316•••••011" in out and "name=Customer 1, order=A-1001" in out
    assert "+31612000011" not in out  # masked, as Slack shows recipients
    assert "… and 3 more" in out
    assert "row 8: '+3161234' is not a phone number" in out


def test_herald_lists_list_names_each_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    write_list(tmp_path, "customers", _rows(3))
    write_list(tmp_path, "vip", _rows(1))

    assert main(["--config", str(config), "lists", "list"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["@customers", "3"], ["@vip", "1"]]


def test_herald_send_to_file_sends_to_each_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    path = tmp_path / "today.csv"
    path.write_text("\n".join([HEADER, *_rows(3)]) + "\n", encoding="utf-8")

    argv = ["--config", str(config), "send", "sandbox", "--to-file", str(path)]
    assert main([*argv, "--template", "order_delayed"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert sorted(line.split()[2] for line in lines) == [_number(i) for i in (1, 2, 3)]


def test_herald_send_to_file_takes_the_words_after_the_connection_as_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    path = tmp_path / "today.csv"
    path.write_text(f"to\n{_number(1)}\n", encoding="utf-8")

    argv = ["--config", str(config), "send", "sandbox", "Doors", "open", "--to-file", str(path)]
    assert main(argv) == 0

    (line,) = capsys.readouterr().out.splitlines()
    with sqlite3.connect(tmp_path / "herald.db") as db:
        assert db.execute("SELECT text FROM messages").fetchall() == [("Doors open",)]
    assert _number(1) in line


def test_herald_send_to_file_cannot_repeat(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    path = tmp_path / "today.csv"
    path.write_text(f"to\n{_number(1)}\n", encoding="utf-8")

    argv = ["--config", str(config), "send", "sandbox", "Hi", "--to-file", str(path)]
    assert main([*argv, "--every", "daily", "09:00"]) == 2

    err = capsys.readouterr().err
    assert "--every reads its list again each time" in err and "send to @NAME" in err


# -- configuration -----------------------------------------------------------------


def test_the_lists_directory_is_beside_the_config_file_unless_set(tmp_path: Path) -> None:
    assert settings_for(tmp_path).lists_dir == tmp_path / "lists"
    custom = settings_for(tmp_path, body=FAST_SANDBOX + '[lists]\ndir = "/srv/lists"\n')
    assert custom.lists_dir == Path("/srv/lists")
    assert load_settings({}).lists_dir == Path.cwd() / "lists"  # the embedded default
    assert load_settings({}).limits.max_recipients == 10_000


@pytest.mark.parametrize("value", ["0", "2.5", '"many"', "1000001"])
def test_max_recipients_must_be_a_sensible_whole_number(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=r"limits\.max_recipients"):
        settings_for(tmp_path, body=FAST_SANDBOX + f"[limits]\nmax_recipients = {value}\n")


def test_a_header_of_a_hundred_thousand_columns_is_refused_in_one_line() -> None:
    header = "to," + ",".join(f"c{index}" for index in range(100_000))
    with pytest.raises(InputError) as caught:
        _read(f"{header}\n+31612345678\n".encode(), max_rows=10)
    assert "100,001 columns" in str(caught.value) and "at most 1,000" in str(caught.value)


def test_a_column_named_twice_is_refused_however_wide_the_header() -> None:
    header = ",".join(["to", *(f"c{index}" for index in range(998)), "c5"])
    with pytest.raises(InputError) as caught:
        _read(f"{header}\n+31612345678\n".encode(), max_rows=10)
    assert "names the column 'c5' twice" in str(caught.value)
