"""``herald templates list|render|check``: the message templates, their variables, the
text one gives and its SMS cost."""

from __future__ import annotations

import sys

from bot.cli.output import EXIT_FAILED
from bot.config.settings import Settings
from bot.errors import InputError
from bot.sending.requests import parse_variable
from bot.templating.library import TemplateLibrary


def templates_command(settings: Settings, action: str, name: str | None, pairs: list[str]) -> int:
    library = TemplateLibrary(settings.templates_dir)
    if action == "check":
        names = library.names()
        problems = library.check()
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(names)} template(s) in {settings.templates_dir}: {len(problems)} problem(s)")
        return EXIT_FAILED if problems else 0
    if action == "list":
        for info in (library.info(n) for n in library.names()):
            needs = ", ".join(v for v in info.variable_order if v in info.variables)
            channels = ",".join(sorted(c.value for c in info.channels))
            print(f"{info.name:<24} {channels:<22} needs: {needs or '-'}")
            if info.description:
                print(f"{'':<24} {info.description}")
        return 0
    if not name:
        raise InputError(
            "herald templates render needs a template name",
            code="command_usage",
            fields=("template",),
        )
    info = library.info(name)
    rendered = library.render(name, {**info.samples, **dict(parse_variable(v) for v in pairs)})
    if rendered.subject:
        print(f"Subject: {rendered.subject}")
    print(rendered.text)
    print(f"-- SMS: {rendered.sms.summary()}", file=sys.stderr)
    return 0
