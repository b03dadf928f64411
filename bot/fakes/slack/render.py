"""Block Kit and fake-Slack events as terminal text, for the offline demo and failing tests.

The aim is "what would a person see in Slack", not fidelity: buttons become ``[ Label ]``,
fields sit side by side, context is dimmed, and unknown blocks are named rather than dropped.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from itertools import zip_longest
from typing import Any

from bot.fakes.slack.mrkdwn import Style, emoji, mrkdwn_to_text, replace_emoji, visible_len, wrap
from bot.fakes.slack.reports import (
    ChannelJoined,
    EphemeralPosted,
    FileShared,
    MessagePosted,
    MessageUpdated,
    ReactionAdded,
    ResponseUrlPosted,
    SlackEvent,
    ViewRecorded,
)

__all__ = ["render_event", "render_message"]

Block = Mapping[str, Any]
_INDENT = "    "


def render_message(
    *,
    text: str | None,
    blocks: list[dict[str, Any]] | None,
    width: int = 80,
    color: bool = False,
) -> str:
    """A message as a terminal would show it; blocks win over text, as in Slack."""
    style = Style(color=color)
    if blocks:
        rendered = [_block(block, width, style) for block in blocks]
        return "\n".join(line for lines in rendered for line in lines)
    return "\n".join(wrap(mrkdwn_to_text(text or "", style=style), width))


def render_event(event: SlackEvent, *, width: int = 80, color: bool = False) -> str:
    """A headline for the event and, indented under it, the message it carries."""
    style = Style(color=color)
    headline, text, blocks = _describe(event)
    lines = [style.heading(headline)]
    if text or blocks:
        body = render_message(text=text, blocks=blocks, width=width - len(_INDENT), color=color)
        lines.append(textwrap.indent(body, _INDENT, lambda _: True))
    return "\n".join(lines)


Description = tuple[str, str | None, list[dict[str, Any]] | None]


def _describe(event: SlackEvent) -> Description:
    match event:
        case MessagePosted(message=m):
            if m.thread_ts:
                also = " · also sent to channel" if m.reply_broadcast else ""
                head = f"#{m.channel} ▸ thread reply to {m.thread_ts} (ts {m.ts}){also}"
            elif m.bot_id is None:
                head = f"#{m.channel} ▸ <@{m.user}> wrote (ts {m.ts})"
            else:
                head = f"#{m.channel} ▸ new message (ts {m.ts})"
            return head, m.text, m.blocks
        case MessageUpdated(message=m):
            return f"#{m.channel} ▸ message {m.ts} edited", m.text, m.blocks
        case EphemeralPosted(ephemeral=e):
            return f"#{e.channel} ▸ private to <@{e.user}>:", e.text, e.blocks
        case ResponseUrlPosted(post=p):
            return (
                _describe_response(p.response_type, p.replace_original, p.thread_ts),
                p.text,
                p.blocks,
            )
        case FileShared(file=f):
            where = f" in thread {f.thread_ts}" if f.thread_ts else ""
            place = f"#{f.channel}" if f.channel else "(not shared)"
            return (
                f"{place} ▸ file {f.filename} ({f.length:,} bytes){where}",
                f.initial_comment,
                None,
            )
        case ViewRecorded(view=v):
            blocks = v.view.get("blocks")
            return _describe_view(v.action, v.title, v.user_id), None, blocks or None
        case ReactionAdded(channel=channel, ts=ts, name=name):
            return f"#{channel} ▸ reacted {emoji(name)} to {ts}", None, None
        case ChannelJoined(channel=channel):
            return f"#{channel} ▸ bot joined the channel", None, None
    raise TypeError(f"not a fake Slack event: {event!r}")  # pragma: no cover - exhaustive


def _describe_response(response_type: str, replace_original: bool, thread_ts: str | None) -> str:
    notes = [response_type]
    if replace_original:
        notes.append("replaces original")
    if thread_ts:
        notes.append(f"in thread {thread_ts}")
    return f"response_url ▸ {', '.join(notes)}:"


def _describe_view(action: str, title: str, user_id: str | None) -> str:
    if action == "publish":
        return f"home tab published for <@{user_id}>"
    return f"modal {'opened' if action == 'open' else 'updated'}: {title}"


# --- blocks ---------------------------------------------------------------------------------


def _block(block: Block, width: int, style: Style) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        title = _text(block.get("text"), style)
        return [style.bold(title), "═" * min(max(visible_len(title), 1), width)]
    if kind == "section":
        return _section(block, width, style)
    if kind == "context":
        parts = [_context_element(e, style) for e in block.get("elements", [])]
        return [style.dim(line) for line in wrap(" · ".join(parts), width)]
    if kind == "divider":
        return ["─" * width]
    if kind == "actions":
        return _pack([_element(e, style) for e in block.get("elements", [])], width)
    if kind == "image":
        title = _text(block.get("title"), style)
        return [f"[image: {block.get('alt_text', '')}]" + (f" {title}" if title else "")]
    if kind == "rich_text":
        return _rich_text(block, width, style)
    if kind == "input":
        label = _text(block.get("label"), style)
        return wrap(f"{label}: {_element(block.get('element', {}), style)}", width)
    if kind == "markdown":
        return wrap(str(block.get("text", "")), width)
    return [f"[{kind} block]"]


def _section(block: Block, width: int, style: Style) -> list[str]:
    lines: list[str] = []
    if block.get("text"):
        lines += wrap(_text(block["text"], style), width)
    fields = [_text(field, style) for field in block.get("fields", [])]
    lines += _columns(fields, width)
    accessory = block.get("accessory")
    if accessory:
        lines.append(_element(accessory, style))
    return lines


def _pack(controls: list[str], width: int) -> list[str]:
    """Controls side by side, wrapping between them but never inside one."""
    lines = [""]
    for control in controls:
        candidate = f"{lines[-1]} {control}" if lines[-1] else control
        if lines[-1] and visible_len(candidate) > width:
            lines.append(control)
        else:
            lines[-1] = candidate
    return lines


def _columns(fields: list[str], width: int) -> list[str]:
    """Section fields two to a row, as Slack lays them out."""
    column = max((width - 2) // 2, 10)
    lines: list[str] = []
    for left, right in zip_longest(fields[::2], fields[1::2], fillvalue=""):
        left_lines, right_lines = wrap(left, column), wrap(right, column) if right else []
        for a, b in zip_longest(left_lines, right_lines, fillvalue=""):
            padding = " " * (column - visible_len(a) + 2)
            lines.append(f"{a}{padding}{b}".rstrip() if b else a)
    return lines


def _text(obj: object, style: Style) -> str:
    """A text object: mrkdwn is converted, plain_text taken as is (bar emoji names)."""
    if not isinstance(obj, Mapping):
        return ""
    text = str(obj.get("text", ""))
    if obj.get("type") == "mrkdwn":
        return mrkdwn_to_text(text, style=style)
    return replace_emoji(text) if obj.get("emoji", True) else text


def _context_element(element: Mapping[str, Any], style: Style) -> str:
    if element.get("type") == "image":
        return f"[{element.get('alt_text', 'image')}]"
    return _text(element, style)


def _element(element: Mapping[str, Any], style: Style) -> str:
    """An interactive element as a bracketed control."""
    kind = element.get("type")
    if kind == "button":
        label = f"[ {_text(element.get('text'), style)}{' ↗' if element.get('url') else ''} ]"
        if element.get("style") == "primary":
            return style.green(label)
        return style.red(label) if element.get("style") == "danger" else label
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if kind == "overflow":
        return "[ ⋯ ]"
    if kind in ("checkboxes", "radio_buttons"):
        return " ".join(f"☐ {_text(o.get('text'), style)}" for o in element.get("options", []))
    shown = element.get("initial_option", {}).get("text") or element.get("placeholder")
    value = _text(shown, style) or element.get("initial_date") or kind or "input"
    arrow = " ▾" if "select" in str(kind) else ""
    return f"[ {value}{arrow} ]"


def _rich_text(block: Block, width: int, style: Style) -> list[str]:
    lines: list[str] = []
    for part in block.get("elements", []):
        kind = part.get("type")
        if kind == "rich_text_list":
            ordered = part.get("style") == "ordered"
            for number, item in enumerate(part.get("elements", []), start=1):
                bullet = f"{number}. " if ordered else "• "
                item_lines = wrap(_inline_rich(item.get("elements", []), style), width - 6)
                lines.append(f"  {bullet}{item_lines[0]}")
                lines += [f"  {' ' * len(bullet)}{line}" for line in item_lines[1:]]
        elif kind == "rich_text_preformatted":
            lines += [
                "  " + line for line in _inline_rich(part.get("elements", []), Style()).split("\n")
            ]
        elif kind == "rich_text_quote":
            lines += [
                "│ " + line
                for line in wrap(_inline_rich(part.get("elements", []), style), width - 2)
            ]
        else:
            lines += wrap(_inline_rich(part.get("elements", []), style), width)
    return lines


def _inline_rich(elements: list[Mapping[str, Any]], style: Style) -> str:
    return "".join(_rich_element(element, style) for element in elements)


def _rich_element(element: Mapping[str, Any], style: Style) -> str:
    kind = element.get("type")
    if kind == "text":
        text = str(element.get("text", ""))
        marks = element.get("style", {})
        if marks.get("code"):
            text = style.code(text)
        if marks.get("bold"):
            text = style.bold(text)
        if marks.get("italic"):
            text = style.italic(text)
        return style.strike(text) if marks.get("strike") else text
    if kind == "link":
        return str(element.get("text") or element.get("url", ""))
    if kind == "user":
        return f"@{element.get('user_id', '')}"
    if kind == "channel":
        return f"#{element.get('channel_id', '')}"
    if kind == "usergroup":
        return f"@{element.get('usergroup_id', '')}"
    if kind == "broadcast":
        return f"@{element.get('range', 'here')}"
    if kind == "emoji":
        return emoji(str(element.get("name", "")))
    return str(element.get("fallback", ""))
