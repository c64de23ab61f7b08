"""The compose form's answers to Slack: how long a redraw and a submission take.

Runs the real server (in a thread, on port 0) against the fake Slack, opens the form with
``/send`` and, as Slack's client would, changes the connection (a ``block_actions``:
acked, then the view redrawn with ``views.update``) and submits it (``view_submission``:
checked, stored, answered). Prints, in milliseconds, p50 / p95 / worst of: the ack of a
change, the time until its redraw reached Slack, and the answer to a submission for one
recipient, for 25, and for a 500-row ``@list`` (the biggest stored before the answer).
Slack waits 3 s for each answer. Run: ``make bench``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.slack import ids
from tests.conftest import RunningHerald, run_herald, settings_for
from tests.fakes.slack_api import HUMAN_USER, FakeSlack
from tests.interactivity import Form, block_actions_body, view_submission_body

ROUNDS = 40
LIST_ROWS = 500


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return (time.perf_counter() - started) * 1000, result


def until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.001)  # polling the fake for the redraw, with a deadline
    raise SystemExit("timed out")


def open_form(running: RunningHerald) -> Form:
    before = len(running.slack.calls_to("views.open"))
    running.slash("", trigger_id=running.slack.issue_trigger())
    until(lambda: len(running.slack.calls_to("views.open")) > before)
    view = until(lambda: running.slack.latest_view(ids.COMPOSE_VIEW))
    return Form(view)


def round_trip(running: RunningHerald, to: str) -> tuple[float, float, float]:
    """One form: a change (its ack, its redraw) and its submission's answer."""
    form = open_form(running)
    form.choose("Connection", "sandbox")
    before = running.slack.view(form.view_id)["hash"]
    ack, answer = timed(lambda: running.interact(block_actions_body(running.slack, form)))
    assert answer.status_code == 200
    started = time.perf_counter()
    until(lambda: running.slack.view(form.view_id)["hash"] != before)
    redraw = (time.perf_counter() - started) * 1000 + ack
    form.follow(running.slack)
    form.fill("To", to).fill("Message", "Your order ships tomorrow")
    submitted, answer = timed(lambda: running.interact(view_submission_body(running.slack, form)))
    errors = running.slack.settle_submission(form.view_id, answer.text)
    assert answer.status_code == 200 and errors is None, errors
    return ack, redraw, submitted


def line(name: str, values: list[float]) -> str:
    q = statistics.quantiles(values, n=20, method="inclusive")
    p50, p95, worst = statistics.median(values), q[18], max(values)
    return f"{name:<34} p50 {p50:7.1f}   p95 {p95:7.1f}   worst {worst:7.1f}"


def main() -> None:
    fake = FakeSlack().start()
    fake.users[HUMAN_USER] = {"id": HUMAN_USER, "name": "alice", "tz": "Europe/Amsterdam"}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            lists = workdir / "lists"
            lists.mkdir()
            # the sandbox refuses numbers ending 0429 (a scripted rate limit): none here
            rows = "\n".join(f"+3161{n:07d}" for n in range(1000, 1000 + LIST_ROWS))
            (lists / "customers.csv").write_text(f"to\n{rows}\n")
            body = f'[lists]\ndir = "{lists}"\n' + (
                '[connections.sandbox]\nprovider = "sandbox"\nchannel = "sms"\n'
            )
            settings = settings_for(workdir, fake, body=body)
            for running in run_herald(settings, fake):
                cases = {
                    "1 recipient": "+31612345678",
                    "25 recipients": ", ".join(f"+3161234{n:04d}" for n in range(25)),
                    f"@customers ({LIST_ROWS} rows)": "@customers",
                }
                acks: list[float] = []
                redraws: list[float] = []
                answers: dict[str, list[float]] = {name: [] for name in cases}
                for _ in range(ROUNDS):
                    for name, to in cases.items():
                        ack, redraw, submitted = round_trip(running, to)
                        acks.append(ack)
                        redraws.append(redraw)
                        answers[name].append(submitted)
    finally:
        fake.stop()
    print(f"compose form, {ROUNDS} rounds per case (ms; Slack waits 3,000)")
    print(line("change: ack", acks))
    print(line("change: redrawn (views.update)", redraws))
    for name, values in answers.items():
        print(line(f"submit, {name}", values))


if __name__ == "__main__":
    main()
