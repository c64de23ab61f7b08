"""The ASGI app of ``herald serve``: ``/slack/events``, ``/webhooks/{connection}``, ``/healthz``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.config import Settings
from bot.services import Herald
from bot.slack.app import build_slack_app
from bot.slack.directory import SlackDirectory
from providers import ProviderUnsupportedError, WebhookAuthError, WebhookError, WebhookRequest

log = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 1_000_000


def create_app(settings: Settings) -> Starlette:
    """Build the whole server; fails with `ConfigError` before anything listens."""
    herald = Herald(settings)
    slack_app, announcer = build_slack_app(herald)
    herald.announcer = announcer
    herald.directory = SlackDirectory(slack_app.client)
    slack_handler = AsyncSlackRequestHandler(slack_app)

    async def slack_events(request: Request) -> Response:
        return await slack_handler.handle(request)

    async def webhook(request: Request) -> Response:
        connection = request.path_params["connection"]
        if connection not in settings.connections:
            return JSONResponse({"error": f"no connection named {connection!r}"}, status_code=404)
        body = await request.body()
        if len(body) > MAX_WEBHOOK_BYTES:
            return JSONResponse({"error": "body too large"}, status_code=413)
        hook = WebhookRequest(
            url=_public_url(settings, request),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            query=dict(request.query_params),
        )
        try:
            result = await herald.handle_webhook(connection, hook)
        except WebhookAuthError as exc:
            log.warning("rejected a callback for %s: %s", connection, exc)
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        except ProviderUnsupportedError:
            return JSONResponse(
                {"error": f"connection {connection!r} does not take callbacks"}, status_code=404
            )
        except WebhookError as exc:
            log.warning("unreadable callback for %s: %s", connection, exc)
            return JSONResponse({"error": exc.detail}, status_code=400)
        return JSONResponse(dict(result.reply))

    async def healthz(request: Request) -> Response:
        status = herald.health()
        return JSONResponse(status, status_code=200 if status["status"] == "ok" else 503)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # One pooled aiohttp session for every Slack Web API call (Bolt's per-request
        # clients share it); without it slack-sdk opens a new connection per call.
        slack_app.client.session = aiohttp.ClientSession()
        await herald.start(serve=True)
        socket_mode = None
        if settings.slack.app_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket_mode = AsyncSocketModeHandler(slack_app, settings.slack.app_token)
            await socket_mode.connect_async()  # type: ignore[no-untyped-call]
            log.info("connected to Slack over Socket Mode")
        log.info(
            "Herald is up: %d connection(s) [%s], database %s",
            len(settings.connections),
            ", ".join(settings.connections),
            settings.db_path,
        )
        try:
            yield
        finally:
            log.info("shutting down: finishing sends in progress")
            if socket_mode is not None:
                await socket_mode.close_async()  # type: ignore[no-untyped-call]
            await herald.stop()
            await slack_app.client.session.close()

    app = Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/webhooks/{connection}", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.herald = herald
    return app


def _public_url(settings: Settings, request: Request) -> str:
    """The URL the provider called, as it saw it (signatures may cover it)."""
    if settings.public_url:
        query = f"?{request.url.query}" if request.url.query else ""
        return f"{settings.public_url}{request.url.path}{query}"
    return str(request.url)
