"""Reading Web API args that arrive as JSON values or as strings.

Form bodies and query strings carry everything as text: slack_sdk turns booleans into "1"/"0" and
lists or objects into JSON strings. These helpers accept both forms.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, TypeVar

from bot.fakes.slack.checks import ApiFailure, check_blocks
from bot.fakes.slack.records import Blocks, Metadata

__all__ = ["Args", "blocks_arg", "content", "flag", "json_list", "metadata_arg", "opt_str", "page"]

Args = Mapping[str, Any]
_T = TypeVar("_T")


def content(args: Args) -> tuple[str, Blocks | None]:
    """Text and blocks of a new message; Slack wants at least one of them."""
    text = opt_str(args, "text") or opt_str(args, "markdown_text") or ""
    blocks = blocks_arg(args)
    if not text and not blocks:
        raise ApiFailure("no_text")
    return text, blocks


def blocks_arg(args: Args) -> Blocks | None:
    """The ``blocks`` arg checked against Slack's limits, or ``None`` if absent."""
    value = args.get("blocks")
    return None if value is None else check_blocks(value)


def metadata_arg(args: Args) -> Metadata | None:
    """The ``metadata`` arg (object or JSON string), or ``None`` if absent."""
    value = args.get("metadata")
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ApiFailure("invalid_metadata_format") from None
    if not isinstance(value, Mapping) or not isinstance(value.get("event_type"), str):
        raise ApiFailure("invalid_metadata_format")
    payload = value.get("event_payload", {})
    if not isinstance(payload, Mapping):
        raise ApiFailure("invalid_metadata_format")
    return Metadata(event_type=value["event_type"], event_payload=dict(payload))


def json_list(value: object) -> list[Mapping[str, object]]:
    """A list of objects given as a list or a JSON string (``files`` of completeUploadExternal)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ApiFailure("invalid_arguments") from None
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise ApiFailure("invalid_arguments")
    return value


def opt_str(args: Args, key: str) -> str | None:
    """A string arg, with "" treated as absent."""
    value = args.get(key)
    return None if value is None or value == "" else str(value)


def flag(args: Args, key: str) -> bool:
    """A boolean arg: ``true`` in JSON, "1" or "true" in a form or query string."""
    return args.get(key) in (True, 1, "1", "true", "True")


def page(items: list[_T], args: Args, *, default_limit: int) -> tuple[list[_T], str]:
    """One page of ``items`` and the cursor of the next ("" when this is the last)."""
    start = _decode_cursor(args.get("cursor"))
    try:
        limit = int(args.get("limit") or default_limit)
    except (TypeError, ValueError):
        raise ApiFailure("invalid_limit") from None
    limit = max(1, limit)
    end = start + limit
    cursor = _encode_cursor(end) if end < len(items) else ""
    return items[start:end], cursor


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: object) -> int:
    if not cursor:
        return 0
    try:
        prefix, _, offset = base64.urlsafe_b64decode(str(cursor)).decode().partition(":")
        if prefix != "offset":
            raise ValueError(prefix)
        return int(offset)
    except ValueError:
        raise ApiFailure("invalid_cursor") from None
