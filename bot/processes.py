"""Which process works on a message, so one process never takes over another's live work."""

from __future__ import annotations

import os
import socket


def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def is_running_elsewhere(owner: str | None) -> bool:
    """Whether ``owner`` is another process on this machine that is still alive."""
    if not owner or owner == process_id():
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
