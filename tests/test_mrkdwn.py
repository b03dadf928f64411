"""Texts as the bot writes them in Slack mrkdwn: escaped, shortened, percentages and durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.core.mrkdwn import (
    code_safe,
    escape,
    format_duration,
    local_time,
    percent,
    shorten,
    unescape,
    utc_time,
)


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("plain", "plain"),
        ("R&D <team>", "R&amp;D &lt;team&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("&lt;", "&amp;lt;"),
    ],
    ids=["plain", "markup", "mention", "entity"],
)
def test_escape(text: str, escaped: str) -> None:
    """`&`, `<` and `>` become entities, `&` first so an entity in the text stays readable."""
    assert escape(text) == escaped


@pytest.mark.parametrize(
    "text", ["plain", "R&D <team>", "&lt; typed", "<!channel> & <@U1>", "&amp;&gt;"]
)
def test_unescape_undoes_escape(text: str) -> None:
    """What Slack sends escaped reads back as it was typed."""
    assert unescape(escape(text)) == text


@pytest.mark.parametrize(
    ("text", "limit", "shown"),
    [
        ("short", 10, "short"),
        ("x" * 10, 10, "x" * 10),
        ("x" * 11, 10, "x" * 9 + "…"),
        ("two\nlines\t here ", 40, "two lines here"),
        ("  a  b  ", 40, "a b"),
        ("no\u00a0break", 40, "no break"),
    ],
    ids=["short", "at-limit", "cut", "whitespace", "padding", "non-breaking-space"],
)
def test_shorten(text: str, limit: int, shown: str) -> None:
    """One line, runs of whitespace as one space, at most `limit` characters ending in `…`."""
    assert shorten(text, limit) == shown


@pytest.mark.parametrize(
    ("fragment", "shown"),
    [
        ("a`b", "a'b"),
        ("<x>", "&lt;x&gt;"),
        ("one\ntwo", "one two"),
        ("&" * 60, "&amp;" * 39 + "…"),
    ],
    ids=["backtick", "markup", "newline", "cut-before-escaping"],
)
def test_code_safe(fragment: str, shown: str) -> None:
    """User text quoted in a code span cannot end or split it, nor mention anyone."""
    assert code_safe(fragment) == shown


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "n/a"), (0.0, "0.0%"), (0.8766, "87.7%"), (1.0, "100.0%"), (0.00049, "0.0%")],
)
def test_percent(value: float | None, text: str) -> None:
    """A share as a percentage with one decimal; an unknown one as n/a."""
    assert percent(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-3, "0s"), (0, "0s"), (59.9, "59s"), (60, "1m 00s"), (3599, "59m 59s"), (3600, "1h 00m")],
)
def test_format_duration_edges(seconds: float, text: str) -> None:
    """Whole seconds, never negative; minutes from 60 s, hours from 3600 s."""
    assert format_duration(seconds) == text


def test_local_time_is_slack_date_formatting_with_a_utc_fallback() -> None:
    """A time in mrkdwn is Slack's date token (each reader's zone), falling back to UTC."""
    moment = datetime(2026, 11, 27, 7, 7, 39, tzinfo=timezone(timedelta(hours=1)))
    assert local_time(moment) == (
        f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|2026-11-27 06:07 UTC>"
    )


def test_utc_time_is_plain_utc_to_the_minute() -> None:
    """Plain text (a message's fallback) shows the time in UTC."""
    assert utc_time(datetime(2026, 11, 27, 6, 7, 59, tzinfo=UTC)) == "2026-11-27 06:07 UTC"
