"""Delivery for many: one send to ``COUNT`` recipients (default 10,000) through the Bird fake.

The Bird fake (``tests/fakes/bird_api.py``) and the fake Slack run in processes of their
own; each contender runs in a fresh process of its own, in the same run, against the
same fakes:

- ``raw``: a bare ``httpx.AsyncClient`` loop, ``LANES`` workers posting the requests
  Herald's Bird adapter builds (prebuilt) — the most this machine and fake can do;
- ``herald``: the send stored through the core (the send and its messages in one
  transaction, as ``Herald.submit`` stores one, without its recipient cap), then
  ``Herald.dispatch`` with the connection's ``max_concurrency = LANES``, receipts through
  the Slack layer's announcer, wired as ``herald serve`` wires it, to the fake Slack
  (``[receipts] individual_up_to = 5``: one summary receipt);
- ``herald, no announcer``: the same without Slack, to show the hand-over alone.

First with the fake answering at once: messages per second end to end (from the stored
send to the last acceptance) and that rate over the raw loop's (target ≥ 0.8; the raw
loop runs before and after Herald, the ratio is over their mean), each process's CPU
time per message, Herald's peak RSS (target < 200 MB) and the Slack calls made for the
send (target ≤ 60). Then with a provider that takes ``SLOW_SECONDS`` to answer, as real
ones do, where the requests in flight, not the CPU, set the pace.

Run: ``make bench`` (or ``python bench/bulk_send.py``; ``BENCH_COUNT``, ``BENCH_LANES``,
``BENCH_SLOW_COUNT``).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.processes import ROOT
from tests.fakes.slack_api import BOT_TOKEN
from tests.slack_signing import SIGNING_SECRET

COUNT = int(os.environ.get("BENCH_COUNT", "10000"))
LANES = int(os.environ.get("BENCH_LANES", "8"))
SLOW_COUNT = int(os.environ.get("BENCH_SLOW_COUNT", "2000"))
SLOW_SECONDS = 0.02  # a provider that takes 20 ms to answer, as real ones do
CHANNEL = "C0BENCH01"  # where the send's receipts go
SENDER = "U0BENCH01"
TEXT = "Your order A-1042 ships tomorrow"


def recipients(count: int) -> list[str]:
    return [f"+3161{index:07d}" for index in range(count)]


# -- the fakes, each in a process of its own ------------------------------------------------


def serve_fake(kind: str, latency: float) -> None:
    """A fake on its own: prints how to reach it (one JSON line), then answers ``count``
    (requests received) on stdin until stdin closes. Bird answers after ``latency``."""
    if kind == "bird":
        from tests.fakes.bird_api import BirdFake
        from tests.fakes.provider_fake import Recorded, Reply

        class Bird(BirdFake):
            def handle(self, request: Recorded) -> Reply:
                if latency:
                    time.sleep(latency)  # the provider's own time, in its handler thread
                return super().handle(request)

        fake: Any = Bird().start()
        print(
            json.dumps(
                {
                    "base_url": fake.base_url,
                    "access_key": fake.access_key,
                    "workspace_id": fake.workspace_id,
                    "channel_id": fake.channel_id,
                    "signing_key": fake.signing_key,
                }
            ),
            flush=True,
        )

        def count() -> int:
            return sum(1 for r in fake.requests if r.method == "POST")

    else:
        from tests.fakes.slack_api import FakeSlack

        fake = FakeSlack().start()
        print(json.dumps({"api_url": fake.api_url}), flush=True)

        def count() -> int:
            return len(fake.calls)

    # "Answering at once": the fakes write an answer's head and body separately, and
    # Nagle's algorithm would hold the body for the client's delayed ACK (40 ms each).
    fake.server.RequestHandlerClass.disable_nagle_algorithm = True
    for _ in sys.stdin:
        print(count(), flush=True)
    fake.stop()


class Fake:
    def __init__(self, kind: str, latency: float = 0.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "fake", kind, str(latency)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.info: dict[str, str] = json.loads(self.proc.stdout.readline())

    def count(self) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


# -- the contenders, each in a fresh process -------------------------------------------------


def config(bird: dict[str, str], workdir: Path, *, receipts: bool) -> str:
    keys = {k: v for k, v in bird.items() if k != "base_url"}
    lines = [
        "[storage]",
        f'path = "{workdir / "herald.db"}"',
        "[connections.bird]",
        'provider = "bird"',
        'channel = "sms"',
        f'base_url = "{bird["base_url"]}"',
        f"max_concurrency = {LANES}",
        *(f'{key} = "{value}"' for key, value in keys.items()),
    ]
    if receipts:
        lines += ["[receipts]", "individual_up_to = 5"]
    return "\n".join(lines) + "\n"


def herald_settings(bird: dict[str, str], workdir: Path, env: dict[str, str]) -> Any:
    """Settings with ``[receipts] individual_up_to = 5`` where Herald knows that section."""
    from bot.config.settings import load_settings
    from bot.errors import ConfigError

    path = workdir / "herald.toml"
    path.write_text(config(bird, workdir, receipts=True))
    try:
        return load_settings(env, path)
    except ConfigError:
        path.write_text(config(bird, workdir, receipts=False))
        return load_settings(env, path)


async def run_herald(bird: dict[str, str], slack_url: str | None, count: int) -> dict[str, Any]:
    from bot.models import Send, new_message_id
    from bot.sending.requests import SendRequest, build_messages
    from bot.services import Herald

    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    if slack_url:
        env["SLACK_API_URL"] = slack_url
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        settings = herald_settings(bird, workdir, env)
        herald = Herald(settings)
        if slack_url:
            from bot.slack.app import SlackApp

            slack = SlackApp(herald)  # wired as `herald serve` wires it
            herald.announcer = slack.announcer
            herald.directory = slack.directory
        await herald.start()
        try:
            request = SendRequest("bird", recipients(1), TEXT, SENDER, "slack", announce_to=CHANNEL)
            (first,) = build_messages(request, settings, herald.templates)
            messages = [
                replace(first, id=new_message_id(), recipient=to) for to in recipients(count)
            ]
            when = first.created_at
            send = Send(new_message_id(), SENDER, "slack", "bird", when, TEXT, announce_to=CHANNEL)
            _send, stored = await herald.db.add_send(send, messages, actor=SENDER, action="send")
            del messages
            began, wall, cpu = time.monotonic(), datetime.now(UTC), time.process_time()
            done = await herald.dispatch(stored)
            returned = time.monotonic() - began
            cpu = time.process_time() - cpu
            accepted = sum(1 for m in done if m.status.value == "accepted")
        finally:
            await herald.stop()
        with closing(sqlite3.connect(workdir / "herald.db")) as db:
            (last,) = db.execute(
                "SELECT MAX(at) FROM status_events WHERE status = 'accepted'"
            ).fetchone()
    to_last = (datetime.fromisoformat(last) - wall).total_seconds()
    return {
        "seconds": to_last,
        "returned": returned,
        "cpu": cpu,
        "accepted": accepted,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


async def run_raw(bird: dict[str, str], count: int) -> dict[str, Any]:
    """The same requests, prebuilt by Herald's Bird adapter, posted by ``LANES`` workers."""
    from bot.config.settings import load_settings
    from providers import Channel, OutboundMessage
    from providers.bird import build_payload, read_settings

    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        path = workdir / "herald.toml"
        path.write_text(config(bird, workdir, receipts=False))
        connection = load_settings({}, path).connections["bird"]
    settings = read_settings(connection)
    payloads = [
        build_payload(OutboundMessage(f"ref{index}", Channel.SMS, to, TEXT), settings)
        for index, to in enumerate(recipients(count))
    ]
    url = f"{bird['base_url']}/workspaces/{settings.workspace_id}/channels/{settings.channel_id}"
    url += "/messages"
    headers = {"Authorization": f"AccessKey {settings.access_key}", "Accept": "application/json"}
    answered = 0
    limits = httpx.Limits(max_connections=LANES, max_keepalive_connections=LANES)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        work = iter(payloads)

        async def worker() -> None:
            nonlocal answered
            for payload in work:
                response = await client.post(url, json=payload, headers=headers)
                answered += response.status_code == 202

        began, cpu = time.monotonic(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(LANES)))
        seconds, cpu = time.monotonic() - began, time.process_time() - cpu
    return {"seconds": seconds, "cpu": cpu, "accepted": answered}


def contender(kind: str, bird: dict[str, str], slack_url: str | None, count: int) -> dict[str, Any]:
    """Run one contender in a fresh process; its result."""
    args = [sys.executable, __file__, kind, json.dumps(bird), slack_url or "", str(count)]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=1800)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def line(name: str, result: dict[str, Any], count: int, raw_rate: float) -> None:
    rate = count / result["seconds"]
    cells = [
        f"  {name:<26} {rate:7,.0f} msg/s",
        f"{result['seconds']:6.2f} s",
        f"{rate / raw_rate:4.2f} of raw",
        f"CPU {result['cpu'] / count * 1e6:5.0f} us/msg",
    ]
    if "rss_mb" in result:
        cells.append(f"peak RSS {result['rss_mb']:.0f} MB")
    if result["accepted"] != count:
        cells.append(f"ONLY {result['accepted']:,} ACCEPTED")
    print(" · ".join(cells))


def at_once() -> None:
    bird, slack = Fake("bird"), Fake("slack")
    try:
        print(f"{COUNT:,} recipients, the Bird fake answering at once, {LANES} requests in flight")
        before = contender("raw", bird.info, None, COUNT)
        calls = slack.count()
        announced = contender("herald", bird.info, slack.info["api_url"], COUNT)
        slack_calls = slack.count() - calls
        quiet = contender("herald", bird.info, None, COUNT)
        after = contender("raw", bird.info, None, COUNT)
    finally:
        bird.stop()
        slack.stop()
    raw_rate = COUNT / ((before["seconds"] + after["seconds"]) / 2)
    line("raw httpx loop (before)", before, COUNT, raw_rate)
    line("raw httpx loop (after)", after, COUNT, raw_rate)
    line("Herald, Slack receipts", announced, COUNT, raw_rate)
    line("Herald, no announcer", quiet, COUNT, raw_rate)
    print(
        f"  Slack calls for the send: {slack_calls:,} (target ≤ 60; receipts all shown "
        f"{announced['returned'] - announced['seconds']:.1f} s after the last acceptance)"
    )


def slow_provider() -> None:
    bird = Fake("bird", SLOW_SECONDS)
    try:
        print(
            f"{SLOW_COUNT:,} recipients, the Bird fake answering after "
            f"{SLOW_SECONDS * 1000:.0f} ms, {LANES} requests in flight"
        )
        raw = contender("raw", bird.info, None, SLOW_COUNT)
        herald = contender("herald", bird.info, None, SLOW_COUNT)
    finally:
        bird.stop()
    raw_rate = SLOW_COUNT / raw["seconds"]
    line("raw httpx loop", raw, SLOW_COUNT, raw_rate)
    line("Herald, no announcer", herald, SLOW_COUNT, raw_rate)


def main() -> None:
    at_once()
    slow_provider()


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "fake":
        serve_fake(sys.argv[2], float(sys.argv[3]))
    elif len(sys.argv) > 4 and sys.argv[1] == "raw":
        print(json.dumps(asyncio.run(run_raw(json.loads(sys.argv[2]), int(sys.argv[4])))))
    elif len(sys.argv) > 4 and sys.argv[1] == "herald":
        bird, slack, count = json.loads(sys.argv[2]), sys.argv[3] or None, int(sys.argv[4])
        print(json.dumps(asyncio.run(run_herald(bird, slack, count))))
    else:
        os.chdir(ROOT)
        main()
