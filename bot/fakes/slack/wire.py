"""HTTP plumbing of the fake: reading args the three ways Slack accepts them, writing replies."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.fakes.slack.checks import ApiFailure
from bot.fakes.slack.faults import Fault

__all__ = [
    "Reply",
    "basic_credentials",
    "channel_of",
    "fault_reply",
    "json_object",
    "read_args",
    "read_upload",
]


@dataclass(frozen=True)
class Reply:
    """What the fake answers: a JSON body (Web API) or plain text (response_url, upload URL)."""

    status: int
    body: dict[str, Any] | str
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """HTTP 200 and, for the Web API, ``"ok": true``; a redirect for a plain-text reply."""
        if isinstance(self.body, dict):
            return self.status == 200 and self.body.get("ok") is True
        return self.status == 200 or 300 <= self.status < 400

    @property
    def error(self) -> str | None:
        """Slack's error code, if the reply is a failure."""
        if isinstance(self.body, dict):
            error = self.body.get("error")
            return str(error) if error is not None else None
        return None if self.ok else self.body

    def to_response(self) -> web.Response:
        """The aiohttp response."""
        if isinstance(self.body, dict):
            return web.json_response(self.body, status=self.status, headers=self.headers)
        return web.Response(text=self.body, status=self.status, headers=self.headers)


async def read_args(request: web.Request) -> tuple[dict[str, Any], str | None]:
    """Merge query-string and body args, and take the token out of them.

    slack_sdk sends some methods as a query string with an empty body and others as JSON, so
    both are read; the Bearer header wins over a ``token`` arg.
    """
    args: dict[str, Any] = dict(request.query.items())
    if request.can_read_body:
        args.update(await _read_body_args(request))
    param_token = args.pop("token", None)
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return args, header.removeprefix("Bearer ").strip()
    return args, str(param_token) if param_token else None


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    """The login and password of an HTTP Basic ``Authorization`` header (the way slack_sdk
    sends an app's client ID and secret), or ``None``."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header.removeprefix("Basic ").strip(), validate=True)
    except ValueError:
        return None
    login, colon, password = decoded.decode("latin1").partition(":")
    return (login, password) if colon else None


async def _read_body_args(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        body = json_object(await request.read())
        if body is None:
            raise ApiFailure("invalid_json")
        return body
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    return {}


async def read_upload(request: web.Request) -> bytes:
    """The uploaded bytes: the raw body (slack_sdk) or the first file part of a multipart form."""
    if request.content_type != "multipart/form-data":
        return await request.read()
    form = await request.post()
    for value in form.values():
        if isinstance(value, web.FileField):
            return value.file.read()
    return b""


def json_object(raw: bytes) -> dict[str, Any] | None:
    """``raw`` parsed as a JSON object, or ``None``."""
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def channel_of(args: Mapping[str, Any]) -> str | None:
    """The channel a call names, for per-channel limits and faults."""
    channel = args.get("channel") or args.get("channel_id")
    return str(channel) if channel else None


def fault_reply(fault: Fault, *, json_body: bool) -> Reply:
    """The reply for a scripted or random fault."""
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    body: dict[str, Any] | str = {"ok": False, "error": fault.error} if json_body else fault.error
    return Reply(fault.status, body, headers)
