"""The herald CLI: the same pipeline as Slack, ids Slack accepts, clear exit codes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import write_config
from tests.serving import run_cli


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
    past = ["--at", "2020-01-01", "09:00"]
    assert main(["--config", str(config), "send", "sandbox", "+31612345678", "Hi", *past]) == 2
    assert "--at: that time was" in capsys.readouterr().err


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
    from bot.storage.store import Store
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
        asyncio.run(store.set_status(first[0], MessageStatus.DELIVERED, source="bird"))
        store.close()
        out, _ = proc.communicate(timeout=30)

    assert proc.returncode == 0
    assert out.split()[:2] == [first[0], "delivered"]


CONFIG_FILES_THAT_CANNOT_BE_READ = {
    # Latin-1 "é" (0xe9) where UTF-8 is expected, on line 2
    "not-utf8": lambda p: p.write_bytes(b'[slack]\ncommand = "/envi\xe9"\n'),
    "not-toml": lambda p: p.write_text("[connections.a\nprovider = 'sandbox'\n"),
    "a-directory": lambda p: p.mkdir(),
}
CONFIG_FILE_PROBLEMS = {
    "not-utf8": "line 2 is not UTF-8 text (byte 0xe9); save the file as UTF-8",
    "not-toml": "not valid TOML",
    "a-directory": "is a directory",
}


@pytest.mark.parametrize("command", [["serve"], ["send", "a", "+31612345678", "Hi"]])
@pytest.mark.parametrize("kind", list(CONFIG_FILES_THAT_CANNOT_BE_READ))
def test_a_config_file_that_cannot_be_read_stops_the_cli_in_one_line(
    tmp_path: Path, command: list[str], kind: str
) -> None:
    path = tmp_path / "herald.toml"
    CONFIG_FILES_THAT_CANNOT_BE_READ[kind](path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HERALD_"))}

    done = run_cli("--config", str(path), *command, env=env)

    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # no traceback
    assert lines[0].startswith("herald: ") and str(path) in lines[0]
    assert CONFIG_FILE_PROBLEMS[kind] in lines[0]
    assert done.stdout == ""


def test_a_config_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    from bot.config.settings import load_settings

    path = tmp_path / "herald.toml"
    path.write_bytes(b'\xef\xbb\xbf[connections.a]\nprovider = "sandbox"\nchannel = "sms"\n')

    assert list(load_settings({}, path).connections) == ["a"]


@pytest.mark.parametrize(
    "path",
    [
        "/webhooks/sandbox?token=hook-s3cret",
        "/webhooks/sandbox?a=1&token=hook-s3cret",
        "/webhooks/sandbox?%74oken=hook-s3cret",  # the server decodes it: a token too
        "/webhooks/sandbox?Token=hook-s3cret&b=2",
    ],
)
def test_access_log_lines_never_carry_a_webhook_token(path: str) -> None:
    import logging

    from bot.cli import redact_tokens

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", path, "1.1", 200),
        None,
    )

    assert redact_tokens(record) is True
    shown = record.getMessage()
    assert "hook-s3cret" not in shown and "=[redacted]" in shown
    assert "/webhooks/sandbox?" in shown


def test_serve_logging_keeps_request_urls_of_httpx_out_of_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    import httpx

    from bot.cli import _configure_logging

    levels = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    caplog.set_level(logging.INFO)  # what `herald serve` logs at
    url = "https://api.example.com/v1/messages?api_key=k3y-in-a-url"
    try:
        _configure_logging("serve")
        transport = httpx.MockTransport(lambda request: httpx.Response(202))
        with httpx.Client(transport=transport) as client:
            assert client.post(url).status_code == 202
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)

    assert "k3y-in-a-url" not in caplog.text
    assert not [r for r in caplog.records if r.name.startswith(("httpx", "httpcore"))]


def test_a_send_to_several_says_the_sends_id_to_follow_up(tmp_path: Path) -> None:
    from tests.conftest import FAST_SANDBOX
    from tests.providers.cases import load_cases
    from tests.test_providers_e2e import connection

    bird = next(c for c in load_cases() if c.name == "bird")
    with bird.fake() as fake:
        config = write_config(tmp_path, FAST_SANDBOX + connection("out", bird, fake))
        env = {**os.environ, "HERALD_CONFIG": str(config)}
        sent = run_cli("send", "out", "+31612345678,+31612345679", "Hello", env=env)
        follow_up = sent.stderr.strip().rsplit(" ", 1)[-1]
        status = run_cli("status", follow_up, env=env)

    assert sent.returncode == 0, sent.stderr
    assert "Follow up: herald status " in sent.stderr
    assert "+31612345678" in status.stdout and "+31612345679" in status.stdout


def test_wait_prints_each_status_once(tmp_path: Path) -> None:
    from tests.conftest import FAST_SANDBOX

    config = write_config(tmp_path, FAST_SANDBOX)
    env = {**os.environ, "HERALD_CONFIG": str(config)}

    sent = run_cli("send", "sandbox", "+31612345678", "Hello", "--wait", "10", env=env)

    lines = [line.split()[:2] for line in sent.stdout.splitlines()]
    assert sent.returncode == 0, sent.stderr
    assert [status for _, status in lines] == ["accepted", "sent", "delivered"]


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["send", "sandbox", "+31612345678", "hi", "--wait", "nan"], "give 0 to 3600 seconds"),
        (["send", "sandbox", "+31612345678", "hi", "--wait", "-1"], "give 0 to 3600 seconds"),
        (["serve", "--port", "99999"], "is not a port"),
        (["serve", "--port", "http"], "is not a port"),
    ],
)
def test_numbers_on_the_command_line_are_checked(
    args: list[str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(args)

    assert stopped.value.code == 2
    assert problem in capsys.readouterr().err


@pytest.mark.parametrize("command", [["serve"], ["send", "a", "+31612345678", "Hi"]])
def test_a_config_file_it_may_not_read_stops_the_cli_in_one_line(
    tmp_path: Path,
    command: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Tests run as root here, and root reads a file whatever its mode, so the refusal the
    # file system would give anyone else is raised where the config is read.
    path = tmp_path / "herald.toml"
    path.write_text('[connections.a]\nprovider = "sandbox"\nchannel = "sms"\n')
    refused = PermissionError(13, "Permission denied", str(path))
    original = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self == path:
            raise refused
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes, raising=True)
    monkeypatch.setenv("HERALD_DB", str(tmp_path / "h.db"))

    code = main(["--config", str(path), *command])

    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert lines == [f"herald: {path}: cannot read it: Permission denied"]


@pytest.mark.parametrize(
    ("path", "status", "kept"),
    [
        ("/slack/events", 401, False),  # Herald logged the refusal, with its reason
        ("/webhooks/sandbox?token=x", 400, False),
        ("/slack/events", 200, True),
        ("/healthz", 503, True),
        ("/nope", 404, True),
    ],
)
def test_a_refused_request_is_one_log_line(path: str, status: int, kept: bool) -> None:
    import logging

    from bot.cli import one_line_per_refusal

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", path, "1.1", status),
        None,
    )

    assert one_line_per_refusal(record) is kept
