"""The errors of message templates (exported by `bot.templating.library`).

Every message names the template and says what to fix in a sentence or two, in
plain words (the CLI and the slash command phrase them in options, `bot.options`).
Each class has its own ``code``; ``fields`` is ``("template",)``, or
``("variables",)`` when the fix is in the variables given; ``details`` always
holds the ``template`` name.

    bot.errors.InputError
    └── RenderingError                  any problem with a template
        ├── TemplateNotFoundError       no such template (also a LookupError); suggests close names
        ├── TemplateHeaderError         the TOML header is invalid; file, line and what is wrong
        ├── TemplateSyntaxError         the Jinja is invalid; file, line and what is wrong
        ├── UnsafeTemplateError         the template reaches for Python internals (sandbox)
        ├── TemplateChannelError        the template is not meant for this channel
        ├── VariablesError              ``.missing`` and ``.unknown`` name the variables
        │   ├── MissingVariablesError   variables the template needs were not given
        │   └── UnknownVariablesError   variables the template does not use were given (typos)
        ├── TemplateValueError          a filter cannot use a value (a date, time zone or amount)
        └── TemplateRenderError         anything else that stops rendering, or an empty message
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

import jinja2

from bot.errors import Code, Detail, Field, InputError
from bot.suggest import close_names, closest

FIX_TEMPLATE = "Fix the template file and try again."
NO_VARIABLES = "It takes no variables; leave them out."


class RenderingError(InputError):
    """A message template cannot be used as asked; nothing was sent."""

    CODE: ClassVar[Code] = "template_render_failed"
    FIELDS: ClassVar[tuple[Field, ...]] = ("template",)

    def __init__(self, message: str, *, template: str, **details: Detail) -> None:
        super().__init__(message, code=self.CODE, fields=self.FIELDS, template=template, **details)
        self.template = template


class TemplateNotFoundError(RenderingError, LookupError):
    """No template has that name; the message suggests the closest names."""

    CODE = "template_not_found"

    @classmethod
    def suggesting(cls, name: str, names: Sequence[str], directory: str) -> TemplateNotFoundError:
        close = close_names(name, names, n=3)
        if close:
            hint = f"Did you mean {' or '.join(repr(c) for c in close)}?"
        elif names:
            hint = f"The templates are {', '.join(names)}."
        else:
            hint = f"There are no templates in {directory} yet."
        return cls(
            f"There is no template '{name}'. {hint}",
            template=name,
            suggestions=tuple(close),
            choices=tuple(names),
        )


class TemplateHeaderError(RenderingError):
    """The TOML header at the top of the template file is invalid."""

    CODE = "template_header_invalid"


class TemplateSyntaxError(RenderingError):
    """The template is not valid Jinja; the message names the file and line."""

    CODE = "template_syntax_invalid"

    @classmethod
    def from_jinja(cls, name: str, exc: jinja2.TemplateSyntaxError) -> TemplateSyntaxError:
        problem = str(exc.message).rstrip(".")
        return cls(f"{exc.filename}, line {exc.lineno}: {problem}. {FIX_TEMPLATE}", template=name)


class UnsafeTemplateError(RenderingError):
    """The template tried to reach Python internals, which the sandbox refuses."""

    CODE = "template_unsafe"


class TemplateChannelError(RenderingError):
    """The template's ``channels`` do not include the channel it is sent on."""

    CODE = "template_channel_mismatch"
    FIELDS = ("template", "connection")


class VariablesError(RenderingError):
    """The variables given do not match the template's; ``missing`` and ``unknown`` name them."""

    FIELDS = ("variables",)

    def __init__(
        self,
        message: str,
        *,
        template: str,
        missing: Iterable[str],
        unknown: Iterable[str],
        **details: Detail,
    ) -> None:
        self.missing = tuple(missing)
        self.unknown = tuple(unknown)
        super().__init__(
            message, template=template, missing=self.missing, unknown=self.unknown, **details
        )


class MissingVariablesError(VariablesError):
    """Variables the template needs were not given; ``details["examples"]`` holds a
    sample value for each (``""`` where the template has none)."""

    CODE = "template_variables_missing"

    @classmethod
    def naming(
        cls, template: str, missing: Sequence[str], samples: Mapping[str, str]
    ) -> MissingVariablesError:
        examples = tuple(samples.get(v, "") for v in missing)
        example = ", ".join(f"{v}={x or '…'}" for v, x in zip(missing, examples, strict=True))
        return cls(
            f"{needs_variables(template, missing)} Add {'it' if len(missing) == 1 else 'them'}, "
            f"e.g. {example}",
            template=template,
            missing=missing,
            unknown=(),
            examples=examples,
        )


class UnknownVariablesError(VariablesError):
    """Variables the template does not use were given (often a typo); ``details`` holds
    the ``known`` variables and, for each unknown one, its closest in ``suggestions``."""

    CODE = "template_variables_unknown"

    @classmethod
    def naming(
        cls, template: str, unknown: Sequence[str], missing: Sequence[str], known: Sequence[str]
    ) -> UnknownVariablesError:
        suggestions = tuple(closest(v, known) or "" for v in unknown)
        guesses = [
            f"'{v}'" + (f" (did you mean '{c}'?)" if c else "")
            for v, c in zip(unknown, suggestions, strict=True)
        ]
        uses = f"Its variables are {', '.join(known)}." if known else NO_VARIABLES
        return cls(
            f"Template '{template}' has no variable {', '.join(guesses)}. {uses}",
            template=template,
            missing=missing,
            unknown=unknown,
            suggestions=suggestions,
            known=tuple(known),
        )


class TemplateValueError(RenderingError):
    """A filter could not use a value: a date, time, time zone, amount or currency."""

    CODE = "template_value_invalid"
    FIELDS = ("variables",)


class TemplateRenderError(RenderingError):
    """Anything else that stops a template from rendering, or an empty result."""


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def needs_variables(template: str, missing: Sequence[str]) -> str:
    """``Template 't' needs 2 variables you did not give: a, b.``"""
    return (
        f"Template '{template}' needs {plural(len(missing), 'variable')} you did not give: "
        f"{', '.join(missing)}."
    )
