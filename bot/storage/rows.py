"""How the core's records are stored: each table's columns, and rows ↔ records.

A table's columns are its record's dataclass fields, in order, and each value is
converted by its field's type through `CODECS` (plus `StrEnum`s, by value), so a new
column is a new field and a migration: nothing here changes unless the field has a
type no column had before (then `Columns` refuses it at import, naming the field).
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, Field, asdict, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar, Union, get_args, get_origin, get_type_hints

from bot.models import Message, Schedule, Send
from bot.storage.posts import ReceiptPost
from providers import ProviderTemplate

R = TypeVar("R")


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="milliseconds") if value else None


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


Encode = Callable[[Any], Any]
Decode = Callable[[Any], Any]

# Python type → (to the column, from the column). Values are never None here: a NULL
# column is None for an optional field and the field's default otherwise.
CODECS: dict[Any, tuple[Encode, Decode]] = {
    str: (str, str),
    int: (int, int),
    float: (float, float),
    bool: (int, bool),
    datetime: (iso, datetime.fromisoformat),
    tuple[str, ...]: (lambda v: json.dumps(list(v)), lambda v: tuple(json.loads(v))),
    Mapping[str, str]: (lambda v: json.dumps(dict(v)), json.loads),
    ProviderTemplate: (
        lambda v: json.dumps(asdict(v)),
        lambda v: ProviderTemplate(**json.loads(v)),
    ),
}


def _codec(kind: Any, name: str) -> tuple[Encode, Decode]:
    if isinstance(kind, type) and issubclass(kind, StrEnum):
        return (lambda v: kind(v).value, kind)
    if kind not in CODECS:
        raise TypeError(f"no column conversion for {name}: {kind!r}; add one to CODECS")
    return CODECS[kind]


def _optional(kind: Any) -> tuple[Any, bool]:
    """``X | None`` → (X, True); anything else → (it, False)."""
    if get_origin(kind) in (Union, types.UnionType):
        args = [a for a in get_args(kind) if a is not type(None)]
        if len(args) == 1 and len(get_args(kind)) == 2:
            return args[0], True
    return kind, False


def _fallback(item: Field[Any], kind: Any) -> Callable[[], Any] | None:
    """What a NULL column reads as for a field that is not optional: its default."""
    if item.default is not MISSING:
        default = item.default
        return lambda: default
    if item.default_factory is not MISSING:
        return item.default_factory
    if kind is datetime:
        return utcnow  # a time Herald always writes; never fail a read over one
    return None


class Columns(Generic[R]):
    """The columns of ``record``'s table (its fields, then ``extra`` storage-only ones,
    such as a message's owner) and the conversions of each."""

    def __init__(self, table: str, record: type[R], extra: tuple[str, ...] = ()) -> None:
        self.table = table
        self.record = record
        hints = get_type_hints(record)
        self.fields = tuple(f.name for f in fields(record))  # type: ignore[arg-type]
        self.names = self.fields + extra
        self.list = ", ".join(self.names)
        self.insert = (
            f"INSERT INTO {table} ({self.list}) "  # noqa: S608 (names of this module)
            f"VALUES ({', '.join('?' for _ in self.names)})"
        )
        self._encode: dict[str, Encode] = {name: _identity for name in extra}
        self._decode: dict[str, Decode] = {}
        for item in fields(record):  # type: ignore[arg-type]
            kind, optional = _optional(hints[item.name])
            encode, decode = _codec(kind, f"{record.__name__}.{item.name}")
            fallback = None if optional else _fallback(item, kind)
            self._encode[item.name] = _none_or(encode)
            self._decode[item.name] = _null_as(decode, fallback)

    def column(self, name: str, value: Any) -> Any:
        """``value`` of the field ``name`` as its column holds it."""
        if name not in self._encode:
            raise ValueError(f"not a column of {self.table}: {name}")
        return self._encode[name](value)

    def to_row(self, record: R, **extra: Any) -> list[Any]:
        """The values of `insert`, in column order; ``extra`` gives the storage-only ones."""
        values = {name: self.column(name, getattr(record, name)) for name in self.fields}
        return [values[n] if n in values else extra.get(n) for n in self.names]

    def to_record(self, row: Sequence[Any]) -> R:
        """The record of a row selected as `list` (extra columns are not the record's)."""
        named = zip(self.names, row, strict=True)
        return self.record(**{n: self._decode[n](v) for n, v in named if n in self._decode})


def _identity(value: Any) -> Any:
    return value


def _none_or(encode: Encode) -> Encode:
    return lambda value: None if value is None else encode(value)


def _null_as(decode: Decode, fallback: Callable[[], Any] | None) -> Decode:
    return lambda value: (fallback() if fallback else None) if value is None else decode(value)


MESSAGES = Columns("messages", Message, extra=("owner",))
SENDS = Columns("sends", Send)
SCHEDULES = Columns("schedules", Schedule)
POSTS = Columns("slack_receipts", ReceiptPost)
