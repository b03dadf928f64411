"""Einstein's answers read: the JSON object of a success, or the `EinsteinError` a failure means.

An error's `kind` (see `bot.errors`) comes from the HTTP status and, for a 4xx, from Einstein's
own words, matched loosely because the live service's wording is not documented. Whatever is
quoted from Einstein goes through `plain_text` first: one line, no control characters, no
secrets, at most `QUOTE_LIMIT` characters.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.einstein.retry import parse_retry_after
from bot.errors import (
    EinsteinAuthError,
    EinsteinError,
    EinsteinErrorKind,
    EinsteinNotFound,
    EinsteinRejected,
    EinsteinUnavailable,
)

__all__ = [
    "QUOTE_LIMIT",
    "Answer",
    "check_answer",
    "einstein_message",
    "json_object",
    "plain_text",
    "read_answer",
]

QUOTE_LIMIT = 300

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer from Einstein, as received: status, raw body, `Retry-After` header."""

    status: int
    body: bytes
    retry_after: str | None


_WHITESPACE = re.compile(r"\s+")
_SECRETISH = re.compile(
    r"-----BEGIN[^-]*-----.*?(?:-----END[^-]*-----|$)"  # a PEM block, even a cut one
    r"|\bbearer\s+\S+"  # an Authorization header echoed back
    r"|\beyJ[\w-]*\.[\w-]+\.[\w-]*",  # a JWT (an assertion)
    re.IGNORECASE | re.DOTALL,
)


def plain_text(text: str, *, secrets: Iterable[str] = (), limit: int = QUOTE_LIMIT) -> str:
    """Outside text made fit to log or quote: one line, no control characters, no secrets,
    at most `limit` characters."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _SECRETISH.sub("[redacted]", text)
    text = _WHITESPACE.sub(" ", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf")).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _decode(body: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON object in `body`, or None and what the body is instead."""
    stripped = body.strip()
    if not stripped:
        return None, "an empty body"
    if stripped[:1] == b"<":
        return None, "an HTML page instead of JSON"
    try:
        decoded = json.loads(stripped)
    except ValueError:  # UnicodeDecodeError included
        return None, "malformed JSON"
    if not isinstance(decoded, dict):
        return None, "JSON that is not an object"
    return decoded, None


def einstein_message(body: bytes, *, secrets: Iterable[str] = ()) -> str | None:
    """The message in an error answer (`{"message": ...}`, or OAuth's `error_description`),
    made fit to quote with `plain_text`; None when there is none."""
    decoded, _ = _decode(body)
    if decoded is None:
        return None
    for key in ("message", "error_description", "error"):
        value = decoded.get(key)
        if isinstance(value, str) and value.strip():
            return plain_text(value, secrets=secrets)
    return None


def json_object(answer: Answer) -> dict[str, Any]:
    """The JSON object of a successful answer; an `EinsteinError` saying what the body is if not."""
    decoded, unlike_json = _decode(answer.body)
    if decoded is None:
        raise EinsteinError(
            f"Einstein answered with {unlike_json} (HTTP {answer.status})", status=answer.status
        )
    return decoded


def check_answer(answer: Answer, *, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """The JSON object of a successful answer, or the right error for any other."""
    return read_answer(answer, json_object, secrets=secrets)


def read_answer(answer: Answer, read: Callable[[Answer], T], *, secrets: Iterable[str] = ()) -> T:
    """What `read` makes of a successful answer, or the right error for any other."""
    status = answer.status
    if 200 <= status < 300:
        return read(answer)
    _, unlike_json = _decode(answer.body)
    said = einstein_message(answer.body, secrets=secrets)
    detail = f"HTTP {status}: {said}" if said else f"HTTP {status}"
    if unlike_json is not None and not said:
        detail += f"; it answered with {unlike_json}"
    if status >= 500:
        # Only a 503 promises that a Retry-After means "not processed, come back then".
        retry_after = parse_retry_after(answer.retry_after) if status == 503 else None
        raise EinsteinUnavailable(
            f"Einstein is unavailable ({detail})",
            status=status,
            retry_after=retry_after,
            einstein_message=said,
        )
    if status == 429:
        raise EinsteinUnavailable(
            f"Einstein asked the bot to slow down ({detail})",
            status=status,
            retry_after=parse_retry_after(answer.retry_after),
            kind="rate_limited",
            einstein_message=said,
        )
    if status == 401:
        raise EinsteinAuthError(
            f"Einstein refused the bot's credentials ({detail})",
            status=status,
            einstein_message=said,
        )
    if 400 <= status < 500:
        kind = _rejection_kind(status, said)
        error = EinsteinNotFound if kind == "not_found" else EinsteinRejected
        # `message` stays Einstein's own words where it gave some: callers show it as is.
        raise error(
            said or f"Einstein refused the request ({detail})",
            status=status,
            kind=kind,
            einstein_message=said,
        )
    raise EinsteinError(f"Einstein answered with an unexpected HTTP {status}", status=status)


# The live service's wording is undocumented: match loosely, and fall back to quoting it.
_TOO_MANY_WORDS = re.compile(
    r"\bwords?\b.*(3[ ,.]?000[ ,.]?000|3\s*million|too many|at most|exceed|limit|maximum)"
    r"|(3[ ,.]?000[ ,.]?000|3\s*million|too many|exceed\w*|limit|maximum).*\bwords?\b",
    re.IGNORECASE,
)
# A feedback label the dataset lacks; checked before "not found", which it often also says.
_UNKNOWN_LABEL = re.compile(
    r"\b(expected\s*label|label)\b.*\b(invalid|not valid|unknown|not found|does not exist|"
    r"no such|must be|not (a |one of )?(the )?(dataset'?s? )?labels?)\b"
    r"|\b(invalid|unknown|no such)\s+(expected\s*)?label\b",
    re.IGNORECASE,
)
_NOT_READY = re.compile(r"\bnot\s+(yet\s+)?(available|ready)\b", re.IGNORECASE)
_BUSY = re.compile(
    r"\b(being|currently|already)\s+(being\s+)?train"
    r"|\btrain\w*\b.*\b(in progress|already|queued or running|at a time)\b"
    r"|\bone training per dataset\b",
    re.IGNORECASE,
)
_NOT_FOUND = re.compile(
    r"\bnot\s+found\b|\bdoes\s+not\s+exist\b|\bno such\b|\bunknown\s+(model|dataset)\b",
    re.IGNORECASE,
)
_INVALID = re.compile(
    r"\b(invalid|must|required|expected|unsupported|not valid|out of range|between|"
    r"unknown|not allowed|cannot be)\b",
    re.IGNORECASE,
)


# In this order: "not yet available for training" is about readiness, not a busy dataset.
_KINDS_BY_WORDING: tuple[tuple[re.Pattern[str], EinsteinErrorKind], ...] = (
    (_TOO_MANY_WORDS, "too_many_words"),
    (_NOT_READY, "dataset_not_ready"),
    (_BUSY, "dataset_busy"),
    (_NOT_FOUND, "not_found"),
)


def _rejection_kind(status: int, said: str | None) -> EinsteinErrorKind:
    text = said or ""
    if _UNKNOWN_LABEL.search(text):
        return "unknown_label"
    if status == 404:
        return "not_found"
    for pattern, kind in _KINDS_BY_WORDING:
        if pattern.search(text):
            return kind
    if status == 400 and _INVALID.search(text):
        return "invalid_parameter"
    return "rejected"
