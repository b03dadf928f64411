"""Requests as Slack sends them to the bot: signed slash commands, interactivity payloads and
Events API callbacks.

Tests and benchmarks use these to hit the bot's real HTTP endpoint, so the signature check, the
form parsing and Slack's 3-second deadline are all exercised.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.fakes.slack.events import event_callback

__all__ = [
    "SLACK_TIMEOUT",
    "SentRequest",
    "interactivity_body",
    "post_event",
    "send_event",
    "send_interaction",
    "send_slash_command",
    "sign_slack_request",
    "slash_command_body",
]

# Slack gives up on a slash command or interaction after 3 s and shows the user an error.
SLACK_TIMEOUT = 3.0


@dataclass(frozen=True)
class SentRequest:
    """The bot's answer to a request sent the way Slack sends it."""

    status: int
    headers: Mapping[str, str]
    body: str
    elapsed: float

    def json(self) -> Any:
        """The body parsed as JSON (``ValueError`` if it is not)."""
        return json.loads(self.body)


def sign_slack_request(*, signing_secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The two headers Slack signs every request with (v0 HMAC-SHA256 of ``v0:{ts}:{body}``)."""
    base = f"v0:{timestamp}:".encode() + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}


def slash_command_fields(
    *,
    command: str = "/retrain",
    text: str,
    user_id: str,
    channel_id: str,
    team_id: str = "T0001",
    response_url: str,
    trigger_id: str | None = None,
    user_name: str = "tester",
    channel_name: str = "general",
    api_app_id: str = "A0001",
    team_domain: str = "fake",
    enterprise_id: str | None = None,
    enterprise_name: str | None = None,
    is_enterprise_install: bool | None = None,
    token: str = "fake-verification-token",  # noqa: S107 - Slack's deprecated, unchecked field
) -> dict[str, str]:
    """A slash command's fields in Slack's order (a form body over HTTP, a Socket Mode
    envelope's payload).

    ``enterprise_id`` and ``enterprise_name`` are sent only for a workspace of an Enterprise
    org, as Slack does; ``is_enterprise_install`` (``"true"``/``"false"``) is sent when given,
    and as ``"false"`` for an org's workspace when not, so a body without them stays the one
    the bot always got.
    """
    fields = {"token": token, "team_id": team_id, "team_domain": team_domain}
    if enterprise_id is not None:
        fields["enterprise_id"] = enterprise_id
        fields["enterprise_name"] = enterprise_name or enterprise_id
    fields |= {
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
        "api_app_id": api_app_id,
    }
    if is_enterprise_install is None and enterprise_id is not None:
        is_enterprise_install = False
    if is_enterprise_install is not None:
        fields["is_enterprise_install"] = "true" if is_enterprise_install else "false"
    return fields


def slash_command_body(**fields: Any) -> bytes:
    """A slash-command form body with Slack's fields in Slack's order (see
    `slash_command_fields` for the arguments)."""
    return urlencode(slash_command_fields(**fields)).encode()


def interactivity_body(payload: Mapping[str, Any]) -> bytes:
    """An interactivity form body: one ``payload`` field holding the JSON."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()


async def send_slash_command(
    session: aiohttp.ClientSession,
    url: str,
    *,
    signing_secret: str,
    text: str,
    user_id: str,
    channel_id: str,
    response_url: str,
    timestamp: int | None = None,
    timeout: float = SLACK_TIMEOUT,  # noqa: ASYNC109 - Slack's own deadline, part of the contract
    **extra: str | bool | None,
) -> SentRequest:
    """POST a signed ``/retrain`` (or ``command=...``) to the bot, as Slack would.

    ``extra`` goes to ``slash_command_body``. Raises ``TimeoutError`` past ``timeout``, which is
    when Slack would show the user ``operation_timeout``.
    """
    body = slash_command_body(
        text=text, user_id=user_id, channel_id=channel_id, response_url=response_url, **extra
    )
    return await _post_signed(
        session, url, body, signing_secret=signing_secret, timestamp=timestamp, timeout=timeout
    )


async def send_interaction(
    session: aiohttp.ClientSession,
    url: str,
    *,
    signing_secret: str,
    payload: Mapping[str, Any],
    timestamp: int | None = None,
    timeout: float = SLACK_TIMEOUT,  # noqa: ASYNC109 - Slack's own deadline, part of the contract
) -> SentRequest:
    """POST a signed interactivity payload (button click, modal submission) to the bot."""
    body = interactivity_body(payload)
    return await _post_signed(
        session, url, body, signing_secret=signing_secret, timestamp=timestamp, timeout=timeout
    )


async def send_event(
    session: aiohttp.ClientSession,
    url: str,
    *,
    signing_secret: str,
    team_id: str,
    event: Mapping[str, Any],
    enterprise_id: str | None = None,
    api_app_id: str = "A0001",
    user_id: str = "U0BOT",
    is_enterprise_install: bool = False,
    event_id: str | None = None,
    timestamp: int | None = None,
    timeout: float = SLACK_TIMEOUT,  # noqa: ASYNC109 - Slack's own deadline, part of the contract
) -> SentRequest:
    """POST one signed Events API callback (``event`` in its ``event_callback`` envelope, see
    ``events.event_callback``) to the bot's Request URL, as JSON."""
    envelope = event_callback(
        team_id=team_id,
        event=event,
        enterprise_id=enterprise_id,
        api_app_id=api_app_id,
        user_id=user_id,
        is_enterprise_install=is_enterprise_install,
        event_id=event_id,
    )
    return await post_event(
        session, url, envelope, signing_secret=signing_secret, timestamp=timestamp, timeout=timeout
    )


async def post_event(
    session: aiohttp.ClientSession,
    url: str,
    envelope: Mapping[str, Any],
    *,
    signing_secret: str,
    timestamp: int | None = None,
    timeout: float = SLACK_TIMEOUT,  # noqa: ASYNC109 - Slack's own deadline, part of the contract
) -> SentRequest:
    """POST an envelope already built, signed, as JSON."""
    body = json.dumps(envelope, separators=(",", ":")).encode()
    return await _post_signed(
        session,
        url,
        body,
        signing_secret=signing_secret,
        timestamp=timestamp,
        timeout=timeout,
        content_type="application/json",
    )


def new_trigger_id() -> str:
    """A trigger id in Slack's ``<digits>.<digits>.<hex>`` shape."""
    return f"1700000000.4242.{secrets.token_hex(16)}"


async def _post_signed(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    *,
    signing_secret: str,
    timestamp: int | None,
    timeout: float,  # noqa: ASYNC109 - passed to aiohttp, which enforces it
    content_type: str = "application/x-www-form-urlencoded",
) -> SentRequest:
    stamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": content_type,
        **sign_slack_request(signing_secret=signing_secret, body=body, timestamp=stamp),
    }
    started = time.perf_counter()
    async with session.post(
        url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as response:
        text = await response.text()
        return SentRequest(
            status=response.status,
            headers=response.headers.copy(),
            body=text,
            elapsed=time.perf_counter() - started,
        )
