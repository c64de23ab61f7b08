"""A fake Slack Web API (and ``response_url`` endpoint) on 127.0.0.1, port 0.

It accepts what slack-sdk's AsyncWebClient sends, rejects what Slack would reject
(bad token, missing channel, no text, > 50 blocks, chat.update of an unknown
message, text over 4,000 characters on update), records every call, and lets a
test wait for calls on a condition variable instead of sleeping. `rate_limit` makes
the next calls of a method answer as Slack's rate limit does: HTTP 429, a
``Retry-After`` header and ``{"ok": false, "error": "ratelimited"}``.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BOT_TOKEN = "xoxb-test-token-000"
BOT_USER = "UHERALDBOT"
APP_TOKEN = "xapp-1-test-app-token"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    status: int = 200  # the HTTP status it was answered with (429: rate limited)


@dataclass
class Posted:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, str], Posted] = {}
        self.responses: list[dict[str, Any]] = []  # bodies posted to response_url
        self.not_member: set[str] = set()
        self.users: dict[str, dict[str, Any]] = {}
        self.delays: dict[str, float] = {}  # method → seconds it takes to answer (a slow Slack)
        self.limits: dict[str, list[int]] = {}  # method → Retry-After of its next answers
        self.socket_mode_url = ""  # what apps.connections.open hands out
        self._ts = 1700000000_000100
        self._cond = threading.Condition()
        self._slow = threading.Event()  # never set: waiting on it is how a method is slow
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Slack's API serves it

            def log_message(self, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def _handle(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                if url.path.startswith("/response/"):
                    fake._record_response(json.loads(raw or b"{}"))
                    self._send(200, b"ok", "text/plain")
                    return
                if not url.path.startswith("/api/"):
                    self._send(404, b"not found", "text/plain")
                    return
                method = url.path.removeprefix("/api/")
                args: dict[str, Any] = dict(parse_qsl(url.query))
                ctype = self.headers.get("content-type", "")
                if raw and ctype.startswith("application/json"):
                    args.update(json.loads(raw))
                elif raw:
                    args.update(parse_qsl(raw.decode()))
                for key in ("blocks", "view"):
                    if isinstance(args.get(key), str):
                        args[key] = json.loads(args[key])
                delay = fake.delays.get(method)
                if delay:
                    fake._slow.wait(delay)
                retry_after = fake._rate_limited(method)
                if retry_after is not None:
                    fake._record(Call(method, args, status=429))
                    limited = json.dumps({"ok": False, "error": "ratelimited"}).encode()
                    self._send(429, limited, "application/json", {"Retry-After": retry_after})
                    return
                auth = self.headers.get("authorization", "")
                token = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
                if auth != f"Bearer {token}":
                    body: dict[str, Any] = {"ok": False, "error": "invalid_auth"}
                else:
                    body = fake._dispatch(method, args)
                fake._record(Call(method, args))
                headers = {"x-oauth-scopes": "chat:write,chat:write.public,commands,users:read"}
                self._send(200, json.dumps(body).encode(), "application/json", headers)

            def _send(
                self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.api_url = f"http://127.0.0.1:{self.port}/api/"
        self.response_url = f"http://127.0.0.1:{self.port}/response/T111/1/abc"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # -- lifecycle --------------------------------------------------------------

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._slow.set()  # a slow answer in progress ends now
        self.server.shutdown()
        self.server.server_close()

    # -- what tests script ------------------------------------------------------

    def rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` are refused as Slack's rate limit refuses
        them: HTTP 429 with ``Retry-After: <retry_after>`` (seconds)."""
        with self._cond:
            self.limits.setdefault(method, []).extend([retry_after] * times)

    def _rate_limited(self, method: str) -> str | None:
        with self._cond:
            waiting = self.limits.get(method)
            return str(waiting.pop(0)) if waiting else None

    # -- what tests look at -----------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Callable[[FakeSlack], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate(self)`` is truthy (re-checked on every call), or fail."""
        with self._cond:
            result = self._cond.wait_for(lambda: predicate(self), timeout=timeout)
        if not result:
            raise AssertionError(
                f"Slack never saw what the test waited for; calls: {self.summary()}"
            )
        return result

    def summary(self) -> list[str]:
        with self._cond:
            return [f"{c.method} {c.args.get('text', '')!r}"[:160] for c in self.calls]

    def receipts(self) -> list[Posted]:
        """Top-level messages (not thread replies) in posting order."""
        with self._cond:
            return [m for m in self.messages.values() if m.thread_ts is None]

    def replies(self, ts: str) -> list[Posted]:
        with self._cond:
            return [m for m in self.messages.values() if m.thread_ts == ts]

    # -- the API ----------------------------------------------------------------

    def _record(self, call: Call) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    def _record_response(self, body: dict[str, Any]) -> None:
        with self._cond:
            self.responses.append(body)
            self._cond.notify_all()

    def _next_ts(self) -> str:
        with self._cond:
            self._ts += 100
            return f"{self._ts // 1_000_000}.{self._ts % 1_000_000:06d}"

    def _dispatch(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        result: dict[str, Any] = handler(args)
        return result

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://acme.slack.com/",
            "team": "Acme",
            "user": "herald",
            "team_id": "T111",
            "user_id": BOT_USER,
            "bot_id": "B111",
        }

    def _check_content(self, args: dict[str, Any]) -> str | None:
        if not args.get("channel"):
            return "channel_not_found"
        if not args.get("text") and not args.get("blocks"):
            return "no_text"
        blocks = args.get("blocks") or []
        if len(blocks) > 50:
            return "invalid_blocks"
        for block in blocks:
            if not isinstance(block, dict) or "type" not in block:
                return "invalid_blocks"
            text = block.get("text", {})
            if isinstance(text, dict) and len(text.get("text", "")) > 3000:
                return "invalid_blocks"
        return None

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        error = self._check_content(args)
        if error:
            return {"ok": False, "error": error}
        channel = str(args["channel"])
        if channel in self.not_member:
            return {"ok": False, "error": "not_in_channel"}
        if channel.startswith("U"):
            channel = "D" + channel[1:]
        thread_ts = args.get("thread_ts")
        if thread_ts and (channel, thread_ts) not in self.messages:
            return {"ok": False, "error": "thread_not_found"}
        ts = self._next_ts()
        posted = Posted(channel, ts, args.get("text", ""), args.get("blocks") or [], thread_ts)
        with self._cond:
            self.messages[(channel, ts)] = posted
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": posted.text}}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        error = self._check_content(args)
        if error:
            return {"ok": False, "error": error}
        key = (str(args["channel"]), str(args.get("ts")))
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        if len(args.get("text", "")) > 4000:
            return {"ok": False, "error": "msg_too_long"}
        with self._cond:
            posted = self.messages[key]
            posted.edits.append({"text": posted.text, "blocks": posted.blocks})
            posted.text = args.get("text", "")
            posted.blocks = args.get("blocks") or []
        return {"ok": True, "channel": key[0], "ts": key[1], "text": posted.text}

    def _chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        error = self._check_content(args)
        if error:
            return {"ok": False, "error": error}
        if not args.get("user"):
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view") or {}
        if not args.get("user_id") or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        if len(view.get("blocks", [])) > 100:
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": {"id": "VHOME", "hash": "1.1", "state": {"values": {}}}}

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not self.socket_mode_url:
            return {"ok": False, "error": "not_allowed_token_type"}
        return {"ok": True, "url": self.socket_mode_url}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}


def main() -> None:
    """Run the fake on its own (``python -m tests.fakes.slack_api``); prints its API URL."""
    fake = FakeSlack()
    print(fake.api_url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        fake.server.serve_forever()


if __name__ == "__main__":
    main()
