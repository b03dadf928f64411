"""What the user is told about each Einstein error: plain words, a next step, safe quoting."""

from __future__ import annotations

import pytest

from bot.einstein.explain import explain, quote
from bot.errors import (
    EinsteinAuthError,
    EinsteinError,
    EinsteinErrorKind,
    EinsteinNotFound,
    EinsteinRejected,
    EinsteinUnavailable,
)

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"


def rejected(kind: EinsteinErrorKind, said: str | None, *, status: int = 400) -> EinsteinRejected:
    return EinsteinRejected(said or "refused", status=status, kind=kind, einstein_message=said)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            rejected("dataset_busy", "The dataset is currently being trained (model X)."),
            "Another training of this model's dataset is queued or running; Einstein trains one "
            "model per dataset at a time. Try again when it has finished — `/retrain list` shows "
            "what the bot follows.",
        ),
        (
            EinsteinUnavailable("Einstein is unavailable (HTTP 503)", status=503),
            "Einstein is unavailable right now (HTTP 503). Nothing was started; "
            "try again in a few minutes.",
        ),
        (
            EinsteinAuthError("Einstein refused the bot's credentials (HTTP 401)", status=401),
            "The bot's Einstein credentials were refused; ask the person who runs the bot to "
            "check them.",
        ),
    ],
)
def test_documented_wordings(error: EinsteinError, expected: str) -> None:
    """The busy dataset, an outage and refused credentials read exactly as agreed."""
    assert explain(error, model_id=MODEL) == expected


@pytest.mark.parametrize(
    ("error", "says", "next_step"),
    [
        (
            rejected("too_many_words", "The dataset has 3,200,000 words; at most 3,000,000."),
            "more than 3 million words",
            "Remove or shorten examples",
        ),
        (rejected("dataset_not_ready", None), "still being uploaded", "Try again once"),
        (
            EinsteinNotFound("Model not found: X", status=404, einstein_message="Model not found"),
            f"does not know the model `{MODEL}`",
            "Check the id",
        ),
        (
            rejected("invalid_parameter", "epochs must be an integer between 1 and 1000, got '0'"),
            "Einstein refused a parameter: “epochs must be an integer between 1 and 1000, got '0'”",
            "`/retrain help`",
        ),
        (
            rejected("rejected", None, status=403),
            "(HTTP 403) without saying why",
            "`/retrain help`",
        ),
        (
            EinsteinUnavailable("slow down", status=429, kind="rate_limited", retry_after=120),
            "asked the bot to slow down, HTTP 429",
            "try again in 2 minutes",
        ),
        (
            EinsteinUnavailable("slow down", status=429, kind="rate_limited", retry_after=5),
            "HTTP 429",
            "try again in 5 seconds",
        ),
        (
            EinsteinUnavailable("no answer", kind="timeout"),
            "did not answer in time). Nothing was started as far as the bot can tell",
            "try again in a few minutes",
        ),
        (
            EinsteinUnavailable("refused", kind="unreachable"),
            "could not connect to it). Nothing was started;",
            "try again in a few minutes",
        ),
        (
            EinsteinUnavailable("connection reset"),
            "(the connection broke)",
            "try again in a few minutes",
        ),
        (
            EinsteinError("Einstein answered with an HTML page instead of JSON (HTTP 502)"),
            "Einstein answered with an HTML page instead of JSON (HTTP 502).",
            f"`/retrain status {MODEL}`",
        ),
    ],
)
def test_every_kind_has_words_and_a_next_step(
    error: EinsteinError, says: str, next_step: str
) -> None:
    """Each kind of error says what happened and what to do next."""
    text = explain(error, model_id=MODEL)
    assert says in text
    assert next_step in text


def test_an_unclassified_refusal_quotes_einstein() -> None:
    """A 4xx the client could not classify falls back to quoting Einstein's words."""
    text = explain(rejected("rejected", "Something unforeseen happened"), model_id=MODEL)
    assert "“Something unforeseen happened”" in text


def test_quoted_text_is_cut_to_300_characters() -> None:
    """A long message from Einstein is shortened, not dumped."""
    text = explain(rejected("invalid_parameter", "x" * 5000), model_id=MODEL)
    quoted = text.split("“")[1].split("”")[0]
    assert len(quoted) == 300
    assert quoted.endswith("…")


def test_quoted_text_cannot_mention_or_format() -> None:
    """Slack's markup characters and control characters in Einstein's text are neutralised."""
    said = "bad <!channel> & <@U123>\x00\x1b[31m\u202eline\nbreak"
    text = explain(rejected("invalid_parameter", said), model_id=MODEL)
    assert "<" not in text
    assert ">" not in text
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in text
    assert not any(ch in text for ch in "\x00\x1b\u202e\n")


def test_the_model_id_is_escaped_too() -> None:
    """Even the model id is quoted safely, whatever produced it."""
    text = explain(EinsteinNotFound("nope", status=404), model_id="<!here>")
    assert "&lt;!here&gt;" in text
    assert "<!here>" not in text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain", "plain"),
        ("  spaced\tout\n", "spaced out"),
        ("a & b < c > d", "a &amp; b &lt; c &gt; d"),
        ("zero\u200bwidth", "zerowidth"),
        ("Authorization: Bearer ABCDEF123", "Authorization: [redacted]"),
    ],
)
def test_quote(raw: str, shown: str) -> None:
    """`quote` makes one safe line of outside text."""
    assert quote(raw) == shown
