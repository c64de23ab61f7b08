"""The herald CLI: the same pipeline as Slack, ids Slack accepts, clear exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import write_config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def test_send_prints_id_and_status_and_exits_zero(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--config", str(config), "send", "sandbox", "+31612345678", "Hello", "there"])

    out = capsys.readouterr().out.split()
    assert code == 0
    assert out[1:3] == ["accepted", "+31612345678"]
    message_id = out[0]

    assert main(["--config", str(config), "status", message_id]) == 0
    shown = capsys.readouterr().out
    assert message_id in shown and "accepted" in shown and "queued" in shown


def test_send_with_wait_follows_the_receipts_to_delivered(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--config", str(config), "send", "sandbox", "+31612345678", "Hi", "--wait", "5"])

    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert [line.split()[1] for line in lines] == ["accepted", "sent", "delivered"]


def test_refused_message_exits_one_with_the_reason(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--config", str(config), "send", "sandbox", "+31612340000", "Hi"])

    assert code == 1
    assert "numbers ending 0000 are scripted to be refused" in capsys.readouterr().out


def test_input_errors_exit_two_and_send_nothing(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "send", "sandbox", "0612345678", "Hi"]) == 2
    assert "needs its country code" in capsys.readouterr().err
    assert (
        main(["--config", str(config), "send", "sandbox", "+31612345678", "Hi", "--at", "9am"]) == 2
    )
    assert "not available yet" in capsys.readouterr().err


def test_console_script_and_python_m_bot_are_the_same_cli(config: Path) -> None:
    env = {**os.environ, "HERALD_CONFIG": str(config)}
    module = subprocess.run(
        [sys.executable, "-m", "bot", "send", "sandbox", "+31612345678", "Hi"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    script = Path(sys.executable).with_name("herald")
    helped = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, check=False, timeout=60
    )

    assert module.returncode == 0, module.stderr
    assert " accepted " in module.stdout
    assert helped.returncode == 0
    for command in ("serve", "send", "status", "jobs", "templates"):
        assert command in helped.stdout


def test_wait_follows_what_the_server_records_for_real_providers(tmp_path: Path) -> None:
    from bot.models import MessageStatus
    from bot.storage import Store
    from tests.conftest import FAST_SANDBOX
    from tests.providers.cases import load_cases
    from tests.test_providers_e2e import connection

    bird = next(c for c in load_cases() if c.name == "bird")
    with bird.fake() as fake:
        config = write_config(tmp_path, FAST_SANDBOX + connection("out", bird, fake))
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot",
                "--config",
                str(config),
                "send",
                "out",
                bird.recipient,
                "Hello",
                "--wait",
                "20",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline().split()
        assert first[1] == "accepted"

        store = Store(tmp_path / "herald.db")  # what herald serve does when Bird calls back
        store.set_status(first[0], MessageStatus.DELIVERED, source="bird")
        store.close()
        out, _ = proc.communicate(timeout=30)

    assert proc.returncode == 0
    assert out.split()[:2] == [first[0], "delivered"]
