"""Reading Capillary's sendMessage answers into one outcome per recipient.

An answer speaks at two levels (spec providers.md §1.5, seed 000): a batch ``status``
block (``count``, ``successCount``, ``success``, ``code``) and one entry per item with
its own ``errors``. Both are read: the block may count failures no item names, and a
recipient it leaves in doubt gets "may or may not have gone out", never a guess.
Capillary's error JSON is UNKNOWN (§1.5), so its words are read loosely.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from providers.base import CHECK_BEFORE_RESENDING, SendResult
from providers.errors import ProviderError, ProviderOutcomeUnknownError, ProviderRejectedError

BATCH_LIMIT_CODE = 1060  # §1.5 "Batch limit size exceeded"; the limit itself is UNKNOWN (§1.8)
BATCH_HINT = "Send to fewer recipients at once"

Outcome = SendResult | ProviderError


def judge(
    body: Any,
    *,
    array: str,
    listing: str,
    count: int,
    status: int | None,
    failed: bool,
    provider: str,
) -> list[Outcome] | None:
    """One outcome per item of a batch of ``count`` from its answer; None when the answer
    cannot be matched to the items. ``array`` is the request's item key (whose echo each
    entry carries), ``listing`` the answer's list key; ``failed``: the HTTP code said so."""
    if not isinstance(body, dict):
        return None
    reject = partial(ProviderRejectedError, provider=provider, status_code=status)
    envelope = body["status"] if isinstance(body.get("status"), dict) else {}
    found = body.get(listing)
    entries: list[Any] = found if isinstance(found, list) else []
    codes = {code_of(envelope)} | {code_of(e) for entry in entries for e in errors_of(entry)}
    if BATCH_LIMIT_CODE in codes:
        detail = f"refused a batch of {count}: batch limit size exceeded (code 1060)"
        return [reject(detail, raw=body, hint=BATCH_HINT)] * count
    if len(entries) != count:
        if failed:
            return None
        # §1.5: HTTP 201 means "one or more requests have failed"; if the entries cannot
        # be matched to the items, only the status block can say they all went or none.
        missing = unaccounted(envelope, status, count, explained=0)
        if missing == 0 and _all_went(envelope, count):
            return [SendResult(None, raw=body) for _ in range(count)]
        if missing == count or (missing is None and count == 1):
            return [reject(batch_detail(envelope, count), raw=body)] * count
        return None
    explained = sum(1 for entry in entries if errors_of(entry))
    clean = count - explained  # items whose entries name no error
    # Seed 000: {"status": {"count": 2, …, "successCount": 2, …, "success": true}, …}: the
    # block counts what went, and a failure it counts need not be named by any item.
    missing = unaccounted(envelope, status, count, explained)
    doubt: ProviderError | None = None
    if failed or (missing is not None and missing >= clean) or (missing is None and clean == 1):
        doubt = reject(batch_detail(envelope, count), raw=body)  # every clean item failed
    elif missing != 0:  # some clean items failed, and nothing says which
        why = f"{batch_detail(envelope, count)}, without saying which"
        doubt = unknown(why, status, body, provider)
    outcomes: list[Outcome] = []
    for entry in entries:
        raw = {"status": envelope, listing: [entry]}
        errors = errors_of(entry)
        if errors:
            detail = describe(errors) or describe([envelope]) or "refused"
            outcomes.append(reject(detail, raw=raw, hint=code_hint({code_of(e) for e in errors})))
        elif doubt is not None:
            outcomes.append(doubt)
        else:
            echo = entry.get(array) if isinstance(entry, dict) else None
            outcomes.append(SendResult(message_id_of(entry, echo), raw=raw))
    return outcomes


def unknown(why: str, status: int | None, raw: Any, provider: str) -> ProviderOutcomeUnknownError:
    return ProviderOutcomeUnknownError(
        f"{why}, so it may or may not have gone out",
        provider=provider,
        status_code=status,
        raw=raw,
        hint=CHECK_BEFORE_RESENDING,
    )


def unaccounted(
    envelope: dict[str, Any], status: int | None, count: int, explained: int
) -> int | None:
    """How many items the status block says failed beyond the ``explained`` ones whose own
    errors say so; None when it says some failed but not how many."""
    succeeded = envelope.get("successCount")
    counted = envelope.get("count", count)
    if isinstance(succeeded, int) and not isinstance(succeeded, bool) and counted == count:
        return max(0, count - min(max(succeeded, 0), count) - explained)
    if envelope.get("success") is False or status == 201:
        return None if explained == 0 else 0
    return 0


def _all_went(envelope: dict[str, Any], count: int) -> bool:
    """Whether the status block itself says every item went (not merely nothing failed)."""
    succeeded = envelope.get("successCount")
    if isinstance(succeeded, int) and not isinstance(succeeded, bool):
        return succeeded == count and envelope.get("count", count) == count
    return envelope.get("success") is True


def batch_detail(envelope: dict[str, Any], count: int) -> str:
    """What the status block says about a failure, in Capillary's words where it has any."""
    words = describe([envelope])
    words = words if words and not words.startswith("Success") else ""
    succeeded = envelope.get("successCount")
    if isinstance(succeeded, int) and not isinstance(succeeded, bool):
        tally = f"Capillary counts {succeeded} of {count} as sent"
        return f"{words}; {tally}" if words else tally
    return words or "Capillary's batch status says it failed"


def code_of(value: Any) -> int | None:
    code = value.get("code") if isinstance(value, dict) else None
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    return int(code) if isinstance(code, str) and code.isdigit() else None


def errors_of(entry: Any) -> list[Any]:
    errors = entry.get("errors") if isinstance(entry, dict) else None
    return [e for e in errors if e] if isinstance(errors, list) else []


def describe(errors: Sequence[Any]) -> str:
    """Capillary's words, with the code: "Batch limit size exceeded (code 1060)"."""
    parts = []
    for error in errors:
        if not isinstance(error, dict):
            parts.append(str(error))
        elif text := str(error.get("message") or error.get("description") or ""):
            code = code_of(error)
            parts.append(f"{text} (code {code})" if code is not None else text)
    return "; ".join(parts)


def code_hint(codes: set[int | None]) -> str | None:
    if BATCH_LIMIT_CODE in codes:
        return BATCH_HINT
    if 4208 in codes:  # §1.5 legacy item code: invalid email ID
        return "Check the recipient's e-mail address"
    if codes & set(range(4203, 4208)):  # §1.5 legacy item codes: template errors
        return "Check the message template configured in Capillary"
    return None


def message_id_of(entry: Any, echo: Any) -> str | None:
    # §1.5/§6: only the XML SMS answer shows an id (nsAdminId); look for one anyway.
    for source in (echo, entry):
        for key in ("nsAdminId", "nsadmin_id", "id", "messageId"):
            value = source.get(key) if isinstance(source, dict) else None
            if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
                return str(value)
    return None
