"""What the benchmarks share: Herald's config, its environment, a free port, the fake
Slack in a child process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.fakes.slack_api import BOT_TOKEN
from tests.slack_signing import SIGNING_SECRET

ROOT = Path(__file__).resolve().parent.parent
HERALD_CONFIG = """
[storage]
path = "herald.db"
[connections.sandbox]
provider = "sandbox"
channel = "sms"
sent_after = 0.05
delivered_after = 0.1
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def herald_env(api_url: str, workdir: Path) -> dict[str, str]:
    """The environment of a ``herald`` process on `HERALD_CONFIG` (written into
    ``workdir``), with Slack played by the fake at ``api_url``."""
    (workdir / "herald.toml").write_text(HERALD_CONFIG)
    return {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api_url,
        "HERALD_CONFIG": str(workdir / "herald.toml"),
        "PYTHONPATH": str(ROOT),
    }


def start_fake_slack() -> tuple[subprocess.Popen[str], str]:
    """The fake Slack Web API in a child process, as Slack is not in Herald's process."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.slack_api"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()
