"""Base of the provider fakes: a strict local stand-in for a messaging API.

A subclass implements `handle` the way the real API behaves: it checks auth and
the body and answers with the documented shapes (wrong auth → 401, a missing
field → the documented error). Tests can make the next requests fail
(`fail_next`, `rate_limit_next`, `hang_next`), or answer with an error that quotes the
request back (`echo_next`, as an API whose error bodies are undocumented may), and wait
for requests on a condition variable instead of sleeping.

`MediaHost` plays the web server a media URL points at, for adapters that ask a URL
for its type (``HEAD``) before sending it.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

HANG_LIMIT_SECONDS = 30.0
# Headers the HTTP client adds on its own; `echo_next` quotes the ones the adapter chose.
TRANSPORT_HEADERS = frozenset(
    {"host", "user-agent", "accept", "accept-encoding", "connection", "content-length"}
)


@dataclass
class Recorded:
    """One request as the fake received it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int
    body: Any = None  # dict/list → JSON, str → text, bytes as they are
    headers: dict[str, str] = field(default_factory=dict)


class _Hang:
    """A fault that holds the request until the fake stops (the client must time out)."""


@dataclass
class _Echo:
    """A fault that answers ``status`` with the request's own headers and body quoted."""

    status: int

    def reply(self, request: Recorded) -> Reply:
        chosen = [v for k, v in request.headers.items() if k not in TRANSPORT_HEADERS]
        words = f"refused {request.method} {request.path}?{request.query}: {chosen} " + (
            request.body.decode("utf-8", "replace")
        )
        return Reply(self.status, {"message": words, "error": words, "errors": [{"msg": words}]})


class ProviderFake:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._faults: deque[Reply | _Hang | _Echo] = deque()
        self._cond = threading.Condition()
        self._released = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def do_PUT(self) -> None:
                self._serve()

            def do_DELETE(self) -> None:
                self._serve()

            def do_HEAD(self) -> None:
                self._serve(head=True)

            def _serve(self, head: bool = False) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                request = Recorded(
                    method=self.command,
                    path=url.path,
                    query=parse_qs(url.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                reply = fake._answer(request)
                if reply is None:
                    self.close_connection = True
                    return
                payload, ctype = _encode(reply.body)
                self.send_response(reply.status)
                headers = {"content-type": ctype, **reply.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                if not head:
                    self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # -- lifecycle --------------------------------------------------------------

    def start(self) -> ProviderFake:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> ProviderFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def transport(self) -> httpx.MockTransport:
        """The same API without a socket, for the fast tier: an ``httpx.MockTransport``
        that answers exactly as the HTTP fake does (a hang becomes a read timeout)."""

        def answer(request: httpx.Request) -> httpx.Response:
            recorded = Recorded(
                method=request.method,
                path=request.url.path,
                query=parse_qs(request.url.query.decode(), keep_blank_values=True),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=request.read(),
            )
            with self._cond:
                hangs = bool(self._faults) and isinstance(self._faults[0], _Hang)
                if hangs:
                    self._faults.popleft()
                    self.requests.append(recorded)
                    self._cond.notify_all()
            if hangs:
                raise httpx.ReadTimeout("the fake does not answer", request=request)
            reply = self._answer(recorded)
            assert reply is not None
            payload, ctype = _encode(reply.body)
            headers = {"content-type": ctype, **reply.headers}
            return httpx.Response(reply.status, headers=headers, content=payload)

        return httpx.MockTransport(answer)

    # -- failure injection ------------------------------------------------------

    def fail_next(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None, times: int = 1
    ) -> None:
        """Answer the next ``times`` requests with this reply instead of handling them."""
        with self._cond:
            self._faults.extend(Reply(status, body, headers or {}) for _ in range(times))

    def rate_limit_next(self, retry_after: float | None = 1, times: int = 1) -> None:
        headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
        self.fail_next(429, {"message": "Too Many Requests"}, headers, times)

    def hang_next(self, times: int = 1) -> None:
        with self._cond:
            self._faults.extend(_Hang() for _ in range(times))

    def echo_next(self, status: int, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``status`` and a body (``message``,
        ``error``, ``errors[].msg``) quoting the request's headers, query and body."""
        with self._cond:
            self._faults.extend(_Echo(status) for _ in range(times))

    # -- what tests look at -----------------------------------------------------

    def wait_for(self, predicate: Callable[[ProviderFake], Any], timeout: float = 5.0) -> Any:
        with self._cond:
            result = self._cond.wait_for(lambda: predicate(self), timeout=timeout)
        if not result:
            raise AssertionError(f"the fake never saw it; requests: {len(self.requests)}")
        return result

    # -- the API ----------------------------------------------------------------

    def handle(self, request: Recorded) -> Reply:
        """Answer like the real API; subclasses implement it."""
        raise NotImplementedError

    def _answer(self, request: Recorded) -> Reply | None:
        with self._cond:
            self.requests.append(request)
            fault = self._faults.popleft() if self._faults else None
            self._cond.notify_all()
        if isinstance(fault, _Hang):
            self._released.wait(HANG_LIMIT_SECONDS)
            return None
        if isinstance(fault, _Echo):
            return fault.reply(request)
        if fault is not None:
            return fault
        try:
            return self.handle(request)
        except (KeyError, TypeError, ValueError) as exc:
            return Reply(400, {"message": f"malformed request: {exc}"})


def _encode(body: Any) -> tuple[bytes, str]:
    if isinstance(body, dict | list):
        return json.dumps(body).encode(), "application/json"
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return body or b"", "application/octet-stream"


class MediaHost(ProviderFake):
    """A web server holding media files: `serve` a path with a ``Content-Type``, or
    `redirect` it; anything else is 404. `refuse_head` answers HEAD with 405, as some
    servers do, so the type must come from a GET's headers."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, str] = {}  # path → Content-Type
        self.moved: dict[str, str] = {}  # path → Location
        self.refuse_head = False

    def serve(self, path: str, content_type: str) -> str:
        self.files[path] = content_type
        return self.base_url + path

    def redirect(self, path: str, location: str) -> str:
        self.moved[path] = location
        return self.base_url + path

    def handle(self, request: Recorded) -> Reply:
        if request.method == "HEAD" and self.refuse_head:
            return Reply(405, b"", {"allow": "GET"})
        if request.path in self.moved:
            return Reply(302, b"", {"location": self.moved[request.path]})
        if request.path in self.files:
            return Reply(200, b"\x00" * 16, {"content-type": self.files[request.path]})
        return Reply(404, "Not Found")
