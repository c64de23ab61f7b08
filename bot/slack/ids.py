"""Every Slack ``callback_id``, ``action_id`` and ``block_id`` Herald uses."""

HOME_RECENT_BLOCK = "herald_home_recent"
RECEIPT_BLOCK = "herald_receipt"
RECEIPT_ACTIONS_BLOCK = "herald_receipt_actions"
CANCEL_ACTION = "herald_cancel"  # a scheduled message's receipt: its value is the message id
