"""The errors of message templates (exported by `bot.templating.library`).

Every message names the template and says what to fix in a sentence or two;
``field`` is ``"template"``, or ``"var"`` when the fix is in the variables given.

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

import difflib
import shlex
from collections.abc import Iterable, Mapping, Sequence

import jinja2

from bot.errors import InputError

FIX_TEMPLATE = "Fix the template file and try again."


class RenderingError(InputError):
    """A message template cannot be used as asked; nothing was sent."""

    def __init__(self, message: str, *, template: str, field: str | None = "template") -> None:
        super().__init__(message, field=field)
        self.template = template


class TemplateNotFoundError(RenderingError, LookupError):
    """No template has that name; the message suggests the closest names."""

    @classmethod
    def suggesting(cls, name: str, names: Sequence[str], directory: str) -> TemplateNotFoundError:
        close = close_matches(name, names, n=3)
        if close:
            hint = f"Did you mean {' or '.join(repr(c) for c in close)}?"
        elif names:
            hint = f"The templates are {', '.join(names)}."
        else:
            hint = f"There are no templates in {directory} yet."
        return cls(f"There is no template '{name}'. {hint}", template=name)


class TemplateHeaderError(RenderingError):
    """The TOML header at the top of the template file is invalid."""


class TemplateSyntaxError(RenderingError):
    """The template is not valid Jinja; the message names the file and line."""

    @classmethod
    def from_jinja(cls, name: str, exc: jinja2.TemplateSyntaxError) -> TemplateSyntaxError:
        problem = str(exc.message).rstrip(".")
        return cls(f"{exc.filename}, line {exc.lineno}: {problem}. {FIX_TEMPLATE}", template=name)


class UnsafeTemplateError(RenderingError):
    """The template tried to reach Python internals, which the sandbox refuses."""


class TemplateChannelError(RenderingError):
    """The template's ``channels`` do not include the channel it is sent on."""


class VariablesError(RenderingError):
    """The variables given do not match the template's; ``missing`` and ``unknown`` name them."""

    def __init__(
        self, message: str, *, template: str, missing: Iterable[str], unknown: Iterable[str]
    ) -> None:
        super().__init__(message, template=template, field="var")
        self.missing = tuple(missing)
        self.unknown = tuple(unknown)


class MissingVariablesError(VariablesError):
    """Variables the template needs were not given."""

    @classmethod
    def naming(
        cls, template: str, missing: Sequence[str], samples: Mapping[str, str]
    ) -> MissingVariablesError:
        example = " ".join(
            f"--var {v}={shlex.quote(samples[v]) if v in samples else '…'}" for v in missing
        )
        return cls(
            f"Template '{template}' needs {plural(len(missing), 'variable')} you did not give: "
            f"{', '.join(missing)}. Add {'it' if len(missing) == 1 else 'them'}, e.g. {example}",
            template=template,
            missing=missing,
            unknown=(),
        )


class UnknownVariablesError(VariablesError):
    """Variables the template does not use were given (often a typo)."""

    @classmethod
    def naming(
        cls, template: str, unknown: Sequence[str], missing: Sequence[str], known: Sequence[str]
    ) -> UnknownVariablesError:
        guesses = [
            f"'{v}'" + (f" (did you mean '{c[0]}'?)" if (c := close_matches(v, known)) else "")
            for v in unknown
        ]
        uses = (
            f"Its variables are {', '.join(known)}."
            if known
            else "It takes no variables; leave out --var."
        )
        return cls(
            f"Template '{template}' has no variable {', '.join(guesses)}. {uses}",
            template=template,
            missing=missing,
            unknown=unknown,
        )


class TemplateValueError(RenderingError):
    """A filter could not use a value: a date, time, time zone, amount or currency."""


class TemplateRenderError(RenderingError):
    """Anything else that stops a template from rendering, or an empty result."""


def close_matches(word: str, choices: Iterable[str], n: int = 1) -> list[str]:
    return difflib.get_close_matches(word, sorted(choices), n=n, cutoff=0.6)


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"
