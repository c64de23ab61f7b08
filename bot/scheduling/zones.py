"""Time zone names Herald accepts: the IANA database's, read once.

``ZoneInfo`` also opens other files of the zone directory (``posix/…``, ``right/…``,
``zone.tab``, a directory such as ``America``) and fails in odd ways on them, so a
name typed by a person or given by Slack is checked against this list first.
"""

from __future__ import annotations

import functools
from zoneinfo import ZoneInfo, available_timezones

# what `available_timezones` lists that is not a zone a person means
_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})


@functools.cache
def zone_names() -> frozenset[str]:
    return frozenset(
        name
        for name in available_timezones()
        if name not in _NOT_ZONES and not name.startswith(("posix/", "right/"))
    )


def known_zone(name: object) -> ZoneInfo | None:
    """The zone called ``name``, or None if that is not an IANA zone name."""
    if not isinstance(name, str) or name not in zone_names():
        return None
    try:
        return ZoneInfo(name)
    except (ValueError, OSError):  # listed but unreadable: treat as unknown
        return None
