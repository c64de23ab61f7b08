"""The web app of ``herald serve`` (a front end, outside the core): Slack's requests,
providers' callbacks and the health check."""

from bot.web.server import create_app

__all__ = ["create_app"]
