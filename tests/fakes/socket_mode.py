"""A fake Slack Socket Mode endpoint: a WebSocket server on 127.0.0.1, port 0.

Herald's Socket Mode client gets its URL from the fake Web API's
``apps.connections.open``; this server then says ``hello``, pushes envelopes a
test hands it, and records the acknowledgements the client sends back.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from aiohttp import WSMsgType, web


class FakeSocketMode:
    def __init__(self) -> None:
        self.acks: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._sockets: list[web.WebSocketResponse] = []
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.url = ""

    def start(self) -> FakeSocketMode:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def connected(self) -> bool:
        with self._cond:
            return bool(self._sockets)

    def push(self, envelope: dict[str, Any]) -> None:
        """Send one envelope to the connected client."""

        async def send() -> None:
            await self._sockets[-1].send_str(json.dumps(envelope))

        asyncio.run_coroutine_threadsafe(send(), self._loop).result(10)

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> Any:
        with self._cond:
            result = self._cond.wait_for(lambda: predicate(self), timeout=timeout)
        if not result:
            raise AssertionError(f"socket mode never saw it; acks: {self.acks}")
        return result

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get("/link", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"ws://127.0.0.1:{port}/link"

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        with self._cond:
            self._sockets.append(ws)
            self._cond.notify_all()
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                with self._cond:
                    self.acks.append(json.loads(message.data))
                    self._cond.notify_all()
        with self._cond:
            self._sockets.remove(ws)
        return ws
