"""What the fake Slack knows and remembers: channels, messages, calls, files and views.

Everything here is a frozen dataclass. State that Slack would change in place (an edited message,
a bot that joins a channel) is replaced by a new record, so a value a test holds never changes
under it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "BotIdentity",
    "Call",
    "Channel",
    "Ephemeral",
    "Message",
    "MessageVersion",
    "Metadata",
    "ResponsePost",
    "UploadedFile",
    "View",
]

Blocks = list[dict[str, Any]]


@dataclass(frozen=True)
class Channel:
    """A conversation in the fake workspace and the bot's standing in it.

    ``members`` lists the humans in the channel for ``chat.postEphemeral``; ``None`` means
    "everyone", which keeps small tests from having to enumerate users. A direct message has
    ``is_im`` and ``user``: the person in a DM with the bot, or one of two people in a DM
    between them (``bot_is_member=False``; the bot cannot see or post in such a DM).
    """

    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    bot_is_member: bool = True
    members: frozenset[str] | None = None
    is_im: bool = False
    user: str | None = None


@dataclass(frozen=True)
class Call:
    """One request the fake answered, as the bot sent it.

    The token is left out; ``caller`` keeps its last four characters, so a test running several
    bots with different tokens can tell which one made the call. ``team`` is the workspace the
    call was served in (the org's ID for an org-wide token's ``auth.test``); ``None`` when no
    token was accepted.
    """

    method: str
    args: Mapping[str, Any]
    time: float
    status: int
    ok: bool
    error: str | None = None
    caller: str | None = None
    team: str | None = None


@dataclass(frozen=True)
class Metadata:
    """Message metadata as ``chat.postMessage`` takes it: an event type and a JSON payload."""

    event_type: str
    event_payload: Mapping[str, Any]


@dataclass(frozen=True)
class MessageVersion:
    """The content of a message as posted, or as one ``chat.update`` left it."""

    text: str
    blocks: Blocks | None
    metadata: Metadata | None
    time: float


@dataclass(frozen=True)
class Message:
    """A channel message or thread reply in its current state, with every earlier version.

    ``thread_ts`` is ``None`` for a top-level message and the parent's ts for a reply (Slack also
    sets it on a parent once it has replies; the API payloads do that, this record does not).
    """

    channel: str
    ts: str
    thread_ts: str | None
    user: str
    bot_id: str | None
    versions: tuple[MessageVersion, ...]
    reply_broadcast: bool = False
    reactions: tuple[str, ...] = ()
    files: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """Current text."""
        return self.versions[-1].text

    @property
    def blocks(self) -> Blocks | None:
        """Current blocks."""
        return self.versions[-1].blocks

    @property
    def metadata(self) -> Metadata | None:
        """Current metadata."""
        return self.versions[-1].metadata

    @property
    def edits(self) -> tuple[MessageVersion, ...]:
        """The versions ``chat.update`` produced, oldest first (empty if never edited)."""
        return self.versions[1:]

    @property
    def is_reply(self) -> bool:
        """Whether the message lives in a thread under another message."""
        return self.thread_ts is not None


@dataclass(frozen=True)
class Ephemeral:
    """A ``chat.postEphemeral`` message: seen by one user only, never editable."""

    channel: str
    user: str
    text: str
    blocks: Blocks | None
    thread_ts: str | None
    message_ts: str
    time: float


@dataclass(frozen=True)
class ResponsePost:
    """One POST the bot made to a response_url (``use`` counts from 1 up to Slack's limit of 5)."""

    url: str
    use: int
    payload: Mapping[str, Any]
    time: float

    @property
    def text(self) -> str | None:
        """The message text, if any."""
        value = self.payload.get("text")
        return value if isinstance(value, str) else None

    @property
    def blocks(self) -> Blocks | None:
        """The message blocks, if any."""
        value = self.payload.get("blocks")
        return value if isinstance(value, list) else None

    @property
    def response_type(self) -> str:
        """``ephemeral`` (Slack's default) or ``in_channel``."""
        return str(self.payload.get("response_type") or "ephemeral")

    @property
    def replace_original(self) -> bool:
        """Whether the post asked to replace the message it came from."""
        return self.payload.get("replace_original") in (True, "true")

    @property
    def thread_ts(self) -> str | None:
        """The thread the post asked to land in, if any."""
        value = self.payload.get("thread_ts")
        return str(value) if value is not None else None


@dataclass(frozen=True)
class UploadedFile:
    """A file that went through the whole external-upload dance and was completed."""

    id: str
    filename: str
    title: str
    data: bytes
    alt_txt: str | None
    channel: str | None
    thread_ts: str | None
    initial_comment: str | None
    message_ts: str | None
    time: float

    @property
    def length(self) -> int:
        """Size in bytes."""
        return len(self.data)


@dataclass(frozen=True)
class View:
    """A modal or Home tab as one ``views.*`` call left it."""

    id: str
    action: Literal["open", "update", "publish"]
    view: Mapping[str, Any]
    user_id: str | None
    trigger_id: str | None
    hash: str
    time: float

    @property
    def title(self) -> str:
        """The modal title's text, or the view type for a Home tab."""
        title = self.view.get("title")
        if isinstance(title, Mapping):
            return str(title.get("text", ""))
        return str(self.view.get("type", "view"))


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is in the fake workspace, as ``auth.test`` reports it."""

    team_id: str = "T0001"
    team_name: str = "Fake Workspace"
    user_id: str = "U0BOT"
    user_name: str = "retrain-bot"
    bot_id: str = "B0BOT"
    app_id: str = "A0001"
