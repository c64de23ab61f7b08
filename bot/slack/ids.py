"""Every Slack ``callback_id``, ``action_id`` and ``block_id`` Herald uses."""

HOME_RECENT_BLOCK = "herald_home_recent"
RECEIPT_BLOCK = "herald_receipt"
