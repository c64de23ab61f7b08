"""What Slack checks before it shows a modal or a Home tab (`view_problems`), for the
fake Slack's ``views.*`` methods.

Limits from slack.md §4.4 (Block Kit reference); messages are worded as Slack words
them in ``response_metadata.messages``: "[ERROR] <problem> [json-pointer:/view/…]".
"""

from __future__ import annotations

from typing import Any

INPUT_ELEMENTS = frozenset(
    {
        "plain_text_input",
        "static_select",
        "multi_static_select",
        "external_select",
        "multi_external_select",
        "conversations_select",
        "multi_conversations_select",
        "channels_select",
        "multi_channels_select",
        "users_select",
        "multi_users_select",
        "datepicker",
        "timepicker",
        "datetimepicker",
        "checkboxes",
        "radio_buttons",
        "number_input",
        "email_text_input",
        "url_text_input",
        "rich_text_input",
        "file_input",
    }
)
_SELECTS = frozenset(
    t for t in INPUT_ELEMENTS if t.endswith("_select") and not t.startswith("multi_")
)
_INTERACTIVE = (
    frozenset({"button", "overflow", "workflow_button", "checkboxes", "radio_buttons"})
    | frozenset(t for t in INPUT_ELEMENTS if t.endswith("_select"))
    | {"datepicker", "timepicker"}
)
ACTIONS_ELEMENTS = _INTERACTIVE
ACCESSORY_ELEMENTS = _INTERACTIVE | {"image"}
BLOCK_TYPES = frozenset(
    {
        "section",
        "actions",
        "context",
        "divider",
        "header",
        "image",
        "input",
        "file",
        "rich_text",
        "video",
        "markdown",
    }
)
_OPTIONS_REQUIRED = frozenset(
    {"static_select", "multi_static_select", "checkboxes", "radio_buttons", "overflow"}
)
VIEW_LIMIT_BYTES = 250_000  # "view_too_large" above 250 kB (slack.md §4.2)


class _ViewCheck:
    """Collects every problem in one view, each naming where it is."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, where: str, problem: str) -> None:
        self.problems.append(f"[ERROR] {problem} [json-pointer:{where}]")

    def text(
        self,
        value: Any,
        where: str,
        limit: int,
        *,
        plain: bool = False,
        required: bool = True,
    ) -> None:
        if value is None:
            if required:
                self.fail(where, "missing required field")
            return
        if not isinstance(value, dict) or value.get("type") not in ("plain_text", "mrkdwn"):
            self.fail(where, "must be a text object (plain_text or mrkdwn)")
            return
        if plain and value["type"] != "plain_text":
            self.fail(f"{where}/type", "must be plain_text")
        text = value.get("text")
        if not isinstance(text, str) or not text:
            self.fail(f"{where}/text", "must be more than 0 characters")
        elif len(text) > limit:
            self.fail(f"{where}/text", f"must be less than {limit + 1} characters")

    def length(self, value: Any, where: str, limit: int) -> None:
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            self.fail(where, f"must be a string of at most {limit} characters")

    def view(self, view: Any, kind: str) -> None:
        where = "/view"
        if not isinstance(view, dict):
            self.fail(where, "missing required field: view")
            return
        if view.get("type") != kind:
            self.fail(f"{where}/type", f"must be {kind}")
        if kind == "modal":
            self.text(view.get("title"), f"{where}/title", 24, plain=True)
            self.text(view.get("submit"), f"{where}/submit", 24, plain=True, required=False)
            self.text(view.get("close"), f"{where}/close", 24, plain=True, required=False)
        self.length(view.get("private_metadata"), f"{where}/private_metadata", 3000)
        self.length(view.get("callback_id"), f"{where}/callback_id", 255)
        self.length(view.get("external_id"), f"{where}/external_id", 255)
        blocks = view.get("blocks")
        if not isinstance(blocks, list):
            self.fail(f"{where}/blocks", "missing required field: blocks")
            return
        if len(blocks) > 100:
            self.fail(f"{where}/blocks", "no more than 100 items allowed")
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        if kind == "modal" and has_input and view.get("submit") is None:
            self.fail(f"{where}/submit", "must provide submit when the view has input blocks")
        block_ids: set[str] = set()
        for i, block in enumerate(blocks):
            self.block(block, f"{where}/blocks/{i}", block_ids)

    def block(self, block: Any, where: str, block_ids: set[str]) -> None:
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            self.fail(f"{where}/type", f"must be one of {sorted(BLOCK_TYPES)}")
            return
        block_id = block.get("block_id")
        if block_id is not None:
            self.length(block_id, f"{where}/block_id", 255)
            if block_id in block_ids:
                self.fail(f"{where}/block_id", f"duplicate block_id {block_id!r}")
            block_ids.add(block_id)
        kind = block["type"]
        action_ids: set[str] = set()
        if kind == "section":
            self.text(block.get("text"), f"{where}/text", 3000, required="fields" not in block)
            fields = block.get("fields") or []
            if len(fields) > 10:
                self.fail(f"{where}/fields", "no more than 10 items allowed")
            for i, item in enumerate(fields):
                self.text(item, f"{where}/fields/{i}", 2000)
            if "accessory" in block:
                self.element(
                    block["accessory"], f"{where}/accessory", ACCESSORY_ELEMENTS, action_ids
                )
        elif kind == "header":
            self.text(block.get("text"), f"{where}/text", 150, plain=True)
        elif kind == "context":
            elements = block.get("elements") or []
            if not elements or len(elements) > 10:
                self.fail(f"{where}/elements", "must have between 1 and 10 items")
            for i, item in enumerate(elements):
                if isinstance(item, dict) and item.get("type") == "image":
                    continue
                self.text(item, f"{where}/elements/{i}", 3000)
        elif kind == "actions":
            elements = block.get("elements") or []
            if not elements or len(elements) > 25:
                self.fail(f"{where}/elements", "must have between 1 and 25 items")
            for i, item in enumerate(elements):
                self.element(item, f"{where}/elements/{i}", ACTIONS_ELEMENTS, action_ids)
        elif kind == "input":
            self.text(block.get("label"), f"{where}/label", 2000, plain=True)
            self.text(block.get("hint"), f"{where}/hint", 2000, plain=True, required=False)
            if "element" not in block:
                self.fail(f"{where}/element", "missing required field: element")
            else:
                self.element(block["element"], f"{where}/element", INPUT_ELEMENTS, action_ids)

    def element(self, element: Any, where: str, allowed: frozenset[str], seen: set[str]) -> None:
        if not isinstance(element, dict) or element.get("type") not in allowed:
            kind = element.get("type") if isinstance(element, dict) else element
            self.fail(f"{where}/type", f"{kind!r} is not allowed here; one of {sorted(allowed)}")
            return
        kind = element["type"]
        action_id = element.get("action_id")
        if action_id is not None:
            self.length(action_id, f"{where}/action_id", 255)
            if action_id in seen:
                self.fail(f"{where}/action_id", f"duplicate action_id {action_id!r} in the block")
            seen.add(action_id)
        if "placeholder" in element:
            self.text(element["placeholder"], f"{where}/placeholder", 150, plain=True)
        if kind == "button":
            self.text(element.get("text"), f"{where}/text", 75, plain=True)
            self.length(element.get("value"), f"{where}/value", 2000)
            self.length(element.get("url"), f"{where}/url", 3000)
        if "options" in element or "option_groups" in element or kind in _OPTIONS_REQUIRED:
            self.options(element, where)

    def options(self, element: dict[str, Any], where: str) -> None:
        kind = element["type"]
        groups = element.get("option_groups")
        options: list[Any] = element.get("options") or []
        if groups is not None:
            options = [o for g in groups if isinstance(g, dict) for o in g.get("options", [])]
        elif kind in _OPTIONS_REQUIRED and not options:
            self.fail(f"{where}/options", "must provide options or option_groups")
        limit = 10 if kind in ("checkboxes", "radio_buttons") else 5 if kind == "overflow" else 100
        if len(options) > limit:
            self.fail(f"{where}/options", f"no more than {limit} items allowed")
        for i, option in enumerate(options):
            if not isinstance(option, dict):
                self.fail(f"{where}/options/{i}", "must be an option object")
                continue
            plain = kind not in ("checkboxes", "radio_buttons")
            self.text(option.get("text"), f"{where}/options/{i}/text", 75, plain=plain)
            value = option.get("value")
            if not isinstance(value, str) or not value or len(value) > 150:
                self.fail(f"{where}/options/{i}/value", "must be 1 to 150 characters")
        if "initial_option" in element and element["initial_option"] not in options:
            self.fail(f"{where}/initial_option", "must exactly match one of the options")
        for i, chosen in enumerate(element.get("initial_options") or []):
            if chosen not in options:
                self.fail(f"{where}/initial_options/{i}", "must exactly match one of the options")


def view_problems(view: Any, kind: str) -> list[str]:
    """What Slack would say is wrong with ``view`` as a ``kind`` view (modal or home)."""
    check = _ViewCheck()
    check.view(view, kind)
    return check.problems
