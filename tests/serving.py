"""Serve an ASGI app with uvicorn in a thread, on a loopback socket bound to port 0."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from typing import Any

import uvicorn


class ServerThread:
    """uvicorn serving the real ASGI app on a loopback socket bound to port 0."""

    def __init__(self, app: Any) -> None:
        # proto=IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections, as it does
        # for sockets it creates; without it, responses meet Nagle + delayed ACK (40 ms).
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            # join() with a timeout doubles as the poll interval and notices a crashed thread
            self.thread.join(0.01)
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bot ARGS`` to completion, as an operator would, capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
