"""Telling one person something privately after Slack has its answer: a ``response_url``."""

from __future__ import annotations

import logging

from aiohttp import ClientError
from slack_sdk.webhook.async_client import AsyncWebhookClient

log = logging.getLogger(__name__)


async def tell_privately(response_url: str | None, text: str, *, about: str) -> None:
    """Post ``text`` ephemerally to ``response_url``; a failure is one log line saying
    ``about`` what (a button click, how a send to a list went)."""
    if not response_url:
        log.info("no response_url to answer %s", about)
        return
    try:
        answer = await AsyncWebhookClient(response_url).send(
            text=text, response_type="ephemeral", replace_original=False
        )
    except (ClientError, TimeoutError) as exc:
        log.warning("could not answer %s: %s", about, type(exc).__name__)
        return
    if answer.status_code != 200:
        log.warning("response_url answered %s to %s", answer.status_code, about)
