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
import copy
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.slack_views import VIEW_LIMIT_BYTES, view_problems

BOT_TOKEN = "xoxb-test-token-000"
BOT_USER = "UHERALDBOT"
APP_TOKEN = "xapp-1-test-app-token"
HOLD_LIMIT = 10.0  # seconds a held call waits at most (a test that forgot to release it)
HUMAN_USER = "U2147483697"  # the user slash_body and the interactivity payloads act as


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


@dataclass
class _Trigger:
    issued: float  # FakeSlack.now() when the test issued it
    user: str
    view_id: str | None  # the modal the interaction came from
    exchanged: bool = False


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, str], Posted] = {}
        self.responses: list[dict[str, Any]] = []  # bodies posted to response_url
        self.not_member: set[str] = set()
        self.users: dict[str, dict[str, Any]] = {}
        self.delays: dict[str, float] = {}  # method → seconds it takes to answer (a slow Slack)
        # method → an event its calls wait for (Slack busy until the test sets it), and how
        # many calls of each method have arrived (held or not)
        self.held: dict[str, threading.Event] = {}
        self.arrived: dict[str, int] = {}
        self.limits: dict[str, list[int]] = {}  # method → Retry-After of its next answers
        self.socket_mode_url = ""  # what apps.connections.open hands out
        self.clock: Callable[[], float] = time.monotonic  # a test may swap it
        self.trigger_ttl = 3.0  # seconds a trigger_id can be exchanged in (slack.md §3.1)
        self.view_limit_bytes = VIEW_LIMIT_BYTES
        self.views: dict[str, dict[str, Any]] = {}  # every view Slack holds, by id
        self._skew = 0.0
        self._triggers: dict[str, _Trigger] = {}
        self._trigger_seq = 0
        self._stacks: dict[str, list[str]] = {}  # root view id → open modals, bottom first
        self._homes: dict[str, str] = {}  # user → their Home view's id
        self._touched: list[str] = []  # view ids, least recently stored first
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
                with fake._cond:
                    fake.arrived[method] = fake.arrived.get(method, 0) + 1
                    fake._cond.notify_all()
                gate = fake.held.get(method)
                if gate is not None:
                    gate.wait(HOLD_LIMIT)
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

    # -- views: modals and Home tabs ------------------------------------------------

    def issue_trigger(self, *, user: str = HUMAN_USER, view_id: str | None = None) -> str:
        """A new ``trigger_id`` as Slack puts in an interaction payload, good for one
        ``views.open``/``views.push`` within ``trigger_ttl`` seconds of now (``clock``).
        ``view_id``: the modal the interaction came from (``views.push`` stacks on it)."""
        with self._cond:
            self._trigger_seq += 1
            trigger = f"{self._ts // 1000}.{self._trigger_seq}.{secrets.token_hex(10)}"
            self._triggers[trigger] = _Trigger(self.now(), user, view_id)
            return trigger

    def now(self) -> float:
        return self.clock() + self._skew

    def advance(self, seconds: float) -> None:
        """Move the fake's clock on (trigger expiry) without sleeping."""
        with self._cond:
            self._skew += seconds

    def view(self, view_id: str) -> dict[str, Any]:
        """The view as Slack holds it now (latest update, current hash)."""
        with self._cond:
            if view_id not in self.views:
                raise AssertionError(f"Slack has no view {view_id!r}; it has {list(self.views)}")
            return copy.deepcopy(self.views[view_id])

    def latest_view(self, callback_id: str | None = None) -> dict[str, Any] | None:
        """The modal most recently opened, pushed or updated (with that ``callback_id``)."""
        with self._cond:
            for view_id in reversed(self._touched):
                view = self.views[view_id]
                if view["type"] == "modal" and callback_id in (None, view["callback_id"]):
                    return copy.deepcopy(view)
            return None

    @property
    def open_views(self) -> list[dict[str, Any]]:
        """Modals the user has open now, each stack bottom to top, oldest stack first."""
        with self._cond:
            return [copy.deepcopy(self.views[v]) for stack in self._stacks.values() for v in stack]

    def home_of(self, user: str) -> dict[str, Any] | None:
        with self._cond:
            view_id = self._homes.get(user)
            return copy.deepcopy(self.views[view_id]) if view_id else None

    def close_view(self, view_id: str, *, clear: bool = False) -> None:
        """The user closed the modal (or the app's answer closed it): it and any view pushed
        on it leave the stack; ``clear`` closes the whole stack. Closed views stay readable
        with ``view()`` but ``views.update`` answers ``not_found`` for them, as Slack does."""
        with self._cond:
            for root, stack in list(self._stacks.items()):
                if view_id in stack:
                    del stack[0 if clear else stack.index(view_id) :]
                    if not stack:
                        del self._stacks[root]
            self._cond.notify_all()

    def settle_submission(
        self, view_id: str, answer: str | bytes | dict[str, Any] | None
    ) -> dict[str, str] | None:
        """Do what Slack does with the app's answer to a ``view_submission`` of ``view_id``
        (slack.md §3.3): empty → close it; ``update``/``push`` → check and show the view
        (an invalid one fails the test, as Slack shows the user an error instead);
        ``clear`` → close the stack; ``errors`` → keep it open and return the errors, whose
        keys must be block_ids of input blocks in the view."""
        if isinstance(answer, bytes):
            answer = answer.decode()
        if isinstance(answer, str):
            answer = json.loads(answer) if answer.strip() else None
        if not answer:
            self.close_view(view_id)
            return None
        action = answer.get("response_action")
        if action == "clear":
            self.close_view(view_id, clear=True)
            return None
        if action == "errors":
            errors: dict[str, str] = answer.get("errors") or {}
            inputs = {b["block_id"] for b in self.view(view_id)["blocks"] if b["type"] == "input"}
            unknown = set(errors) - inputs
            if not errors or unknown:
                raise AssertionError(f"errors must name input block_ids {inputs}, not {unknown}")
            return errors
        if action not in ("update", "push"):
            raise AssertionError(f"Slack does not know response_action {action!r}")
        problems = self._view_problems(answer.get("view"), "modal")
        if problems:
            raise AssertionError(f"Slack refuses the {action} view: {problems}")
        with self._cond:
            current = self.views[view_id]
            if action == "update":
                self._store(answer["view"], view_id, current["root_view_id"], None)
            else:
                stack = self._stacks.get(current["root_view_id"], [])
                if len(stack) >= 3:
                    raise AssertionError("push_limit_reached: a stack holds three views")
                self._store(answer["view"], _slack_id("V"), current["root_view_id"], view_id)
            self._cond.notify_all()
        return None

    def _view_problems(self, view: Any, kind: str) -> list[str]:
        problems = view_problems(view, kind)
        if not problems and len(json.dumps(view).encode()) > self.view_limit_bytes:
            problems.append("view_too_large")
        return problems

    @staticmethod
    def _refused(problems: list[str]) -> dict[str, Any]:
        if problems == ["view_too_large"]:
            return {"ok": False, "error": "view_too_large"}
        return {
            "ok": False,
            "error": "invalid_arguments",
            "response_metadata": {"messages": problems},
        }

    def _exchange(self, args: dict[str, Any]) -> tuple[_Trigger | None, str | None]:
        """Spend the call's trigger_id: (the trigger, None) or (None, Slack's error)."""
        trigger_id = str(args.get("trigger_id") or args.get("interactivity_pointer") or "")
        if not trigger_id:
            return None, "invalid_arguments"
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            return None, "invalid_trigger_id"
        if trigger.exchanged:
            return None, "exchanged_trigger_id"
        if self.now() - trigger.issued > self.trigger_ttl:
            return None, "expired_trigger_id"
        trigger.exchanged = True
        return trigger, None

    def _store(
        self, view: dict[str, Any], view_id: str, root: str | None, previous: str | None
    ) -> dict[str, Any]:
        """Keep ``view`` as Slack does (under the lock): new hash, ids filled in."""
        modal = view["type"] == "modal"
        before = self.views.get(view_id, {})
        stored = {
            "id": view_id,
            "team_id": "T111",
            "type": view["type"],
            "blocks": _with_ids(view["blocks"]),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_urlsafe(6)}",
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": previous,
            "root_view_id": root or view_id,
            "app_id": "A111",
            # an update that names no external_id keeps the one the view had
            "external_id": view.get("external_id") or before.get("external_id", ""),
            "app_installed_team_id": "T111",
            "bot_id": "B111",
        }
        if modal and view_id not in self.views:
            self._stacks.setdefault(stored["root_view_id"], []).append(view_id)
        self.views[view_id] = stored
        if view_id in self._touched:
            self._touched.remove(view_id)
        self._touched.append(view_id)
        return copy.deepcopy(stored)

    def _duplicate_external_id(self, view: dict[str, Any], own: str | None = None) -> bool:
        external = view.get("external_id")
        return bool(external) and any(
            v["external_id"] == external and v["id"] != own for v in self.views.values()
        )

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._open_or_push(args, push=False)

    def _views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._open_or_push(args, push=True)

    def _open_or_push(self, args: dict[str, Any], *, push: bool) -> dict[str, Any]:
        view: Any = args.get("view")
        problems = self._view_problems(view, "modal")
        if problems:
            return self._refused(problems)
        with self._cond:
            trigger, error = self._exchange(args)
            if error == "invalid_arguments":
                return self._refused(["[ERROR] missing required field: trigger_id"])
            if trigger is None:
                return {"ok": False, "error": error}
            if self._duplicate_external_id(view):
                return {"ok": False, "error": "duplicate_external_id"}
            below = trigger.view_id if push else None
            stack = self._stacks.get(self.views[below]["root_view_id"], []) if below else []
            if push and below and len(stack) >= 3:
                return {"ok": False, "error": "push_limit_reached"}
            top = stack[-1] if stack else None
            root = self.views[top]["root_view_id"] if top else None
            stored = self._store(view, _slack_id("V"), root, top)
        return {"ok": True, "view": stored}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._cond:
            view_id = args.get("view_id")
            if not view_id and args.get("external_id"):
                found = [
                    v["id"] for v in self.views.values() if v["external_id"] == args["external_id"]
                ]
                view_id = found[0] if found else "unknown"
            if not view_id:
                return self._refused(["[ERROR] missing required field: view_id or external_id"])
            current = self.views.get(view_id)
            is_open = current is not None and (
                current["type"] == "home" or any(view_id in s for s in self._stacks.values())
            )
            if current is None or not is_open:
                return {"ok": False, "error": "not_found"}
            view: Any = args.get("view")
            problems = self._view_problems(view, current["type"])
            if problems:
                return self._refused(problems)
            if args.get("hash") and args["hash"] != current["hash"]:
                return {"ok": False, "error": "hash_conflict"}
            if self._duplicate_external_id(view, own=view_id):
                return {"ok": False, "error": "duplicate_external_id"}
            stored = self._store(
                view, view_id, current["root_view_id"], current["previous_view_id"]
            )
        return {"ok": True, "view": stored}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user_id") or "")
        if not user or user[0] not in "UW":
            return self._refused(["[ERROR] missing or invalid required field: user_id"])
        view: Any = args.get("view")
        problems = self._view_problems(view, "home")
        if problems:
            return self._refused(problems)
        with self._cond:
            home_id = self._homes.get(user)
            if args.get("hash") and home_id and args["hash"] != self.views[home_id]["hash"]:
                return {"ok": False, "error": "hash_conflict"}
            home_id = home_id or _slack_id("V")
            self._homes[user] = home_id
            stored = self._store(view, home_id, None, None)
        return {"ok": True, "view": stored}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("channel"):
            return {"ok": True, "channel": {"id": str(args["channel"])}}
        users = args.get("users") or ""
        users = users if isinstance(users, list) else str(users).split(",")
        users = [u.strip() for u in users if u.strip()]
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        if any(u[0] not in "UW" for u in users):
            return {"ok": False, "error": "user_not_found"}
        channel = "D" + users[0][1:] if len(users) == 1 else "G" + "".join(u[1:4] for u in users)
        return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": channel}}

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not self.socket_mode_url:
            return {"ok": False, "error": "not_allowed_token_type"}
        return {"ok": True, "url": self.socket_mode_url}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}


def _slack_id(prefix: str) -> str:
    return prefix + secrets.token_hex(5).upper()


def _with_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The blocks as Slack stores them: every block and interactive element gets an id
    (Slack makes up a short random one when the app gave none)."""
    stored = copy.deepcopy(blocks)
    for block in stored:
        block.setdefault("block_id", secrets.token_urlsafe(4))
        elements = [block.get("accessory"), block.get("element")]
        if block["type"] == "actions":
            elements += block.get("elements", [])
        for element in elements:
            if isinstance(element, dict) and element.get("type") != "image":
                element.setdefault("action_id", secrets.token_urlsafe(4))
    return stored


def main() -> None:
    """Run the fake on its own (``python -m tests.fakes.slack_api``); prints its API URL."""
    fake = FakeSlack()
    print(fake.api_url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        fake.server.serve_forever()


if __name__ == "__main__":
    main()
