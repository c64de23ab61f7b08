"""Getting stored messages to their providers and their reports back.

``handover.py`` hands messages over (batches, rate limits, retries, failover), with
``retries.py`` and ``throttling.py`` as its policies; ``progress.py`` says which reported
status moves a message; ``early.py`` holds reports that beat their send's answer;
``background.py`` runs the work that continues after Slack has its answer.
"""

from bot.delivery.background import Background
from bot.delivery.handover import Delivery
from bot.delivery.retries import RetryPolicy
from bot.delivery.throttling import RateLimiter

__all__ = ["Background", "Delivery", "RateLimiter", "RetryPolicy"]
