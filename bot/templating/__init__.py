"""Message templates: the library of ``NAME.j2`` files (``library.py``), how soon it
sees them change on disk (``files.py``), their TOML header (``header.py``), the
sandboxed Jinja environment (``environment.py``), the filters (``filters.py``), what
goes wrong (``errors.py``) and SMS segment analysis (``sms.py``)."""

from bot.templating.library import Rendered, TemplateInfo, TemplateLibrary
from bot.templating.sms import SmsAnalysis, analyze_sms

__all__ = ["Rendered", "SmsAnalysis", "TemplateInfo", "TemplateLibrary", "analyze_sms"]
