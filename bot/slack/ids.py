"""Every Slack ``callback_id``, ``action_id`` and ``block_id`` Herald uses."""

HOME_RECENT_BLOCK = "herald_home_recent"
RECEIPT_BLOCK = "herald_receipt"
RECEIPT_ACTIONS_BLOCK = "herald_receipt_actions"
CANCEL_ACTION = "herald_cancel"  # a scheduled message's receipt: its value is the message id
EDIT_ACTION = "herald_edit"  # opens the compose modal prefilled; value: the id to edit
SEND_NOW_ACTION = "herald_send_now"  # App Home: value is a scheduled send's or schedule's id
COMPOSE_ACTION = "herald_compose"  # App Home's Compose button: opens the compose modal
COMPOSE_SHORTCUT = "herald_compose"  # the global shortcut's callback_id
COMPOSE_VIEW = "herald_compose"  # the compose modal's callback_id
