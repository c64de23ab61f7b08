"""How fast Slack gets its answer to a signed slash command, side by side with the floor.

Serves three apps, each with uvicorn in its own process on loopback:

- plain:  a bare ASGI endpoint that answers 200 (the floor);
- bolt:   a bare Bolt AsyncApp whose listener only acks (Bolt's default mode);
- herald: ``herald serve`` doing a real quick send through the sandbox (the message is
          stored before the ack), with the receipts posted to a local fake Slack.

*Paced*: one request to each app in turn, then a pause of 25 ms (people type commands;
the background work of one send is done before the next arrives). The apps are measured
in the same rounds, so whatever the machine does meanwhile (CPU frequency, wake-up
latency after the pause) weighs on all three alike, and the ratio to the floor is fair.
*Back-to-back*: each app on its own, one request right after the other, so it also pays
for the previous sends' provider calls and Slack posts (Herald's cost per send rather
than its ack). Prints p50/p99 in ms and Herald's paced p50 over the floor's. Run:
``make bench``.
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.processes import free_port, herald_env, start_fake_slack
from tests.fakes.slack_api import BOT_TOKEN
from tests.slack_signing import SIGNING_SECRET, signed_headers, slash_body

WARMUP = 30
REQUESTS = 300
PACE_SECONDS = 0.025
APPS = ("plain ASGI 200", "bare Bolt ack", "herald quick send")


# -- the apps, each served in a child process (``--serve NAME PORT``) -------------


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


def bolt_app(api_url: str) -> Any:
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    app = AsyncApp(
        client=AsyncWebClient(token=BOT_TOKEN, base_url=api_url),
        signing_secret=SIGNING_SECRET,
    )

    @app.command("/send")
    async def only_ack(ack: Any) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


def serve(name: str, port: int, api_url: str) -> None:
    import uvicorn

    app: Any = plain_app if name == "plain" else bolt_app(api_url)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- the measuring side -----------------------------------------------------------


@contextmanager
def running(name: str, api_url: str, workdir: Path) -> Iterator[int]:
    port = free_port()
    env = herald_env(api_url, workdir)
    if name == "herald":
        command = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(port)]
    else:
        command = [sys.executable, __file__, "--serve", name, str(port), api_url]
    proc = subprocess.Popen(
        command, env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit(f"{name} did not start") from None
                time.sleep(0.05)  # polling a child process's startup
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class Client:
    """One keep-alive connection, as Slack keeps one; a new trigger_id on every request
    (the same signed body twice would be a replay)."""

    def __init__(self, port: int, response_url: str) -> None:
        # http.client writes headers and body in one send(), as Slack's own client does;
        # clients that write them apart meet Nagle + delayed ACK (40 ms) on loopback.
        self.http = HTTPConnection("127.0.0.1", port, timeout=10)
        self.response_url = response_url
        self.sent = 0

    def ack_ms(self) -> float:
        self.sent += 1
        body = slash_body(
            "sandbox +31612345678 Running 10 min late",
            response_url=self.response_url,
            trigger_id=f"1334.{self.sent}.{time.time_ns()}",
        )
        headers = signed_headers(body, "application/x-www-form-urlencoded")
        started = time.perf_counter()
        self.http.request("POST", "/slack/events", body=body, headers=headers)
        answer = self.http.getresponse()
        content = answer.read()
        elapsed = time.perf_counter() - started
        if answer.status != 200 or content:
            raise SystemExit(f"unexpected answer {answer.status}: {content[:200]!r}")
        return elapsed * 1000


def p50_p99(timings: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(timings, n=100, method="inclusive")
    return q[49], q[98]


def main() -> None:
    slack, api_url = start_fake_slack()
    response_url = api_url.replace("/api/", "/response/T1/1/x")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            with (
                running("plain", api_url, workdir) as plain,
                running("bolt", api_url, workdir) as bolt,
                running("herald", api_url, workdir) as herald,
            ):
                clients = [Client(port, response_url) for port in (plain, bolt, herald)]
                paced: list[list[float]] = [[], [], []]
                for i in range(WARMUP + REQUESTS):
                    for k in range(3):  # a different app first in each round
                        j = (i + k) % 3
                        elapsed = clients[j].ack_ms()
                        if i >= WARMUP:
                            paced[j].append(elapsed)
                    time.sleep(PACE_SECONDS)  # pacing the load generator
                back_to_back = []
                for client in clients:
                    for _ in range(WARMUP):
                        client.ack_ms()
                    back_to_back.append([client.ack_ms() for _ in range(REQUESTS)])
    finally:
        slack.terminate()
        slack.wait(timeout=10)
    print(f"signed slash commands to each app, {REQUESTS} per run, milliseconds")
    print(f"{'app':<20}{'paced p50':>11}{'p99':>8}{'back-to-back p50':>18}{'p99':>8}")
    for name, side, alone in zip(APPS, paced, back_to_back, strict=True):
        (a, b), (c, d) = p50_p99(side), p50_p99(alone)
        print(f"{name:<20}{a:>11.2f}{b:>8.2f}{c:>18.2f}{d:>8.2f}")
    ratio = p50_p99(paced[2])[0] / p50_p99(paced[0])[0]
    print(f"herald's paced p50 is {ratio:.2f}x the plain endpoint's")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
