"""The changes the fake Slack reports to `on_event`, one record each, in the order they happen.

Frozen dataclasses around the records of `bot.fakes.slack.records`: a message posted or edited,
a private message shown, a response_url answered, a file shared, a view recorded, a reaction, a
channel joined.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.fakes.slack.records import Ephemeral, Message, ResponsePost, UploadedFile, View

__all__ = [
    "ChannelJoined",
    "EphemeralPosted",
    "FileShared",
    "MessagePosted",
    "MessageUpdated",
    "ReactionAdded",
    "ResponseUrlPosted",
    "SlackEvent",
    "ViewRecorded",
]


@dataclass(frozen=True)
class MessagePosted:
    """A channel message or thread reply appeared."""

    message: Message


@dataclass(frozen=True)
class MessageUpdated:
    """``chat.update`` changed a message; ``message.edits[-1]`` is the new content."""

    message: Message


@dataclass(frozen=True)
class EphemeralPosted:
    """A private message was shown to one user."""

    ephemeral: Ephemeral


@dataclass(frozen=True)
class ResponseUrlPosted:
    """The bot answered through a response_url."""

    post: ResponsePost


@dataclass(frozen=True)
class FileShared:
    """An uploaded file was completed (and shared, when a channel was named)."""

    file: UploadedFile


@dataclass(frozen=True)
class ViewRecorded:
    """A modal was opened or updated, or a Home tab published."""

    view: View


@dataclass(frozen=True)
class ReactionAdded:
    """The bot reacted to a message."""

    channel: str
    ts: str
    name: str


@dataclass(frozen=True)
class ChannelJoined:
    """The bot joined a public channel."""

    channel: str


SlackEvent = (
    MessagePosted
    | MessageUpdated
    | EphemeralPosted
    | ResponseUrlPosted
    | FileShared
    | ViewRecorded
    | ReactionAdded
    | ChannelJoined
)
