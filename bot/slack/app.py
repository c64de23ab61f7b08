"""`SlackApp`: the Bolt `AsyncApp`, its listeners, the slash command and the one error
handler.

``process_before_response=True``: each listener acks itself within a few
milliseconds and hands slow work to `Herald.background`, so Bolt does not poll
for the ack (its default mode checks every 10 ms) and Slack's answer is fast.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import HeraldError, RepeatedRequestError
from bot.logsafe import loggable
from bot.services import Herald
from bot.slack import actions, blocks, grammar, home, phrasing
from bot.slack.announcer import SlackAnnouncer
from bot.slack.commands import SlashCommand
from bot.slack.compose import Composer
from bot.slack.directory import SlackDirectory
from bot.slack.forms import input_blocks
from bot.slack.intake import ParsedRequest
from bot.slack.replays import RequestLedger

log = logging.getLogger(__name__)

MAX_BOLT_LOG = 200
INTERNAL_ERROR = (
    ":boom: Herald hit an internal error and did not finish this request. "
    "Nothing was sent twice; check `{command} status` or ask your admin to look at the logs."
)


class SlackApp:
    """Herald in Slack: the Bolt app, the receipts announcer and the slash command.

    `handle` answers a request `bot.slack.intake` verified and parsed. A slash command
    goes straight to `SlashCommand.answer`: Bolt's dispatch (a Web API client built per
    request, keyword arguments built per middleware and listener) took as long as
    storing the message, and Slack waits for that answer. Everything else (events,
    interactivity, and commands over Socket Mode) goes through Bolt. Both share the
    replay check and `answer_error`.
    """

    def __init__(self, herald: Herald) -> None:
        self.settings = settings = herald.settings
        token, signing_secret = settings.slack.require_credentials()
        client = AsyncWebClient(
            token=token,
            base_url=api_url(settings.slack.api_url),
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
        )
        bolt_logger = logging.getLogger("bot.slack.bolt")
        bolt_logger.addFilter(_tidy_bolt_log)
        self.bolt = app = AsyncApp(
            client=client,
            signing_secret=signing_secret,
            process_before_response=True,
            logger=bolt_logger,
            # `bot.slack.intake` checked the signature (and answered ssl_check) before
            # anything read the body; Socket Mode is not signed
            request_verification_enabled=False,
            ssl_check_enabled=False,
        )
        self.announcer = SlackAnnouncer(client, herald)
        self.directory = SlackDirectory(client)
        self.ledger = RequestLedger(herald)
        self.command = SlashCommand(herald, self.announcer, self.directory)
        self.composer = Composer(herald, client, self.directory, self.command)
        self.command.composer = self.composer
        app.use(self.ledger.middleware())
        self.command.register(app)
        self.composer.register(app)
        self.composer.home = home.register(app, herald)
        actions.register(app, herald)

        @app.error
        async def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
            return _bolt_response(self.answer_error(error, body))

    async def handle(
        self,
        raw_body: str,
        payload: dict[str, Any],
        headers: Mapping[str, str],
        query: Mapping[str, str],
    ) -> BoltResponse:
        """Answer a request `bot.slack.intake` verified and parsed."""
        if payload.get("command") != self.command.name:
            try:
                request = ParsedRequest(
                    raw_body=raw_body, payload=payload, headers=headers, query=query
                )
                return await self.bolt.async_dispatch(request)
            except Exception as error:
                # Bolt reading a payload shape it does not expect (a channel that is a
                # number, a view with no type), before any listener runs: Slack signed it,
                # so say so in one line and answer 200 (an error would only be retried).
                # A listener's own failure goes to `on_error`, traceback and all.
                log.error(
                    "could not read a signed %s request: %s",
                    loggable(str(payload.get("type") or "Slack"), 40),
                    loggable(f"{type(error).__name__}: {error}", MAX_BOLT_LOG),
                )
                return _bolt_response(None)
        new, key = self.ledger.admit(
            payload, headers.get("x-slack-signature"), headers.get("x-slack-retry-num")
        )
        if not new:
            return BoltResponse(status=200, body="")
        answer: dict[str, Any] | None
        try:
            answer = await self.command.answer(payload, key)
        except Exception as error:  # the one error handler, as Bolt's listeners have it
            answer = self.answer_error(error, payload)
        return _bolt_response(answer)

    def answer_error(self, error: Exception, body: dict[str, Any]) -> dict[str, Any] | None:
        """What Slack is answered when a listener raised ``error`` (None: a plain 200).

        An input error says what to fix; anything else is logged whole and answered with an
        apology. An event or action is answered 200 whatever failed: Slack retries an
        error, which would run the failing listener again.
        """
        command = self.settings.slack.command
        if isinstance(error, RepeatedRequestError):
            log.info("ignored a repeated slash command")
            return None
        if isinstance(error, HeraldError):
            problem = phrasing.problem_text(
                error, command, list(self.settings.connections), str(body.get("text") or "")
            )
            text = blocks.error_text(problem, command, was_send=grammar.is_send(body))
        else:
            log.error("unhandled error in a Slack listener", exc_info=error)
            text = INTERNAL_ERROR.format(command=command)
        if body.get("type") == "view_submission":
            # an empty answer would close the form as if it had worked: keep it open, say so
            return _on_first_input(body.get("view"), text)
        return {"response_type": "ephemeral", "text": text} if body.get("command") else None


def _on_first_input(view: object, text: str) -> dict[str, Any] | None:
    """``text`` as a form's error on its first input (None: it has none to show it on)."""
    shown = input_blocks(view)
    return {"response_action": "errors", "errors": {shown[0]: text[:2000]}} if shown else None


def _bolt_response(answer: dict[str, Any] | None) -> BoltResponse:
    if not answer:
        return BoltResponse(status=200, body="")
    return BoltResponse(
        status=200,
        body=json.dumps(answer),
        headers={"content-type": "application/json;charset=utf-8"},
    )


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
