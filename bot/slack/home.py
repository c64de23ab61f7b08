"""App Home: how to use Herald and the messages you sent recently."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Herald
from bot.slack import blocks

RECENT_LIMIT = 15


def register(app: AsyncApp, herald: Herald) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab") != "home":
            return
        user = event["user"]
        view = blocks.home_view(
            herald.recent_messages(user, RECENT_LIMIT),
            herald.settings.slack.command,
            herald.settings.mask_recipients,
        )
        await client.views_publish(user_id=user, view=view)
