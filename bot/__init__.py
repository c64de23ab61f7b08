"""Herald: send customer messages from Slack, with receipts that update in place."""

__version__ = "0.1.0"
