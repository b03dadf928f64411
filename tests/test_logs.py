"""Logs: JSON lines with the job or request they concern, and secrets masked everywhere."""

from __future__ import annotations

import json
import logging

import pytest

from bot.logs import MASK, configure_logging, job_context, mask_secrets, request_context


@pytest.fixture
def restore_logging() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield None
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_json_lines_carry_job_and_request(
    restore_logging: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """LOG_FORMAT=json: one JSON object a line, with job_id and request_id when known."""
    configure_logging(fmt="json", secrets=["configured-secret-value"])
    job_context.set("job123")
    request_context.set("req456")
    logging.getLogger("bot.test").warning("posted with configured-secret-value")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    entry = json.loads(line)
    assert entry["job_id"] == "job123"
    assert entry["request_id"] == "req456"
    assert entry["level"] == "WARNING"
    assert "configured-secret-value" not in line
    assert MASK in entry["message"]


@pytest.mark.parametrize(
    "secret",
    [
        "xoxb-1234-5678-abcdefABCDEF",
        "xapp-1-A0123-456-abcdef",
        "Authorization: Bearer ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
        "assertion=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl",
        "v0=" + "ab" * 32,
        'access_token": "QWERTYUIOPASDFGHJKLZXCVBNM"',
    ],
)
def test_shapes_of_secrets_are_masked(secret: str) -> None:
    """Tokens, keys, bearer headers, JWTs and signatures are masked whatever their value."""
    masked = mask_secrets(f"before {secret} after")
    assert MASK in masked
    assert "before" in masked
    for part in (
        "1234-5678",
        "ABCDEFGHIJKLMNOP",
        "MIIEvQIBADAN",
        "eyJzdWIi",
        "ab" * 32,
        "QWERTYUIOP",
    ):
        assert part not in masked


def test_tracebacks_are_masked_too(
    restore_logging: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """An exception whose text holds a token is masked in the logged traceback."""
    configure_logging(fmt="text")
    try:
        raise RuntimeError("failed with xoxb-9999-leaky-token")
    except RuntimeError:
        logging.getLogger("bot.test").exception("boom")
    err = capsys.readouterr().err
    assert "xoxb-9999" not in err
    assert "RuntimeError" in err
