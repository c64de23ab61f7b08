"""Message templates: a directory of Jinja files rendered safely into message text.

A template named ``NAME`` is the file ``NAME.j2`` in the templates directory. An
optional header may open the file: a Jinja comment whose content is TOML, so the
file stays valid Jinja. Every key is optional; a file without a header is a
template for every channel, without description or samples. (A top comment in
which no line reads like TOML, such as ``{# Owned by billing #}``, is an ordinary
comment.) ::

    {#-
    description = "Tell a customer their order is delayed"
    channels = ["sms", "whatsapp"]        # default: every channel
    subject = "Your order {{ order }} is delayed"   # e-mail subject, itself a template
    confidential = false                  # true: receipts in Slack hide the text

    [samples]                             # values for previews and `check`
    name = "Jane"
    order = "A-1042"
    new_date = "2026-12-01"

    [provider_templates.bird]             # a template approved at the provider (WhatsApp)
    id = "7f1c…"                          # its id / project id / uuid at the provider
    version = "latest"                    # optional
    locale = "en"                         # optional
    parameters = { name = "{{ name }}", order = "{{ order }}" }   # each value a template
    -#}
    Hi {{ name }}, your order {{ order }} is delayed;
    it should arrive {{ new_date | date("%d %b") }}.

The variables a template needs are read from the template itself (body, subject
and provider parameters). A variable used only behind ``is defined`` or
``| default(…)`` is optional. Rendering refuses missing and unknown variables by
name before anything renders, runs in Jinja's sandbox (no way to reach Python
internals), treats the text as plain text (no HTML escaping), strips surrounding
whitespace, writes the subject on one line and refuses a message that comes out
empty. Edits on disk apply without a restart: a template is compiled once per
version of its file, and the file is looked at again when it was last looked at
more than half a second ago (`bot.templating.files`); a file added is found at
once. ``{% include "footer.j2" %}`` works within the directory.

Filters, beside Jinja's own (values may be ISO 8601 strings, as ``--var`` gives them):

``date(fmt="%d %b %Y", tz=None)``
    ``{{ "2026-12-01" | date }}`` → ``01 Dec 2026``;
    ``{{ "2026-12-01T23:30Z" | date("%A %d %B", tz="Europe/Paris") }}`` → ``Wednesday 02 December``.
``time(fmt="%H:%M", tz=None)``
    ``{{ "2026-12-01T09:30+01:00" | time }}`` → ``09:30``;
    ``{{ "2026-12-01T09:30+01:00" | time(tz="America/New_York") }}`` → ``03:30``.
``datetime(fmt="%d %b %Y %H:%M", tz=None)``
    ``{{ "2026-12-01T09:30+01:00" | datetime }}`` → ``01 Dec 2026 09:30``.
``money(currency="EUR")``
    ``{{ "12.5" | money }}`` → ``€12.50``; ``{{ 3 | money("USD") }}`` → ``$3.00``;
    ``{{ "12.5" | money("CHF") }}`` → ``12.50 CHF``; ``{{ 1500 | money("JPY") }}`` → ``¥1500``.

``money`` rounds half up to the currency's minor unit (2 digits; 0 for JPY, 3 for
KWD, …); €, $, £ and ¥ are written as symbols because SMS carries them in GSM-7,
any other currency as its code after the amount.

``tz`` is an IANA zone name. A time with an offset is converted to it; a time
without one is read as local time in it; a date alone is never shifted. Names of
months and days are English whatever the server's locale.

Errors are `bot.errors.InputError`s whose message says what to fix; the tree is
drawn in `bot.templating.errors`, and every class is exported here.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError

from bot.templating.environment import MessageEnvironment, find_variables
from bot.templating.errors import (
    FIX_TEMPLATE,
    MissingVariablesError,
    RenderingError,
    TemplateChannelError,
    TemplateHeaderError,
    TemplateNotFoundError,
    TemplateRenderError,
    TemplateSyntaxError,
    TemplateValueError,
    UnknownVariablesError,
    UnsafeTemplateError,
    VariablesError,
)
from bot.templating.files import RECHECK_AFTER, Clock, TemplateFiles
from bot.templating.filters import FilterInputError
from bot.templating.header import HeaderProblem, parse_header
from bot.templating.sms import SmsAnalysis, analyze_sms
from providers import Channel, ProviderTemplate

__all__ = [
    "MissingVariablesError",
    "Rendered",
    "RenderingError",
    "TemplateChannelError",
    "TemplateHeaderError",
    "TemplateInfo",
    "TemplateLibrary",
    "TemplateNotFoundError",
    "TemplateRenderError",
    "TemplateSyntaxError",
    "TemplateValueError",
    "UnknownVariablesError",
    "UnsafeTemplateError",
    "VariablesError",
]


@dataclass(frozen=True)
class TemplateInfo:
    """What a template is for and what it needs.

    ``variables`` are required; ``optional_variables`` are used only behind
    ``is defined`` or ``| default(…)``; ``variable_order`` lists both in order of
    first appearance (body, subject, provider parameters), for forms and examples.
    ``provider_templates`` keep their parameters as Jinja source.
    """

    name: str
    description: str | None
    channels: frozenset[Channel]
    samples: Mapping[str, str]
    variables: frozenset[str]
    optional_variables: frozenset[str] = frozenset()
    variable_order: tuple[str, ...] = ()
    subject: str | None = None
    confidential: bool = False  # Slack receipts hide the text (e.g. one-time codes)
    provider_templates: Mapping[str, ProviderTemplate] = field(default_factory=dict)


@dataclass(frozen=True)
class Rendered:
    """A rendered template: the text, its subject and provider template, and its SMS cost."""

    name: str
    text: str
    subject: str | None
    provider_template: ProviderTemplate | None
    sms: SmsAnalysis


@dataclass(frozen=True)
class _Compiled:
    source: str
    info: TemplateInfo
    body: jinja2.Template
    subject: jinja2.Template | None
    parameters: Mapping[str, Mapping[str, jinja2.Template]]


class TemplateLibrary:
    """The message templates in one directory: list, describe, render and check them.

    What was read from disk is trusted for ``recheck_after`` seconds of ``clock``
    (`bot.templating.files`); tests pass a clock they move by hand.
    """

    def __init__(
        self,
        directory: Path,
        *,
        clock: Clock = time.monotonic,
        recheck_after: float = RECHECK_AFTER,
    ) -> None:
        self.directory = Path(directory)
        self._files = TemplateFiles(self.directory, clock=clock, recheck_after=recheck_after)
        self._env = MessageEnvironment(self.directory, clock, recheck_after)
        # name → (compiled, the clock reading until which it is used without looking at disk)
        self._compiled: dict[str, tuple[_Compiled, float]] = {}

    def names(self) -> list[str]:
        """The template names, sorted."""
        return self._files.names()

    def info(self, name: str) -> TemplateInfo:
        """What template ``name`` is for and which variables it needs."""
        return self._load(name).info

    def render(
        self,
        name: str,
        variables: Mapping[str, str],
        *,
        channel: Channel | None = None,
        provider: str | None = None,
    ) -> Rendered:
        """Render ``name`` with exactly its variables, for ``channel`` and ``provider`` if given.

        ``provider_template`` is the template's provider template for ``provider``,
        its parameters rendered, or None when it has none for that provider.
        """
        compiled = self._load(name)
        info = compiled.info
        if channel is not None and channel not in info.channels:
            allowed = ", ".join(sorted(c.value for c in info.channels))
            raise TemplateChannelError(
                f"Template '{name}' is for {allowed}, not {channel.value}. "
                f"Choose a template for {channel.value}, or a connection that sends {allowed}.",
                template=name,
            )
        self._check_variables(info, variables)
        context = dict(variables)
        text = self._run(compiled.body, context, name).strip()
        if not text:
            raise TemplateRenderError(
                f"Template '{name}' renders an empty message with these variables. "
                "Check its {% if %} blocks, or give the variables it shows text for.",
                template=name,
            )
        subject = None
        if compiled.subject is not None:
            subject = " ".join(self._run(compiled.subject, context, name).split())
        provider_template = None
        if provider is not None and provider in info.provider_templates:
            parameters = {
                key: self._run(template, context, name).strip()
                for key, template in compiled.parameters[provider].items()
            }
            provider_template = replace(info.provider_templates[provider], parameters=parameters)
        return Rendered(name, text, subject, provider_template, analyze_sms(text))

    def check(self) -> list[str]:
        """Render every template with its samples (and for each provider); the problems found."""
        problems: list[str] = []
        for name in self.names():
            try:
                info = self.info(name)
                lacking = [v for v in info.variable_order if v in info.variables]
                lacking = [v for v in lacking if v not in info.samples]
                if lacking:
                    problems.append(
                        f"Template '{name}' has no sample for {', '.join(lacking)}. Add "
                        f"{'it' if len(lacking) == 1 else 'them'} under [samples] in its "
                        "header so previews and checks can render it."
                    )
                    continue
                providers: list[str | None] = [*info.provider_templates] or [None]
                for provider in providers:
                    self.render(name, info.samples, provider=provider)
            except RenderingError as exc:
                problems.append(str(exc))
        return problems

    def _load(self, name: str) -> _Compiled:
        files = self._files
        now = files.clock()
        cached = self._compiled.get(name)
        if cached is not None and now < cached[1]:
            return cached[0]
        try:
            if not files.exists(name, now):
                raise FileNotFoundError(name)
            source = files.read(name)
        except FileNotFoundError:
            self._compiled.pop(name, None)
            raise TemplateNotFoundError.suggesting(
                name, self.names(), str(self.directory)
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            self._compiled.pop(name, None)
            raise TemplateSyntaxError(
                f"{self._label(name)} cannot be read ({exc}). Save it as UTF-8 text.",
                template=name,
            ) from exc
        compiled = cached[0] if cached is not None else None
        if compiled is None or compiled.source != source:
            compiled = self._compile(name, source)  # a header or Jinja error: nothing cached
        self._compiled[name] = (compiled, now + files.recheck_after)
        return compiled

    def _compile(self, name: str, source: str) -> _Compiled:
        try:
            header = parse_header(source)
        except HeaderProblem as exc:
            where = self._label(name) + (f", line {exc.line}" if exc.line else " (header)")
            raise TemplateHeaderError(
                f"{where}: {exc}. Fix the header, the {{#- … -#}} comment at the top of the file.",
                template=name,
            ) from exc
        label = self._label(name)
        sources = {label: source}
        if header.subject is not None:
            sources[f"{label} (subject)"] = header.subject
        for provider, template in header.provider_templates.items():
            for key, value in template.parameters.items():
                sources[f"{label} (provider_templates.{provider}.parameters.{key})"] = value
        asts = {where: self._parse(name, text, where) for where, text in sources.items()}
        required, optional, order = find_variables([*asts.values()], set(self._env.globals))
        built = {where: self._build(ast, name, where) for where, ast in asts.items()}
        info = TemplateInfo(
            name=name,
            description=header.description,
            channels=header.channels,
            samples=MappingProxyType(header.samples),
            variables=required,
            optional_variables=optional,
            variable_order=order,
            subject=header.subject,
            confidential=header.confidential,
            provider_templates=MappingProxyType(header.provider_templates),
        )
        return _Compiled(
            source=source,
            info=info,
            body=built[label],
            subject=built.get(f"{label} (subject)"),
            parameters={
                provider: {
                    key: built[f"{label} (provider_templates.{provider}.parameters.{key})"]
                    for key in template.parameters
                }
                for provider, template in header.provider_templates.items()
            },
        )

    def _parse(self, name: str, source: str, filename: str) -> nodes.Template:
        try:
            return self._env.parse(source, name, filename)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateSyntaxError.from_jinja(name, exc) from exc

    def _build(self, ast: nodes.Template, name: str, filename: str) -> jinja2.Template:
        code = self._env.compile(ast, name, filename)
        return self._env.template_class.from_code(self._env, code, self._env.make_globals(None))

    def _check_variables(self, info: TemplateInfo, variables: Mapping[str, str]) -> None:
        missing = [v for v in info.variable_order if v in info.variables and v not in variables]
        known = info.variables | info.optional_variables
        unknown = [v for v in variables if v not in known]
        if unknown:
            raise UnknownVariablesError.naming(info.name, unknown, missing, info.variable_order)
        if missing:
            raise MissingVariablesError.naming(info.name, missing, info.samples)

    def _run(self, template: jinja2.Template, context: dict[str, str], name: str) -> str:
        try:
            return template.render(context)
        except SecurityError as exc:
            raise UnsafeTemplateError(
                f"{self._where(name, exc, template)} tries something templates may not do "
                f"({str(exc).rstrip('.')}). Remove that expression: templates can use "
                "variables and filters, not Python internals.",
                template=name,
            ) from exc
        except jinja2.TemplateSyntaxError as exc:  # in an {% include %}d file
            raise TemplateSyntaxError.from_jinja(name, exc) from exc
        except FilterInputError as exc:
            raise TemplateValueError(
                f"{self._where(name, exc, template)}: {exc}", template=name
            ) from exc
        except jinja2.TemplateNotFound as exc:  # an {% include %} of a file that is not there
            raise TemplateRenderError(
                f"{self._where(name, exc, template)} includes '{exc.name}', which is not a file "
                f"in {self.directory.name}/. {FIX_TEMPLATE}",
                template=name,
            ) from exc
        except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError) as exc:
            raise TemplateRenderError(
                f"{self._where(name, exc, template)} cannot be rendered: {str(exc).rstrip('.')}. "
                f"{FIX_TEMPLATE}",
                template=name,
            ) from exc

    def _where(self, name: str, exc: BaseException, template: jinja2.Template) -> str:
        """Template name, file and line of a rendering error, as far as the traceback tells."""
        lines = [
            f.lineno
            for f in traceback.extract_tb(exc.__traceback__)
            if f.filename == template.filename
        ]
        where = template.filename or self._label(name)
        return f"Template '{name}' ({where}, line {lines[-1]})" if lines else f"Template '{name}'"

    def _label(self, name: str) -> str:
        return f"{self.directory.name}/{name}.j2"
