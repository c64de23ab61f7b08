"""The ASGI app of ``herald serve``: ``/slack/events``, ``/webhooks/{connection}``, ``/healthz``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.config.settings import Settings
from bot.errors import ConfigError
from bot.logsafe import loggable
from bot.services import Herald
from bot.slack import intake
from bot.slack.app import SlackApp, api_url
from providers import (
    Provider,
    ProviderUnsupportedError,
    WebhookAuthError,
    WebhookError,
    WebhookRequest,
)

log = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 1_000_000


def create_app(settings: Settings) -> Starlette:
    """Build the whole server; fails with `ConfigError` before anything listens."""
    herald = Herald(settings)
    slack = SlackApp(herald)
    slack_app = slack.bolt
    # The one place the two halves meet: Slack's announcer and directory call the core
    # (to read a message, to record where its receipt went), so they are made after it
    # and handed to it here, before it starts. Tests and the CLI pass theirs to Herald().
    herald.announcer = slack.announcer
    herald.directory = slack.directory  # one cache of who each user is
    signing_secret = settings.slack.require_credentials()[1]

    async def slack_events(request: Request) -> Response:
        with herald.background.request():
            return await _slack_events(request)

    async def _slack_events(request: Request) -> Response:
        body = await _read_limited(request, intake.MAX_BODY_BYTES)
        if isinstance(body, Response):
            return body
        try:
            intake.verify(request.headers, body, signing_secret)
            payload = intake.parse(body, request.headers.get("content-type", ""))
        except intake.RejectedRequest as exc:
            if exc.status == 401 and intake.is_ssl_check(body):
                return Response(status_code=200)  # Slack's certificate check, as Bolt answers it
            log.warning("refused a request to /slack/events: %s", exc.reason)
            return JSONResponse({"error": exc.reason}, status_code=exc.status)
        answer = await slack.handle(
            body.decode("utf-8"), payload, request.headers, request.query_params
        )
        return to_starlette_response(answer)

    async def webhook(request: Request) -> Response:
        connection = request.path_params["connection"]
        if connection not in settings.connections:
            return JSONResponse({"error": f"no connection named {connection!r}"}, status_code=404)
        if request.method != "POST":
            # Providers check that the URL answers (Callbell disables a subscription that
            # stops answering); a GET carries no callback.
            return JSONResponse({"status": "ok"})
        body = await _read_limited(request, MAX_WEBHOOK_BYTES)
        if isinstance(body, Response):
            return body
        hook = WebhookRequest(
            url=_public_url(settings, request),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            query=dict(request.query_params),
        )
        try:
            result = await herald.handle_webhook(connection, hook)
        except WebhookAuthError as exc:
            log.warning("rejected a callback for %s: %s", connection, loggable(exc, 300))
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        except ProviderUnsupportedError:
            return JSONResponse(
                {"error": f"connection {connection!r} does not take callbacks"}, status_code=404
            )
        except WebhookError as exc:
            log.warning("unreadable callback for %s: %s", connection, loggable(exc, 300))
            return JSONResponse({"error": exc.detail}, status_code=400)
        return JSONResponse(dict(result.reply))

    async def healthz(request: Request) -> Response:
        status = herald.health()
        return JSONResponse(status, status_code=200 if status["status"] == "ok" else 503)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # One pooled aiohttp session for every Slack Web API call (Bolt's per-request
        # clients share it); without it slack-sdk opens a new connection per call.
        session = slack_app.client.session = aiohttp.ClientSession()
        socket_mode = None
        try:
            await herald.start(serve=True)
            if settings.slack.app_token:
                socket_mode = await _connect_socket_mode(slack_app, settings.slack.app_token)
        except BaseException:
            await herald.stop()  # release what did open before stopping startup
            await session.close()
            raise
        log.info(
            "Herald is up: %d connection(s) [%s], database %s",
            len(settings.connections),
            ", ".join(settings.connections),
            settings.db_path,
        )
        for line in webhook_urls(settings, herald.providers):
            log.info("delivery callbacks: %s", line)
        try:
            yield
        finally:
            log.info("shutting down: finishing sends in progress")
            if socket_mode is not None:
                await socket_mode.close_async()  # type: ignore[no-untyped-call]
            await herald.stop()
            await session.close()

    app = Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/webhooks/{connection}", webhook, methods=["POST", "GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.herald = herald
    return app


async def socket_mode_url(client: AsyncWebClient, app_token: str) -> str:
    """A Socket Mode WebSocket URL, or a `ConfigError` if Slack refuses the app token.

    slack-sdk's own client retries a refused token forever, which would leave Herald
    hanging at startup; asking first turns it into one clear line.
    """
    try:
        opened = await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        raise ConfigError(
            f"Slack refused SLACK_APP_TOKEN ({exc.response.get('error')}): use the app-level "
            "token (xapp-…) with the connections:write scope, from Basic Information"
        ) from None
    return str(opened["url"])


async def check_socket_mode(settings: Settings) -> None:
    """Before serving: a refused app token stops ``herald serve`` with one line."""
    if settings.slack.app_token:
        token, _ = settings.slack.require_credentials()
        client = AsyncWebClient(token=token, base_url=api_url(settings.slack.api_url))
        async with aiohttp.ClientSession() as client.session:
            await socket_mode_url(client, settings.slack.app_token)


async def _connect_socket_mode(slack_app: AsyncApp, app_token: str) -> AsyncSocketModeHandler:
    handler = AsyncSocketModeHandler(slack_app, app_token)
    handler.client.wss_uri = await socket_mode_url(slack_app.client, app_token)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    log.info("connected to Slack over Socket Mode")
    return handler


async def _read_limited(request: Request, limit: int) -> bytes | Response:
    """The body, or the answer when there is none to read: 413 once it passes ``limit``
    bytes (read no further: callers are not yet authenticated), 400 when the caller left
    mid-body (nothing to log)."""
    too_large = JSONResponse({"error": "body too large"}, status_code=413)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        log.warning(
            "refused a request to %s: body over %d bytes", loggable(request.url.path), limit
        )
        return too_large
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                log.warning(
                    "refused a request to %s: body over %d bytes", loggable(request.url.path), limit
                )
                return too_large
    except ClientDisconnect:
        return Response(status_code=400)
    return bytes(body)


def webhook_urls(settings: Settings, providers: Mapping[str, Provider]) -> list[str]:
    """Where each connection's provider should send delivery callbacks (tokens not shown),
    or why a connection refuses them."""
    if not settings.public_url:
        return ["set [server] public_url to see the callback URL of each connection"]
    lines = []
    for name, config in settings.connections.items():
        if config.webhook_token is None and providers[name].webhook_needs_token():
            lines.append(f"{name} refuses callbacks until it has a webhook_token")
            continue
        token = "?token=<its webhook_token>" if config.webhook_token else ""
        lines.append(f"{name} → {settings.public_url}/webhooks/{name}{token}")
    return lines


def _public_url(settings: Settings, request: Request) -> str:
    """The URL the provider called, as it saw it (signatures may cover it)."""
    if settings.public_url:
        query = f"?{request.url.query}" if request.url.query else ""
        return f"{settings.public_url}{request.url.path}{query}"
    return str(request.url)
