"""Requests as Slack sends them to the bot: signed slash commands and interactivity payloads.

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

__all__ = [
    "SLACK_TIMEOUT",
    "SentRequest",
    "interactivity_body",
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
    token: str = "fake-verification-token",  # noqa: S107 - Slack's deprecated, unchecked field
) -> dict[str, str]:
    """A slash command's fields in Slack's order (a form body over HTTP, a Socket Mode
    envelope's payload)."""
    return {
        "token": token,
        "team_id": team_id,
        "team_domain": team_domain,
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
    **extra: str,
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
) -> SentRequest:
    stamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
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
