"""What Slack refuses: message size limits and Block Kit shape checks.

The limits are Slack's documented ones (reference §4). Slack's real validation is far richer;
these checks cover what a bot that builds its own blocks can plausibly get wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from bot.fakes.slack.records import Blocks

__all__ = [
    "MAX_BLOCKS",
    "MAX_POST_TEXT",
    "MAX_UPDATE_TEXT",
    "MAX_VIEW_BLOCKS",
    "ApiFailure",
    "check_blocks",
    "check_text",
]

MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
# chat.postMessage truncates past 40,000 characters; chat.update documents msg_too_long past 4,000.
MAX_POST_TEXT = 40_000
MAX_UPDATE_TEXT = 4_000
_INTEGER = re.compile(r"-?\d+")
_DECIMAL = re.compile(r"-?\d+(?:\.\d+)?")

KNOWN_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "video",
    }
)


class ApiFailure(Exception):
    """A Web API call Slack would answer with ``{"ok": false, "error": ...}``."""

    def __init__(
        self, error: str, *, messages: Sequence[str] = (), warning: str | None = None
    ) -> None:
        super().__init__(error)
        self.error = error
        self.messages = tuple(messages)
        self.warning = warning

    def body(self) -> dict[str, Any]:
        """The JSON body Slack sends for this failure."""
        body: dict[str, Any] = {"ok": False, "error": self.error}
        if self.warning:
            body["warning"] = self.warning
        if self.messages:
            body["response_metadata"] = {"messages": list(self.messages)}
        return body


def check_text(text: str, *, limit: int) -> None:
    """Refuse text longer than ``limit`` characters."""
    if len(text) > limit:
        raise ApiFailure("msg_too_long")


def check_blocks(value: object, *, limit: int = MAX_BLOCKS) -> Blocks:
    """Return ``value`` as blocks, or raise the error Slack gives for it.

    ``value`` may be a list (JSON bodies) or a JSON string (form bodies).
    """
    blocks = _decode(value)
    if len(blocks) > limit:
        raise _invalid(f"no more than {limit} items allowed", "/blocks")
    for index, block in enumerate(blocks):
        problem = _block_problem(block)
        if problem:
            raise _invalid(problem, f"/blocks/{index}")
    return blocks


def _decode(value: object) -> Blocks:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ApiFailure("invalid_blocks_format") from None
    if not isinstance(value, list):
        raise ApiFailure("invalid_blocks_format")
    return value


def _invalid(message: str, pointer: str) -> ApiFailure:
    # Slack explains invalid_blocks in response_metadata.messages with a JSON pointer; so do we,
    # because "which block?" is the first question when a test fails on it.
    return ApiFailure("invalid_blocks", messages=[f"[ERROR] {message} [json-pointer:{pointer}]"])


def _block_problem(block: object) -> str | None:
    if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
        return "a block must be an object with a type"
    kind = block["type"]
    if kind not in KNOWN_BLOCK_TYPES:
        return f"unknown block type {kind!r}"
    if kind == "header":
        return _text_problem(block.get("text"), MAX_HEADER_TEXT, required=True, where="header")
    if kind == "section":
        return _section_problem(block)
    if kind == "context":
        return _count_problem(block.get("elements"), MAX_CONTEXT_ELEMENTS, "context elements")
    if kind == "actions":
        return _count_problem(block.get("elements"), MAX_ACTIONS_ELEMENTS, "actions elements")
    if kind == "input":
        return _input_problem(block.get("element"))
    return None


def _input_problem(element: object) -> str | None:
    """What Slack refuses in a prefilled input: an initial option that is not one of the
    options, or an initial number that is not a number of the allowed kind."""
    if not isinstance(element, Mapping):
        return "an input block needs an element"
    kind = element.get("type")
    initial, options = element.get("initial_option"), element.get("options") or []
    if kind == "static_select" and initial is not None and initial not in options:
        return "initial_option must exactly match one of the options"
    if kind == "number_input" and "initial_value" in element:
        pattern = _DECIMAL if element.get("is_decimal_allowed") else _INTEGER
        if not pattern.fullmatch(str(element["initial_value"])):
            return "initial_value must be a number of the element's kind"
    return None


def _section_problem(block: Mapping[str, Any]) -> str | None:
    fields = block.get("fields")
    if block.get("text") is None and not fields:
        return "a section needs text or fields"
    if fields is not None:
        problem = _count_problem(fields, MAX_SECTION_FIELDS, "section fields")
        if problem:
            return problem
    if block.get("text") is None:
        return None
    return _text_problem(block.get("text"), MAX_SECTION_TEXT, required=True, where="section")


def _text_problem(text: object, limit: int, *, required: bool, where: str) -> str | None:
    if text is None:
        return f"{where} text is required" if required else None
    if not isinstance(text, Mapping) or not isinstance(text.get("text"), str):
        return f"{where} text must be a text object"
    if len(text["text"]) > limit:
        return f"{where} text must be at most {limit} characters"
    return None


def _count_problem(items: object, limit: int, what: str) -> str | None:
    if not isinstance(items, list) or not items:
        return f"{what} must be a non-empty list"
    if len(items) > limit:
        return f"no more than {limit} {what} allowed"
    return None
