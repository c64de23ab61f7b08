"""The Bolt `AsyncApp`: client, listeners and the one error handler.

``process_before_response=True``: each listener acks itself within a few
milliseconds and hands slow work to `Herald.background`, so Bolt does not poll
for the ack (its default mode checks every 10 ms) and Slack's answer is fast.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import HeraldError, RepeatedRequestError
from bot.logsafe import loggable
from bot.services import Herald
from bot.slack import blocks, commands, grammar, home
from bot.slack.announcer import SlackAnnouncer
from bot.slack.replays import RequestLedger

log = logging.getLogger(__name__)

MAX_BOLT_LOG = 200
INTERNAL_ERROR = (
    ":boom: Herald hit an internal error and did not finish this request. "
    "Nothing was sent twice; check `{command} status` or ask your admin to look at the logs."
)


def build_slack_app(herald: Herald) -> tuple[AsyncApp, SlackAnnouncer]:
    """The Bolt app for ``herald``, and the announcer that posts its receipts."""
    settings = herald.settings
    token, signing_secret = settings.slack.require_credentials()
    client = AsyncWebClient(
        token=token,
        base_url=api_url(settings.slack.api_url),
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    bolt_logger = logging.getLogger("bot.slack.bolt")
    bolt_logger.addFilter(_tidy_bolt_log)
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret,
        process_before_response=True,
        logger=bolt_logger,
    )
    announcer = SlackAnnouncer(client, herald)
    app.use(RequestLedger(herald).middleware())
    commands.register(app, herald, announcer)
    home.register(app, herald)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        command = settings.slack.command
        if isinstance(error, RepeatedRequestError):
            log.info("ignored a repeated slash command")
            return BoltResponse(status=200, body="")
        if isinstance(error, HeraldError):
            text = blocks.error_text(str(error), command, was_send=grammar.is_send(body))
        else:
            log.error("unhandled error in a Slack listener", exc_info=error)
            text = INTERNAL_ERROR.format(command=command)
        if body.get("command"):
            return BoltResponse(
                status=200,
                body=json.dumps({"response_type": "ephemeral", "text": text}),
                headers={"content-type": "application/json;charset=utf-8"},
            )
        # Slack retries an event or action answered with an error, which would run the
        # failing listener again (and repeat whatever it did before failing): the error
        # is logged, and Slack hears that the request arrived.
        return BoltResponse(status=200, body="")

    return app, announcer


def _tidy_bolt_log(record: logging.LogRecord) -> bool:
    # AsyncApp also reads SLACK_BOT_TOKEN from the environment and warns that the token in
    # our client wins; it is the same token, so the warning would only confuse operators.
    message = record.getMessage()
    if message == warning_client_prioritized_and_token_skipped():
        return False
    # Bolt follows "Unhandled request" with a many-line suggestion quoting the payload: keep
    # its first line, clipped, so a stray request is one log line.
    first = message.split("\n", 1)[0]
    if first != message or len(first) > MAX_BOLT_LOG:
        record.msg, record.args = loggable(first, MAX_BOLT_LOG), None
    return True


def api_url(url: str | None) -> str:
    if not url:
        return AsyncWebClient.BASE_URL
    return url if url.endswith("/") else url + "/"
