"""One Slack Web API attempt, and what its failure means: try again later, or never.

Every failure of an attempt comes back as `SlackError` (transient) or `SlackRefused`
(permanent), never as a slack_sdk or aiohttp exception (`is_transient`):

- transient, retried by the outbox with exponential backoff and jitter (429: after
  `Retry-After`, for every call of the method), for as long as someone waits for the answer:
  HTTP 429, 408 and 5xx; `ratelimited`, `rate_limited`, `internal_error`, `fatal_error`,
  `service_unavailable`, `request_timeout`, `team_added_to_org`; connection errors; no answer
  within `call_timeout`.
- permanent, everything else: `channel_not_found`, `not_in_channel`, `is_archived`,
  `invalid_auth`, `not_authed`, `account_inactive`, `token_revoked`, `missing_scope`,
  `invalid_blocks`, `msg_too_long`, `no_text`, `message_not_found`, `cant_update_message`,
  `edit_window_closed`, `restricted_action`, `thread_not_found`, ... The call is dropped, logged
  with its job, and the caller gets `SlackRefused` carrying the code, to join, tell or give up.
  An unknown code counts as permanent: retrying a refusal forever would stall every later post
  in the channel, while the caller can always try again.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import SlackError, SlackRefused

__all__ = [
    "RATE_LIMITED_CODES",
    "TRANSIENT_CODES",
    "Response",
    "api_name",
    "is_transient",
    "outcome_of",
    "send_once",
]

Response = dict[str, Any]

TRANSIENT_CODES = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        # Slack answers this while a workspace moves into an Enterprise Grid org.
        "team_added_to_org",
        # Ours: the request got no answer.
        "connection",
        "timeout",
    }
)
RATE_LIMITED_CODES = frozenset({"ratelimited", "rate_limited"})


def outcome_of(exc: SlackError) -> str:
    """A failed attempt as the metrics count it: 429s apart from other transient failures."""
    if exc.code in RATE_LIMITED_CODES:
        return "rate_limited"
    return "refused" if exc.permanent else "transient"


def api_name(method: str) -> str:
    """The Web API's name of a slack_sdk method: `chat_postMessage` is `chat.postMessage`."""
    return _API_NAMES.get(method) or method.replace("_", ".")


# slack_sdk methods whose Web API names keep an underscore.
_API_NAMES = {"files_upload_v2": "files.upload_v2"}


def is_transient(code: str, *, status: int | None = None) -> bool:
    """Whether the same call may succeed later: rate limits, outages, network trouble."""
    if status is not None and (status in (408, 429) or status >= 500):
        return True
    return code in TRANSIENT_CODES


async def send_once(
    client: AsyncWebClient, method: str, kwargs: dict[str, Any], *, call_timeout: float
) -> Response:
    """One attempt; every failure comes back as `SlackError` or `SlackRefused`.

    A post that timed out or lost its connection may still have reached Slack, and Slack
    has no idempotency key, so its retry can post twice; the job metadata on every post is
    what lets a reader tell the copies apart.
    """
    try:
        async with asyncio.timeout(call_timeout):
            response = await getattr(client, method)(**kwargs)
    except SlackApiError as exc:
        raise _api_failure(method, exc) from None
    except TimeoutError:
        raise SlackError(f"Slack {method} timed out", code="timeout") from None
    except (aiohttp.ClientError, OSError) as exc:
        name = exc.__class__.__name__
        raise SlackError(f"Slack {method} failed: {name}", code="connection") from None
    except SlackRequestError as exc:
        # files_upload_v2 reports a failed POST to its upload URL this way; a new attempt
        # gets a new URL. Other SlackRequestErrors are arguments it refuses.
        if str(exc).startswith("Failed to upload a file"):
            raise SlackError(f"Slack {method} upload failed", code="connection") from None
        raise SlackRefused(f"Slack {method} refused: {exc}", code="invalid_arguments") from None
    except SlackClientError as exc:
        name = exc.__class__.__name__
        raise SlackRefused(f"Slack {method} refused: {name}", code=name) from None
    data = response.data
    if not isinstance(data, dict):
        raise SlackRefused(f"Slack {method} answered no JSON", code="unexpected_response")
    return data


def _api_failure(method: str, exc: SlackApiError) -> SlackError:
    # slack_sdk hands over its own response, or aiohttp's when the body was not JSON.
    response = exc.response
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    status = status if isinstance(status, int) else None
    data = getattr(response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    code = "ratelimited" if status == 429 else str(error or status or "unknown")
    retry_after = _retry_after(getattr(response, "headers", None))
    kind = SlackError if is_transient(code, status=status) else SlackRefused
    return kind(f"Slack {method} failed: {code}", code=code, retry_after=retry_after)


def _retry_after(headers: object) -> float | None:
    """`Retry-After` in seconds; Slack sends whole seconds, never an HTTP date."""
    items = getattr(headers, "items", None)
    if items is None:
        return None
    for key, value in items():
        if str(key).lower() == "retry-after":
            try:
                seconds = float(value)
            except ValueError:
                return None
            return seconds if seconds >= 0 else None
    return None
