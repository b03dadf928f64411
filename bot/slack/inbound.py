"""Slack's HTTP requests as Bolt reads them, with a form body read by its fields.

Bolt's own reading (`slack_bolt.request.internals.parse_body`) takes any form body that
contains the text "payload" anywhere for an interactivity payload, and one without a `payload=`
field for an empty body. A `/retrain` typed in `#payload-models`, or by a user named
`payload-admin`, or with the word in its text, then matched no listener: the bot answered 404
and Slack showed `dispatch_failed`. Here a form body is an interactivity payload only when it
has a `payload` field, which is how Slack sends one; any other form body is its fields.

The raw body is kept exactly as it came, since it is what Bolt's signature check verifies; only
the parsed body and the context built from it (user, channel and team IDs) change. Socket Mode
requests arrive parsed already (a dict), so they never go through this.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest

__all__ = ["SlackRequest", "read_form", "to_bolt_request"]

_PAYLOAD = "payload"  # the one field of an interactivity request's form body


def read_form(raw_body: str) -> dict[str, Any]:
    """A form body's fields, or the JSON of its `payload` field when it has one.

    A `payload` that is not a JSON object reads as an empty body: Bolt then answers such a
    request 401 (unsigned) or 404, never with a traceback.
    """
    fields = dict(parse_qsl(raw_body, keep_blank_values=True))
    if _PAYLOAD not in fields:
        return fields
    try:
        payload = json.loads(fields[_PAYLOAD])
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _is_json(raw_body: str, content_type: str | None) -> bool:
    # The same test Bolt makes before it looks for "payload".
    return content_type == "application/json" or raw_body.startswith("{")


class SlackRequest(AsyncBoltRequest):
    """An `AsyncBoltRequest` whose form body is read by `read_form` instead of Bolt's guess."""

    def __init__(
        self,
        *,
        body: str | dict[str, Any],
        query: str | Mapping[str, str] | Mapping[str, Sequence[str]] | None = None,
        headers: Mapping[str, str | Sequence[str]] | None = None,
        context: dict[str, Any] | None = None,
        mode: str = "http",
    ) -> None:
        super().__init__(
            body=body,
            query=query,  # type: ignore[arg-type]  # Bolt's annotation is dict; it reads any mapping
            headers=headers,  # type: ignore[arg-type]  # likewise
            context=context,
            mode=mode,
        )
        # Bolt guesses only when the text "payload" is in the body; otherwise its reading is
        # this one, and a second parse would only cost every request its time.
        raw = self.raw_body
        if isinstance(body, str) and _PAYLOAD in raw and not _is_json(raw, self.content_type):
            self.body = read_form(raw)
            self.context = build_async_context(AsyncBoltContext(context or {}), self.body)

    def to_copyable(self) -> SlackRequest:
        # Bolt copies a request for lazy listeners by parsing the raw body again: keep our reading.
        body: str | dict[str, Any] = self.raw_body if self.mode == "http" else self.body
        return SlackRequest(
            body=body,
            query=self.query,
            headers=self.headers,
            context=self.context.to_copyable(),
            mode=self.mode,
        )


async def to_bolt_request(request: web.Request) -> SlackRequest:
    """`slack_bolt.adapter.aiohttp.to_bolt_request`, reading the form body by its fields."""
    return SlackRequest(
        body=await request.text(), query=request.query_string, headers=request.headers
    )
