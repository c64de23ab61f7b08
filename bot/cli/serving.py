"""``herald serve``: the Slack app and webhook server under uvicorn, and the filters that
keep webhook tokens and already-logged refusals out of its access log."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
from urllib.parse import unquote_plus

from bot.config.settings import Settings


def serve_command(settings: Settings, host: str, port: int | None) -> int:
    import uvicorn

    from bot.scheduling.lock import refuse_if_running
    from bot.storage.store import Store
    from bot.web.server import check_socket_mode, create_app

    Store(settings.db_path).close()  # a database that cannot be opened stops here, in one line
    refuse_if_running(settings.db_path)  # so does a second server on it (the lock decides)
    app = create_app(settings)
    asyncio.run(check_socket_mode(settings))
    access = logging.getLogger("uvicorn.access")
    access.addFilter(redact_tokens)
    access.addFilter(one_line_per_refusal)
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again under the
    # handler it found: this one, so that a clean stop ends with exit code 0 (not "killed
    # by SIGTERM", which supervisors other than systemd count as a failure)
    previous = signal.signal(signal.SIGTERM, _stopped)
    try:
        uvicorn.run(
            app,
            host=host,
            port=settings.port if port is None else port,
            log_level="info",
            timeout_graceful_shutdown=15,
        )
    except _Stopped:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


class _Stopped(Exception):
    """SIGTERM arrived after uvicorn's graceful shutdown."""


def _stopped(signum: int, frame: object) -> None:
    raise _Stopped


_QUERY_PAIR = re.compile(r"(^|[?&])([^=&?\s]*)=([^&\s]*)")


def redact_tokens(record: logging.LogRecord) -> bool:
    """Keep ``?token=<webhook_token>`` out of the access log.

    The log shows the query as it came; the server reads it decoded, so ``%74oken=``
    is a token too.
    """
    if isinstance(record.args, tuple):
        record.args = tuple(
            _QUERY_PAIR.sub(_hide_token, arg) if isinstance(arg, str) else arg
            for arg in record.args
        )
    return True


def one_line_per_refusal(record: logging.LogRecord) -> bool:
    """Leave out the access line of a request Herald refused on its two public routes:
    Herald logged that refusal itself, with its reason, on one line."""
    args = record.args
    if isinstance(args, tuple) and len(args) == 5:
        path, status = str(args[2]), args[4]
        refused = isinstance(status, int) and 400 <= status < 500
        if refused and path.startswith(("/slack/events", "/webhooks/")):
            return False
    return True


def _hide_token(pair: re.Match[str]) -> str:
    if unquote_plus(pair.group(2)).strip().lower() != "token":
        return pair.group(0)
    return f"{pair.group(1)}{pair.group(2)}=[redacted]"
