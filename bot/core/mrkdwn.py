"""Slack mrkdwn and the short texts shown in it. Pure.

`&`, `<` and `>` are Slack's markup characters: outside text shown in mrkdwn has them written as
`&amp;`, `&lt;` and `&gt;`, or Slack would read `<...>` as a link or mention. Slack sends typed
text the same way, so `unescape` gives back what was typed.

Every time shown in Slack goes through `local_time`: Slack's date formatting, which each reader
sees in their own time zone. Slack reads it only in mrkdwn text (section and context blocks);
the plain `text` of a message (notifications, screen readers) says `utc_time` instead.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = [
    "code_safe",
    "escape",
    "format_duration",
    "local_time",
    "percent",
    "shorten",
    "unescape",
    "utc_time",
]


def escape(text: str) -> str:
    """Slack mrkdwn would read `<...>` as a link or mention, even inside a code span."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    # Slack sends &, < and > as HTML entities; undo them so errors quote what was typed.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut to at most `limit` characters, the last one `…` when cut.

    Shorten before escaping, so that a cut never splits an entity like `&amp;`.
    """
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def code_safe(fragment: str, limit: int = 40) -> str:
    """User text made safe to quote inside a mrkdwn code span."""
    # On one line, as a line break would split the code span; no backtick, it would end it.
    return escape(shorten(fragment, limit).replace("`", "'"))


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def utc_time(moment: datetime) -> str:
    """`moment` in UTC to the minute, for plain text: `2026-11-27 06:07 UTC`."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def local_time(moment: datetime) -> str:
    """`moment` in each reader's time zone (Slack's date formatting), in UTC where a client
    cannot show that. For mrkdwn text only."""
    seconds = int(moment.timestamp())
    return f"<!date^{seconds}^{{date_short_pretty}} {{time}}|{utc_time(moment)}>"
