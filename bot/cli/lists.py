"""``herald lists list|show``: the recipient lists (``NAME.csv`` in ``[lists] dir``, sent to
as ``@NAME``), and one list's rows, columns and problems before it is sent to."""

from __future__ import annotations

from pathlib import Path

from bot.cli.output import EXIT_FAILED
from bot.config.settings import Settings
from bot.errors import InputError
from bot.sending.lists import (
    RecipientList,
    RowProblems,
    check_recipients,
    list_names,
    open_file,
    open_named,
)
from bot.sending.recipients import mask_recipient, normalize_recipient
from providers import Channel

SHOWN_ROWS = 5
VALUE_WIDTH = 30


def lists_command(settings: Settings, action: str, name: str | None) -> int:
    limit = settings.limits.max_recipients
    directory = settings.lists_dir
    if action == "list":
        names = list_names(directory)
        if not names:
            print(
                f"No lists in {directory} yet: a list is a file NAME.csv there, sent to as @NAME."
            )
        for listed_name in names:
            try:
                listed = open_named(listed_name, directory, max_rows=limit)
            except InputError as exc:
                print(f"@{listed_name:<23} cannot be used: {exc}")
                continue
            print(f"@{listed_name:<23} {len(listed.rows):>7,} rows  columns: {_columns(listed)}")
        return 0
    if not name:
        raise InputError(
            "herald lists show needs a list: its NAME, or the PATH of a .csv file.",
            code="command_usage",
            fields=("recipients",),
        )
    if name.endswith(".csv") or "/" in name:
        listed = open_file(Path(name), max_rows=limit, label=name)
    else:
        listed = open_named(name if name.startswith("@") else f"@{name}", directory, max_rows=limit)
    return _show(listed, mask=settings.mask_recipients)


def _show(listed: RecipientList, *, mask: bool) -> int:
    rows = listed.rows
    print(f"{listed.label}  {listed.path}")
    print(f"{len(rows):,} {'row' if len(rows) == 1 else 'rows'} · columns: {_columns(listed)}")
    for row in rows[:SHOWN_ROWS]:
        cells = ", ".join(f"{k}={_clip(v)}" for k, v in row.variables.items())
        print(f"  row {row.number:<6} {_recipient(row.to, mask):<22} {cells}".rstrip())
    if len(rows) > SHOWN_ROWS:
        print(f"  … and {len(rows) - SHOWN_ROWS:,} more")
    problems = RowProblems()
    for _ in check_recipients(listed, None, problems, {}, mask=mask):
        pass
    if not rows:
        problems.add("the list", "has no rows: add a line for each recipient under the header")
    if problems.count:
        print(f"{problems.count:,} {'problem' if problems.count == 1 else 'problems'}:")
        for line in problems.lines():
            print(f"  {line}")
        return EXIT_FAILED
    print(
        "No problems: every row has a recipient of its own. A send also checks them for its "
        "connection, and that each row has what its template needs."
    )
    return 0


def _columns(listed: RecipientList) -> str:
    return ", ".join(["to", *listed.columns])


def _recipient(value: str, mask: bool) -> str:
    """A row's recipient as Slack shows it (masked), or as written when it is not one."""
    try:
        recipient = normalize_recipient(value, Channel.EMAIL if "@" in value else Channel.SMS)
    except InputError:
        return repr(_clip(value))
    return mask_recipient(recipient) if mask else recipient


def _clip(value: str) -> str:
    return value if len(value) <= VALUE_WIDTH else value[: VALUE_WIDTH - 1] + "…"
