"""Slack mrkdwn to terminal text: markers become ANSI styles (or vanish), links become readable.

Only the styling that helps a reader in a terminal is kept, and only when ``color`` is on; plain
output stays plain so tests can compare it and logs stay clean.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["EMOJI", "Style", "emoji", "mrkdwn_to_text", "replace_emoji", "visible_len", "wrap"]

EMOJI = {
    "white_check_mark": "✅",
    "heavy_check_mark": "✔",
    "x": "❌",
    "warning": "⚠️",
    "rotating_light": "🚨",
    "hourglass": "⌛",
    "hourglass_flowing_sand": "⏳",
    "stopwatch": "⏱",
    "rocket": "🚀",
    "tada": "🎉",
    "robot_face": "🤖",
    "gear": "⚙️",
    "information_source": "\u2139\ufe0f",  # written escaped: it looks like a letter i
    "bar_chart": "📊",
    "chart_with_upwards_trend": "📈",
    "large_green_circle": "🟢",
    "large_yellow_circle": "🟡",
    "red_circle": "🔴",
    "black_square_for_stop": "⏹",
    "arrows_counterclockwise": "🔄",
    "no_entry_sign": "🚫",
    "thumbsup": "👍",
    "+1": "👍",
    "eyes": "👀",
    "link": "🔗",
    "memo": "📝",
}

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CODE = re.compile(r"```(.*?)```|`([^`\n]+)`", re.DOTALL)
_ANGLE = re.compile(r"<([^<>\n]+)>")
_BOLD = re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])")
_EMOJI = re.compile(r":([a-z0-9_+\-]+):")


@dataclass(frozen=True)
class Style:
    """ANSI styling, or none at all when ``color`` is off."""

    color: bool = False

    def _sgr(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color and text else text

    def bold(self, text: str) -> str:
        """Bold."""
        return self._sgr("1", text)

    def italic(self, text: str) -> str:
        """Italic."""
        return self._sgr("3", text)

    def strike(self, text: str) -> str:
        """Struck through."""
        return self._sgr("9", text)

    def dim(self, text: str) -> str:
        """Faint, for context lines."""
        return self._sgr("2", text)

    def code(self, text: str) -> str:
        """Inline code: cyan in colour, backticks in plain text."""
        return self._sgr("36", text) if self.color else f"`{text}`"

    def link(self, text: str) -> str:
        """Link text."""
        return self._sgr("4", text)

    def green(self, text: str) -> str:
        """Primary buttons."""
        return self._sgr("32", text)

    def red(self, text: str) -> str:
        """Danger buttons."""
        return self._sgr("31", text)

    def heading(self, text: str) -> str:
        """Event headlines."""
        return self._sgr("1;34", text)


def emoji(name: str) -> str:
    """The unicode for a few common Slack emoji names; others stay ``:name:``."""
    return EMOJI.get(name, f":{name}:")


def replace_emoji(text: str) -> str:
    """Swap known ``:name:`` codes for unicode (plain_text with ``emoji: true`` does this)."""
    return _EMOJI.sub(lambda m: emoji(m.group(1)), text)


def mrkdwn_to_text(text: str, *, style: Style) -> str:
    """Convert Slack mrkdwn, leaving code spans and blocks untouched inside."""
    out: list[str] = []
    position = 0
    for match in _CODE.finditer(text):
        out.append(_inline(text[position : match.start()], style))
        block, inline = match.group(1), match.group(2)
        if block is not None:
            out.append(_code_block(block, before=text[: match.start()], after=text[match.end() :]))
        else:
            out.append(style.code(html.unescape(inline)))
        position = match.end()
    out.append(_inline(text[position:], style))
    return "".join(out)


def _code_block(code: str, *, before: str, after: str) -> str:
    # Slack shows a code block on lines of its own even when text touches the fences.
    lead = "\n" if before and not before.endswith("\n") else ""
    trail = "\n" if after and not after.startswith("\n") else ""
    return f"{lead}{html.unescape(code.strip(chr(10)))}{trail}"


def _inline(text: str, style: Style) -> str:
    text = _ANGLE.sub(lambda m: _angle(m.group(1), style), text)
    text = _BOLD.sub(lambda m: style.bold(m.group(1)), text)
    text = _ITALIC.sub(lambda m: style.italic(m.group(1)), text)
    text = _STRIKE.sub(lambda m: style.strike(m.group(1)), text)
    return html.unescape(replace_emoji(text))


def _angle(inner: str, style: Style) -> str:
    """``<...>`` forms: mentions, channels, special mentions and links."""
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return f"@{label or target[1:]}"
    if target.startswith("#"):
        return f"#{label or target[1:]}"
    if target.startswith("!subteam^"):
        return label or f"@{target.removeprefix('!subteam^')}"
    if target.startswith("!date^"):
        return label
    if target.startswith("!"):
        return f"@{target[1:]}"
    if label and label != target:
        return f"{style.link(label)} ({target})"
    return style.link(target)


def visible_len(text: str) -> int:
    """Length on screen, ignoring ANSI escapes."""
    return len(_ANSI.sub("", text))


def wrap(text: str, width: int, *, measure: Callable[[str], int] = visible_len) -> list[str]:
    """Word-wrap each line of ``text`` to ``width`` visible columns; long words stay whole."""
    if "\x1b" not in text:
        return [
            wrapped
            for line in text.split("\n")
            for wrapped in (textwrap.wrap(line, width, break_long_words=False) or [""])
        ]
    return [wrapped for line in text.split("\n") for wrapped in _wrap_styled(line, width, measure)]


def _wrap_styled(line: str, width: int, measure: Callable[[str], int]) -> list[str]:
    # textwrap counts escape codes as text, so styled lines are wrapped by hand on spaces.
    lines: list[str] = []
    current = ""
    for word in line.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and measure(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    lines.append(current)
    return lines
