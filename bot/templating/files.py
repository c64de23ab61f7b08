"""The template files on disk, looked at again at most every ``recheck_after`` seconds.

Templates are edited on disk while Herald runs, and an edit must apply without a
restart; but listing the directory and reading the file on every render cost more
than rendering itself. So what was seen on disk is trusted for ``recheck_after``
seconds (`RECHECK_AFTER`, half a second) of the injected clock, then looked at
again: the listing by one ``scandir``, a template by reading it and comparing its
text (not its mtime, which a quick second save within the same clock tick would
not change). A name that is not in the listing makes it be read again at once, so
a file added is found on first use; an edit or a deletion is seen within
``recheck_after`` of the last look. ``recheck_after=0`` looks every time.

`RecheckingLoader` applies the same rule to the files a template ``{% include %}``s.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import jinja2

Clock = Callable[[], float]
"""Seconds from an arbitrary start that never go back, like `time.monotonic`."""

RECHECK_AFTER = 0.5
"""Seconds for which what was seen on disk is trusted; an edit is used within this."""

SUFFIX = ".j2"


class TemplateFiles:
    """The ``NAME.j2`` files of one directory, listed at most every ``recheck_after`` seconds."""

    def __init__(
        self,
        directory: Path,
        *,
        clock: Clock = time.monotonic,
        recheck_after: float = RECHECK_AFTER,
    ) -> None:
        self.directory = directory
        self.clock = clock
        self.recheck_after = recheck_after
        self._listing: frozenset[str] = frozenset()
        self._listed_at: float | None = None

    def names(self) -> list[str]:
        """The template names, sorted, as the directory holds them now."""
        return sorted(self._list(self.clock()))

    def exists(self, name: str, now: float) -> bool:
        """Whether ``name`` is a template file: as last listed if that is recent and
        names it, else as listed now (so a file just added is found at once)."""
        listed_at = self._listed_at
        recent = listed_at is not None and now - listed_at < self.recheck_after
        return (recent and name in self._listing) or name in self._list(now)

    def read(self, name: str) -> str:
        """The text of template ``name``; raises `OSError` or `UnicodeDecodeError`."""
        return (self.directory / f"{name}{SUFFIX}").read_text(encoding="utf-8")

    def _list(self, now: float) -> frozenset[str]:
        try:
            with os.scandir(self.directory) as entries:
                listing = frozenset(
                    entry.name[: -len(SUFFIX)]
                    for entry in entries
                    if entry.name.endswith(SUFFIX)
                    and len(entry.name) > len(SUFFIX)
                    and entry.is_file()
                )
        except OSError:  # no directory, or one that cannot be listed: no templates
            listing = frozenset()
        self._listing, self._listed_at = listing, now
        return listing


class RecheckingLoader(jinja2.FileSystemLoader):
    """Jinja's loader for ``{% include %}``: a loaded file is read again and compared
    at most every ``recheck_after`` seconds, not on every render."""

    def __init__(self, directory: Path, clock: Clock, recheck_after: float) -> None:
        super().__init__(directory)
        self.clock = clock
        self.recheck_after = recheck_after

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, _ = super().get_source(environment, template)
        checked_at = self.clock()

        def uptodate() -> bool:
            nonlocal checked_at
            now = self.clock()
            if now - checked_at < self.recheck_after:
                return True
            checked_at = now
            try:
                return Path(filename).read_text(encoding="utf-8") == source
            except (OSError, UnicodeDecodeError):
                return False  # gone or unreadable: loading it again says which

        return source, filename, uptodate
