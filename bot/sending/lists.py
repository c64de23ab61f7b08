"""Recipient lists: a CSV file whose rows are the recipients of one send, each row with
template variables of its own.

A list is ``NAME.csv`` in ``[lists] dir``, sent to as ``@NAME`` wherever a recipient is
typed (`open_named`), or a CSV file given by its path (`open_file`: ``herald send
--to-file``). Its first line, the header, names the columns: ``to`` (in any case) is the
recipient, and every other column is a template variable of its row::

    to,name,order
    +31612345678,Jane,A-1042
    "+49 151 1234 5678","Müller, Hans",A-1043

`read_list` reads it with the standard library's ``csv``, line by line (a file is never
held twice in memory): a UTF-8 byte-order mark is dropped, quoting is CSV's, blank lines
are skipped, every cell is trimmed, and a header that separates with ``;`` or a tab
instead of ``,`` (a spreadsheet in a European locale) sets the separator. What makes the
whole file unusable — bigger than `max_list_bytes`, not UTF-8 (the line is named), not
CSV, no ``to`` column, a column named twice, more rows than one send may have — is one
`RecipientListError`. A row that is wrong on its own is kept with its ``problem``, so the
send can name every bad row at once (`RowProblems`): ``row N`` is the N-th data row
after the header, blank lines not counted.

`check_recipients` normalizes each row's recipient for a channel and reports bad and
repeated ones; `bot.sending.requests` adds what the template needs of each row.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections import Counter
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from bot.errors import Field, InvalidRecipientError, RecipientListError
from bot.sending.recipients import check_count, mask_recipient, normalize_recipient
from bot.suggest import closest
from providers import Channel

LIST_NAME = re.compile(r"[a-z0-9_-]{1,64}")
SUFFIX = ".csv"
TO = "to"
BYTES_PER_ROW = 512  # what a list may hold per row it may have, on average
MIN_LIST_BYTES = 1 << 20
SHOWN_PROBLEMS = 10  # bad rows named in an error; the rest are counted
SEPARATORS = (",", ";", "\t")
MAX_COLUMNS = 1000  # 'to' and one per template variable; a wider header is no list
CELL_SHOWN = 40  # characters of a bad value quoted in a problem
_RECIPIENTS: tuple[Field, ...] = ("recipients",)
_LONE_CR = re.compile(r"(?<=\r)(?!\n)")  # a line ending of its own (old Mac files)


def max_list_bytes(max_rows: int) -> int:
    """The biggest list file read for a send of at most ``max_rows`` recipients."""
    return max(MIN_LIST_BYTES, max_rows * BYTES_PER_ROW)


@dataclass(frozen=True)
class ListRow:
    """One data row: its number (1 = the first after the header), its recipient as written
    and its non-empty cells by column."""

    number: int
    to: str
    variables: Mapping[str, str]
    problem: str | None = None  # what is wrong with the row as read (a cell too many, …)


@dataclass(frozen=True)
class RecipientList:
    """A list as read: where from, its variable columns (the header but ``to``) and rows."""

    label: str  # how errors name it: ``@customers``, or the file's name
    path: Path
    columns: tuple[str, ...]
    rows: tuple[ListRow, ...]
    name: str | None = None  # NAME of a list in the lists directory; None: a file by path

    @property
    def reference(self) -> str | None:
        """``@NAME``, which a repeating send stores to read the list again each time."""
        return None if self.name is None else f"@{self.name}"


def is_list_reference(entry: str) -> bool:
    """Whether a typed recipient names a list (``@customers``)."""
    return entry.startswith("@")


def list_name(entry: str) -> str:
    """``@Customers`` → ``customers``; refuses anything but a list name (``@../secrets``)."""
    name = entry.removeprefix("@").strip().lower()
    if not LIST_NAME.fullmatch(name):
        raise RecipientListError(
            f"'{_clip(entry)}' is not a list: a list is written @NAME, where NAME.csv is a "
            "file in the lists directory and NAME is lower-case letters, digits, '-' and '_'.",
            code="list_name_invalid",
            fields=_RECIPIENTS,
            list=entry,
        )
    return name


def list_names(directory: Path) -> list[str]:
    """The lists in ``directory`` (the NAME of each ``NAME.csv``), sorted."""
    try:
        found = [entry for entry in directory.iterdir() if entry.suffix == SUFFIX]
    except OSError:  # no lists directory yet: no lists
        return []
    return sorted(p.stem for p in found if LIST_NAME.fullmatch(p.stem) and p.is_file())


def open_named(entry: str, directory: Path, *, max_rows: int) -> RecipientList:
    """The list ``@NAME`` of ``directory``; `RecipientListError` if there is none or it
    cannot be read."""
    name = list_name(entry)
    path = directory / f"{name}{SUFFIX}"
    if not path.is_file():
        names = list_names(directory)
        close = closest(name, names)
        if close is not None:
            hint = f" Did you mean @{close}?"
        elif names:
            hint = " The lists are " + ", ".join(f"@{n}" for n in names[:20]) + "."
        else:
            hint = f" There are no lists yet: a list is a file NAME.csv in {directory}."
        raise RecipientListError(
            f"There is no list @{name}.{hint}",
            code="list_not_found",
            fields=_RECIPIENTS,
            list=f"@{name}",
            suggestion=f"@{close}" if close else "",
            choices=tuple(f"@{n}" for n in names),
        )
    return open_file(path, max_rows=max_rows, label=f"@{name}", name=name)


def open_file(
    path: Path, *, max_rows: int, label: str | None = None, name: str | None = None
) -> RecipientList:
    """The list in the CSV file ``path``; `RecipientListError` if it cannot be used."""
    label = label or path.name
    limit = max_list_bytes(max_rows)
    try:
        if path.stat().st_size > limit:
            raise _too_large(label, limit)
        with path.open("rb") as stream:
            columns, rows = read_list(stream, label, max_rows=max_rows, max_bytes=limit)
    except FileNotFoundError:
        raise RecipientListError(
            f"There is no file {path}.", code="list_not_found", fields=_RECIPIENTS, list=label
        ) from None
    except OSError as exc:
        raise RecipientListError(
            f"{label} cannot be read: {exc.strerror or exc}.",
            code="list_invalid",
            fields=_RECIPIENTS,
            list=label,
        ) from None
    return RecipientList(label, path, columns, tuple(rows), name)


def read_list(
    stream: BinaryIO, label: str, *, max_rows: int, max_bytes: int
) -> tuple[tuple[str, ...], list[ListRow]]:
    """The variable columns and the rows of the CSV in ``stream`` (bytes); raises only
    `RecipientListError`."""
    lines = _lines(stream, label, max_bytes)
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        raise _invalid(label, "is empty: its first line names the columns, e.g. to,name,order")
    separator = next((s for s in SEPARATORS if s in first), ",")
    reader = csv.reader(chain([first], lines), delimiter=separator)
    rows: list[ListRow] = []
    try:
        header = [cell.strip() for cell in next(reader)]
        to = _to_column(header, label)
        for record in reader:
            cells = [cell.strip() for cell in record]
            if not any(cells):
                continue
            check_count(len(rows) + 1, max_rows, label)
            rows.append(_row(len(rows) + 1, cells, header, to))
    except csv.Error as exc:
        raise _invalid(
            label, f"cannot be read as CSV at row {len(rows) + 1}: {exc}", rows=len(rows)
        ) from None
    columns = tuple(name for index, name in enumerate(header) if index != to and name)
    return columns, rows


def _lines(stream: BinaryIO, label: str, max_bytes: int) -> Iterator[str]:
    """The text lines of ``stream``, each with its line ending (as ``csv`` wants them)."""
    read = 0
    number = 0
    while raw := stream.readline(max_bytes - read + 1):
        read += len(raw)
        if read > max_bytes:
            raise _too_large(label, max_bytes)
        number += 1
        if number == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _invalid(
                label,
                f"is not UTF-8 text: line {number} holds the byte 0x{raw[exc.start]:02x}. Save "
                "it as UTF-8 (in a spreadsheet: CSV UTF-8) and try again",
                line=number,
            ) from None
        if "\r" in text.rstrip("\r\n"):
            yield from (part for part in _LONE_CR.split(text) if part)
        else:
            yield text


def _to_column(header: list[str], label: str) -> int:
    if len(header) > MAX_COLUMNS:
        raise _invalid(
            label,
            f"has {len(header):,} columns in its first line; a list takes at most "
            f"{MAX_COLUMNS:,}: 'to' and one per template variable",
        )
    folded = [name.casefold() for name in header]
    counted = Counter(name for name in folded if name)
    twice = sorted(name for name, count in counted.items() if count > 1)
    if twice:
        raise _invalid(
            label,
            f"names the column '{_clip(twice[0])}' twice in its first line; name each column once",
        )
    if TO in folded:
        return folded.index(TO)
    said = ", ".join(_clip(name) for name in header if name) or "nothing"
    hint = ""
    if header and re.match(r"[+(0-9]|[^@\s]+@", header[0]):
        hint = " Its first line looks like a recipient: add a line such as to,name above it."
    raise _invalid(
        label,
        "has no 'to' column: its first line names the columns, 'to' for the recipient "
        f"and one per template variable, e.g. to,name,order (it names {said}).{hint}",
    )


def _row(number: int, cells: list[str], header: list[str], to: int) -> ListRow:
    width = len(header)
    problem = None
    if len(cells) > width and any(cells[width:]):
        problem = f"has {len(cells)} values, but the first line names {width} columns"
    else:
        unnamed = [
            i
            for i, (name, cell) in enumerate(zip(header, cells, strict=False))
            if cell and not name
        ]
        if unnamed:
            problem = f"has a value in column {unnamed[0] + 1}, which the first line does not name"
    variables = {
        name: cell
        for index, (name, cell) in enumerate(zip(header, cells, strict=False))
        if index != to and name and cell
    }
    return ListRow(number, cells[to] if to < len(cells) else "", variables, problem)


# -- checking rows ----------------------------------------------------------------


class RowProblems:
    """What is wrong with the rows of a send: the first `SHOWN_PROBLEMS` named, the rest
    counted."""

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.count = 0

    def add(self, where: str, problem: str) -> None:
        self.count += 1
        if len(self.shown) < SHOWN_PROBLEMS:
            self.shown.append(f"{where}: {problem}")

    def lines(self) -> list[str]:
        rest = self.count - len(self.shown)
        return [*self.shown, *([f"… and {rest} more"] if rest else [])]

    def raise_if_any(self, label: str) -> None:
        """Refuse the send when any row is bad, naming the rows."""
        if not self.count:
            return
        rows = "1 row" if self.count == 1 else f"{self.count:,} rows"
        them = "it" if self.count == 1 else "them"
        raise RecipientListError(
            f"{label}: {rows} cannot be sent to. Fix {them} and send again:\n"
            + "\n".join(self.lines()),
            code="list_rows_invalid",
            fields=_RECIPIENTS,
            list=label,
            rows=tuple(self.shown),
            count=self.count,
        )


def check_recipients(
    recipients: RecipientList,
    channel: Channel | None,
    problems: RowProblems,
    seen: MutableMapping[str, str],
    *,
    mask: bool,
    of_list: bool = False,
) -> Iterator[tuple[ListRow, str, str]]:
    """Each usable row of ``recipients``, its recipient normalized for ``channel`` (None:
    as it looks, an e-mail address or a phone number) and how to name it (``row 4``, or
    ``row 4 of @vip`` with ``of_list``). A bad row goes to ``problems`` instead: one read
    wrong, without a recipient, with one that cannot be used, or one that ``seen`` (the
    recipients so far, and where each was) holds already."""
    for row in recipients.rows:
        where = f"row {row.number}" + (f" of {recipients.label}" if of_list else "")
        if row.problem is not None:
            problems.add(where, row.problem)
            continue
        if not row.to:
            problems.add(where, "no recipient in the 'to' column")
            continue
        try:
            recipient = normalize_recipient(row.to, channel or _looks_like(row.to))
        except InvalidRecipientError as exc:
            problems.add(where, bad_recipient(exc, row.to, channel, mask=mask))
            continue
        earlier = seen.get(recipient)
        if earlier is not None:
            shown = mask_recipient(recipient) if mask else recipient
            problems.add(where, f"repeats {shown} of {earlier}")
            continue
        seen[recipient] = where
        yield row, recipient, where


def bad_recipient(
    error: InvalidRecipientError, value: str, channel: Channel | None, *, mask: bool
) -> str:
    """Why a row's recipient cannot be used, in a few words (`InvalidRecipientError`'s
    ``reason``)."""
    quoted = f"'{_clip(value)}'"
    reason = error.value("reason")
    if reason == "email_for_phone":
        shown = f"'{mask_recipient(value.strip())}'" if mask else quoted
        return f"{shown} is an e-mail address, but this connection sends {channel}"
    if reason == "no_country_code":
        return f"{quoted} has no country code (write it as +<country><number>)"
    if reason == "invalid_email":
        return f"{quoted} is not an e-mail address"
    return f"{quoted} is not a phone number"


def _looks_like(value: str) -> Channel:
    return Channel.EMAIL if "@" in value else Channel.SMS


def _clip(value: str) -> str:
    return value if len(value) <= CELL_SHOWN else value[: CELL_SHOWN - 1] + "…"


def _invalid(label: str, problem: str, **details: int) -> RecipientListError:
    return RecipientListError(
        f"{label} {problem}.", code="list_invalid", fields=_RECIPIENTS, list=label, **details
    )


def _too_large(label: str, limit: int) -> RecipientListError:
    return RecipientListError(
        f"{label} is bigger than {limit / (1 << 20):.1f} MB, more than a list of as many "
        "rows as one send may have ([limits] max_recipients) needs: split it, or trim "
        "the columns the templates do not use.",
        code="list_too_large",
        fields=_RECIPIENTS,
        list=label,
        limit=limit,
    )
