"""Which process works on a message, so one process never takes over another's live work."""

from __future__ import annotations

import os
import socket

ELSEWHERE_TIMEOUT = 15 * 60.0


def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def is_running_elsewhere(owner: str | None, *, idle_seconds: float) -> bool:
    """Whether ``owner`` is another process that may still be working on the message.

    On this machine, whether that process is alive. On another machine (a second
    container on the same volume) it cannot be asked, so it counts as alive until the
    message has sat untouched for `ELSEWHERE_TIMEOUT` seconds.
    """
    if not owner or owner == process_id():
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return idle_seconds < ELSEWHERE_TIMEOUT
    if not pid.isdecimal():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
