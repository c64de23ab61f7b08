"""Reading Bird's error answers, whose JSON shape the Channels API does not document.

Spec §2.5 and §6 leave the error body UNKNOWN, so `describe_error` reads the common
fields, per-field details and a refused message's ``failure`` into one short line.
"""

from __future__ import annotations

from typing import Any


def describe_error(body: Any) -> str:
    """A short reading of a Bird error body ("" if none): its shape is unknown (§2.5, §6), so
    read the common fields, per-field details and a refused message's ``failure``."""
    if isinstance(body, list):
        return "; ".join(filter(None, (describe_error(item) for item in body[:3])))
    if not isinstance(body, dict):
        return ""
    if isinstance(body.get("error"), dict):
        return describe_error(body["error"])
    failure = body.get("failure")
    failure_text = failure.get("description") if isinstance(failure, dict) else None
    message = _first_text(body, "message", "description", "detail", "title", "error")
    message = message or _first_text(body, "reason") or failure_text or ""
    code = body.get("code")
    if isinstance(code, str | int) and not isinstance(code, bool) and str(code) not in message:
        message = f"{message} ({code})" if message else str(code)
    fields = _field_problems(body.get("details") or body.get("errors") or body.get("fields"))
    return f"{message}: {fields}" if message and fields else message or fields


def _first_text(body: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _field_problems(details: Any) -> str:
    problems: list[str] = []
    if isinstance(details, dict):
        for name, value in details.items():
            text = "; ".join(map(str, value)) if isinstance(value, list) else str(value)
            problems.append(f"{name}: {text}")
    elif isinstance(details, list):
        for item in details:
            if isinstance(item, dict):
                name = _first_text(item, "field", "path", "property", "pointer", "key")
                text = _first_text(item, "message", "description", "detail", "reason") or ""
                problems.append(f"{name}: {text}" if name else text)
            elif isinstance(item, str):
                problems.append(item)
    elif isinstance(details, str):
        problems.append(details)
    return "; ".join(p for p in problems[:3] if p)
