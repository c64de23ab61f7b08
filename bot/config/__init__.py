"""Configuration: ``herald.toml`` and the environment, read once at startup into frozen
settings (`bot.config.settings`), every value checked (`bot.config.values`)."""

from bot.config.settings import DeliverySettings, Settings, SlackSettings, load_settings

__all__ = ["DeliverySettings", "Settings", "SlackSettings", "load_settings"]
