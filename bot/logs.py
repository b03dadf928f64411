"""Logging: plain or JSON lines, with the job or request they concern, and no secret ever.

Every line goes through `mask_secrets` after formatting, exception text included, so a token
that reaches a log call by any road (an error message, a repr, a traceback) comes out masked.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

__all__ = ["configure_logging", "job_context", "mask_secrets", "request_context"]

job_context: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)
request_context: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

MASK = "[redacted]"
# Shapes of secrets whatever their value: Slack tokens, PEM keys, bearer headers, JWTs,
# Slack signatures and JWT-bearer assertions in form bodies.
_PATTERNS = [
    re.compile(r"xox[abposre]-[A-Za-z0-9-]+"),
    re.compile(r"xapp-[A-Za-z0-9-]+"),
    re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL
    ),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    re.compile(r"v0=[0-9a-f]{64}"),
    re.compile(
        r"(?i)((?:assertion|access_token|refresh_token|token|client_secret)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',}]{8,}"
    ),
]


class _Masker:
    def __init__(self) -> None:
        self.values: list[str] = []

    def remember(self, values: Iterable[str | None]) -> None:
        # Longest first, so a secret that contains another is masked whole.
        known = {v for v in (*self.values, *values) if v and len(v) >= 6}
        self.values = sorted(known, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(
                lambda m: (
                    (
                        m.group(1)
                        if m.groups() and m.group(1) and not m.group(1).startswith("-----")
                        else ""
                    )
                    + MASK
                ),
                text,
            )
        return text


mask_secrets = _Masker()


class _Plain(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        tags = " ".join(
            f"{k}={v}"
            for k, v in (("job", job_context.get()), ("request", request_context.get()))
            if v
        )
        return mask_secrets(f"{line} [{tags}]" if tags else line)


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if job_context.get():
            entry["job_id"] = job_context.get()
        if request_context.get():
            entry["request_id"] = request_context.get()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return mask_secrets(json.dumps(entry, ensure_ascii=False))


def configure_logging(
    *, level: str = "INFO", fmt: str = "text", secrets: Iterable[str | None] = ()
) -> None:
    """Send every log line to stderr, masked, as plain text or JSON."""
    mask_secrets.remember(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _Json() if fmt == "json" else _Plain("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    level = level.upper()
    root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
    # Alembic's INFO lines (its plugins, its DDL mode) tell an operator nothing;
    # `bot.store.migrate` logs what changed.
    logging.getLogger("alembic").setLevel(logging.WARNING)
