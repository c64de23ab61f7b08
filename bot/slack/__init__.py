"""The Slack front end: a thin Bolt layer over `bot.services.Herald`."""
