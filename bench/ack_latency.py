"""How fast Slack gets its answer to a signed slash command.

Serves three apps with uvicorn on loopback (port 0) and sends each the same signed
slash commands one after another:

- plain:  a bare ASGI endpoint that answers 200 (the floor);
- bolt:   a bare Bolt AsyncApp whose listener only acks (Bolt's default mode);
- herald: ``herald serve``'s app doing a real quick send through the sandbox,
          with the receipts posted to a local fake Slack.

Each app is measured twice: *paced* (one request every 25 ms, as people type
commands: the background work of one send is done before the next arrives) and
*back-to-back* (each request also waits for the event loop to finish the
previous sends' provider calls and Slack posts, so it measures Herald's cost per
send rather than its ack). The fake Slack runs in its own process, as Slack is
not in Herald's process either. Prints p50/p99 in ms. Run: ``make bench``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import load_settings
from bot.server import create_app
from tests.fakes.slack_api import BOT_TOKEN
from tests.serving import ServerThread
from tests.slack_signing import SIGNING_SECRET, signed_headers, slash_body

WARMUP = 30
REQUESTS = 300
PACE_SECONDS = 0.025


async def plain_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive()).get("more_body"):
        pass
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]}
    )
    await send({"type": "http.response.body", "body": b""})


def bolt_app(slack: RemoteSlack) -> Starlette:
    app = AsyncApp(
        client=AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url),
        signing_secret=SIGNING_SECRET,
    )

    @app.command("/send")
    async def only_ack(ack: Any) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


def herald_app(slack: RemoteSlack, workdir: Path) -> Starlette:
    config = workdir / "herald.toml"
    config.write_text(
        '[storage]\npath = "herald.db"\n[connections.sandbox]\nprovider = "sandbox"\n'
        'channel = "sms"\nsent_after = 0.05\ndelivered_after = 0.1\n'
    )
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
    }
    return create_app(load_settings(env, config))


class RemoteSlack:
    """The fake Slack Web API in a child process."""

    def __enter__(self) -> RemoteSlack:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.slack_api"], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.api_url = self.proc.stdout.readline().strip()
        self.response_url = self.api_url.replace("/api/", "/response/T1/1/x")
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def measure(app: Any, slack: RemoteSlack, pace: float) -> list[float]:
    timings: list[float] = []
    with ServerThread(app) as server:
        # http.client writes headers and body in one send(), as Slack's own client does;
        # clients that write them apart meet Nagle + delayed ACK (40 ms) on loopback.
        http = HTTPConnection("127.0.0.1", server.port, timeout=10)
        for i in range(WARMUP + REQUESTS):
            # a new trigger_id each time, as Slack's: the same signed body twice is a replay
            body = slash_body(
                "sandbox +31612345678 Running 10 min late",
                response_url=slack.response_url,
                trigger_id=f"1334.{i}.{time.time_ns()}",
            )
            headers = signed_headers(body, "application/x-www-form-urlencoded")
            started = time.perf_counter()
            http.request("POST", "/slack/events", body=body, headers=headers)
            answer = http.getresponse()
            content = answer.read()
            elapsed = time.perf_counter() - started
            if answer.status != 200 or content:
                raise SystemExit(f"unexpected answer {answer.status}: {content[:200]!r}")
            if i >= WARMUP:
                timings.append(elapsed * 1000)
            if pace:
                time.sleep(pace)  # pacing the load generator, not waiting for a result
        http.close()
    return timings


def main() -> None:
    print(f"signed slash commands to each app, {REQUESTS} per run, milliseconds")
    print(f"{'app':<20}{'paced p50':>11}{'p99':>8}{'back-to-back p50':>18}{'p99':>8}")
    with RemoteSlack() as slack:
        for name, make in (
            ("plain ASGI 200", lambda _tmp: plain_app),
            ("bare Bolt ack", lambda _tmp: bolt_app(slack)),
            ("herald quick send", lambda tmp: herald_app(slack, tmp)),
        ):
            row = []
            for pace in (PACE_SECONDS, 0.0):
                with tempfile.TemporaryDirectory() as tmp:
                    q = statistics.quantiles(measure(make(Path(tmp)), slack, pace), n=100)
                row += [q[49], q[98]]
            print(f"{name:<20}{row[0]:>11.2f}{row[1]:>8.2f}{row[2]:>18.2f}{row[3]:>8.2f}")


if __name__ == "__main__":
    main()
