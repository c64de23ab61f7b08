"""Slack's ack while the database is busy: concurrent slash commands beside ``herald send``s.

Starts ``herald serve`` as its own process (on the sandbox, receipts to a fake Slack
in another process), keeps ``WRITERS`` ``herald send`` processes writing to the same
SQLite file in a loop, and fires ``REQUESTS`` signed slash commands at once. Prints
the ack latencies (p50, p99, worst), how many took longer than Slack's 3 s, and
whether every acknowledged send is stored. Run: ``make bench``.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.processes import free_port, herald_env, start_fake_slack
from tests.slack_signing import signed_headers, slash_body

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "500"))
WRITERS = int(os.environ.get("BENCH_WRITERS", "8"))
RECIPIENTS_PER_CLI_SEND = 20
SLACK_DEADLINE = 3.0


def wait_until_up(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # polling a child process's startup, not waiting for a result
    raise SystemExit("herald serve did not start")


def cli_writer(env: dict[str, str], workdir: Path) -> subprocess.Popen[bytes]:
    """One process that runs ``herald send`` to many recipients, again and again."""
    numbers = ",".join(f"+3161234{n:04d}" for n in range(RECIPIENTS_PER_CLI_SEND))
    loop = (
        "while true; do "
        f"{sys.executable} -m bot send sandbox {numbers} 'load from the CLI' >/dev/null 2>&1; "
        "done"
    )
    return subprocess.Popen(["bash", "-c", loop], env=env, cwd=workdir, start_new_session=True)


async def fire(port: int, response_url: str) -> list[float]:
    """All slash commands at once, each on its own connection, as Slack sends them; the
    latency of each ack in seconds (negative: answered in words, e.g. "busy").

    Plain asyncio streams: an HTTP client library would spend more CPU than Herald."""

    async def one(i: int) -> float:
        body = slash_body(
            f"sandbox +3161111{i:04d} Load test {i}",
            response_url=response_url,
            channel_id=f"C{i:06d}",
        )
        headers = signed_headers(body, "application/x-www-form-urlencoded")
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = (
            f"POST /slack/events HTTP/1.1\r\nhost: 127.0.0.1\r\n{head}"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        ).encode() + body
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        answer = await reader.read()
        elapsed = time.perf_counter() - started
        writer.close()
        status, _, rest = answer.partition(b"\r\n")
        if b" 200 " not in status:
            raise SystemExit(f"unexpected answer {status!r}")
        content = rest.partition(b"\r\n\r\n")[2]
        return elapsed if not content else -elapsed

    return list(await asyncio.gather(*(one(i) for i in range(REQUESTS))))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        slack, api_url = start_fake_slack()
        env = herald_env(api_url, workdir)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        writers: list[subprocess.Popen[bytes]] = []
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_up(url, time.monotonic() + 30)
            writers = [cli_writer(env, workdir) for _ in range(WRITERS)]
            time.sleep(3)  # let the writers get going: the load is what is measured
            timings = asyncio.run(fire(port, api_url.replace("/api/", "/response/T1/1/x")))
        finally:
            for writer in writers:
                os.killpg(writer.pid, 15)
            server.terminate()
            server.wait(timeout=30)
            slack.terminate()
            slack.wait(timeout=10)
        db = sqlite3.connect(workdir / "herald.db")
        stored = db.execute("SELECT count(*) FROM messages WHERE sender = 'U2147483697'").fetchone()
        cli = db.execute("SELECT count(*) FROM messages WHERE origin = 'cli'").fetchone()
    acked = [t for t in timings if t >= 0]
    busy = len(timings) - len(acked)
    every = sorted(abs(t) * 1000 for t in timings)
    q = statistics.quantiles(every, n=100, method="inclusive")
    print(f"{REQUESTS} concurrent slash commands beside {WRITERS} `herald send` writers (ms)")
    print(f"p50 {q[49]:.0f}   p99 {q[98]:.0f}   worst {every[-1]:.0f}")
    print(f"over {SLACK_DEADLINE:.0f} s: {sum(1 for t in every if t > SLACK_DEADLINE * 1000)}")
    print(f"acknowledged and stored: {len(acked)} acked, {stored[0]} stored")
    print(f"answered 'busy, nothing sent': {busy}; CLI messages written meanwhile: {cli[0]}")


if __name__ == "__main__":
    main()
