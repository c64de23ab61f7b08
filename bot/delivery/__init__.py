"""Getting stored messages to their providers and their reports back.

``handover.py`` hands messages over (batches, lanes per connection, rate limits, retries,
failover), with ``retries.py`` and ``throttling.py`` as its policies, ``workers.py`` for
the few workers that stream through a send, ``outcomes.py`` for what an answer does to a
stored message and ``announcements.py`` for the changes on their way to the announcer;
``progress.py`` says which reported status moves a message; ``early.py`` holds reports
that beat their send's answer; ``background.py`` runs the work that continues after Slack
has its answer.
"""

from bot.delivery.background import Background
from bot.delivery.handover import Delivery
from bot.delivery.retries import RetryPolicy
from bot.delivery.throttling import RateLimiter

__all__ = ["Background", "Delivery", "RateLimiter", "RetryPolicy"]
