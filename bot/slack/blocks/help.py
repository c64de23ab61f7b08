"""Help and guidance: the command's help, the templates and a template's preview, and the
private answer to a command or button that could not be done."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.slack.blocks.mrkdwn import CHANNEL_LABEL, esc
from bot.templating.library import Rendered, TemplateInfo
from providers import ConnectionConfig


def help_text(command: str, connections: Mapping[str, ConnectionConfig]) -> str:
    names = ", ".join(
        f"`{name}` ({CHANNEL_LABEL[config.channel]})" for name, config in connections.items()
    )
    example = next(iter(connections), "sandbox")
    return "\n".join(
        [
            "*Send a message*",
            f"`{command} {example} +31612345678 Running 10 min late` — send now",
            f"`{command} {example} +31612345678,+4915112345678 Hello` — several recipients",
            f"`{command} {example} @customers --template order_delayed` — everyone on the list "
            "`customers.csv`, each message filled from its row",
            f"`{command} {example} +31612345678 --template order_delayed --var order=A-1042 …` "
            "— send a template",
            "Options after the recipient: `--template NAME` with `--var KEY=VALUE` (repeat), "
            "`--subject TEXT` (e-mail), `--media URL` (MMS, WhatsApp, e-mail).",
            "",
            "*Send later, or again and again*",
            f"`{command} {example} +31612345678 Doors open at 10 --at tomorrow 9am` — send later",
            f"`{command} {example} +31612345678 Standup in 5 --every weekdays 08:55 "
            "--until 2026-12-31` — repeat (each time gets its own receipt)",
            "`--at WHEN`: `in 10m`, `in 2h`, `tomorrow 9am`, `monday 09:00`, "
            "`2026-12-01 09:00` (in your Slack time zone) or ISO 8601 with an offset.",
            "`--every RULE`: `daily 09:00`, `weekdays 09:00`, `mon,thu 09:00`, "
            "`monthly 1 09:00` (day of the month) or a cron expression such as "
            '`"0 9 * * 1-5"`; with `--at`, not before then. `--until DATE` ends it.',
            "`--at`, `--every` and `--until` take every word up to the next option: write "
            'the message before them, or quote the time (`--at "tomorrow 9am" Doors open`).',
            "",
            "*Follow up*",
            f"`{command} list` — what you scheduled; `{command} list --all` — everyone's",
            f"`{command} cancel ID` — a scheduled message, every waiting message of a send, "
            "or a repeating send (no further times)",
            f"`{command} reschedule ID WHEN` — move it (a repeating send: its next time)",
            f"`{command} status ID` — status and history of a message (the #… in its "
            "receipt), of every message of a send to several recipients, or of a repeating "
            "send",
            f"`{command} templates` — the templates and their variables; "
            f"`{command} templates NAME` previews one",
            f"`{command} help` — this help",
            "",
            f"*Connections*: {names}",
            "Phone numbers need the country code (+31…). Receipts appear in this channel and "
            "update as the message moves: scheduled → accepted → sent → delivered.",
        ]
    )


def templates_text(templates: Sequence[TemplateInfo], command: str) -> str:
    if not templates:
        return "There are no templates yet. Add `NAME.j2` files to the templates directory."
    usage = f"{command} CONNECTION RECIPIENT --template NAME --var KEY=VALUE …"
    lines = [f"*Templates* — send one with `{usage}`"]
    for info in templates:
        channels = ", ".join(sorted(c.value for c in info.channels))
        needs = " ".join(f"`{v}`" for v in info.variable_order if v in info.variables)
        about = f" — {esc(info.description)}" if info.description else ""
        lines.append(f"• `{info.name}`{about}\n      {channels} · needs {needs or 'nothing'}")
    lines.append(f"`{command} templates NAME` shows a preview with sample values.")
    return "\n".join(lines)


def template_preview_text(info: TemplateInfo, rendered: Rendered, command: str) -> str:
    example = " ".join(f"--var {k}={_quote(v)}" for k, v in info.samples.items())
    lines = [f"*{info.name}*" + (f" — {esc(info.description)}" if info.description else "")]
    if rendered.subject:
        lines.append(f"Subject: *{esc(rendered.subject)}*")
    lines += ["> " + esc(line) for line in rendered.text.splitlines() or [""]]
    lines.append(f"SMS: {rendered.sms.summary()}")
    lines.append(f"`{command} CONNECTION RECIPIENT --template {info.name} {example}`".rstrip())
    return "\n".join(lines)


def _quote(value: str) -> str:
    return f'"{value}"' if any(c.isspace() for c in value) or not value else value


def error_text(problem: str, command: str, *, was_send: bool) -> str:
    """The ephemeral answer to a command that could not be done; ``problem`` is plain text
    (a typed value such as ``<!here>`` or ``+<country>`` is shown, never read as markup)."""
    nothing = "Nothing was sent. " if was_send else ""
    return f":warning: {esc(problem)}\n{nothing}`{command} help` shows the commands."


def action_error_text(problem: str) -> str:
    """The private answer to a button that could not do what it says."""
    return f":warning: {esc(problem)}"
