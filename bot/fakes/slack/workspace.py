"""The fake workspace's channels and messages, with Slack's rules for who may post what where.

No HTTP here: the server turns requests into these calls and the results into Slack's JSON.
Refusals are raised as ``ApiFailure`` carrying Slack's error code.

Decisions where Slack's behaviour is unconfirmed (reference §10):

- A ``thread_ts`` that is not a ts at all gives ``invalid_thread_ts`` (seen from Slack). A
  well-formed one that names no top-level message of the channel gives ``thread_not_found``.
  Slack appears to accept such a post and show it nowhere (python-slack-sdk#840); failing loudly
  surfaces the bug in a test instead of losing the message. A reply's ts counts as "no top-level
  message" for the same reason: threads hang off the parent.
- ``chat:write.public`` is modelled as "a public channel accepts posts from a non-member bot".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from bot.fakes.slack.checks import MAX_POST_TEXT, MAX_UPDATE_TEXT, ApiFailure, check_text
from bot.fakes.slack.records import (
    Blocks,
    BotIdentity,
    Channel,
    Ephemeral,
    Message,
    MessageVersion,
    Metadata,
)
from bot.fakes.slack.reports import (
    ChannelJoined,
    EphemeralPosted,
    MessagePosted,
    MessageUpdated,
    ReactionAdded,
    SlackEvent,
)
from bot.fakes.slack.stamps import Stamps, well_formed

__all__ = ["Workspace"]


class Workspace:
    """Channels, messages, ephemerals and reactions of one fake workspace."""

    def __init__(
        self,
        *,
        channels: Iterable[Channel],
        identity: BotIdentity,
        scopes: Iterable[str],
        clock: Callable[[], float],
        emit: Callable[[SlackEvent], None],
        ephemerals: list[Ephemeral] | None = None,
        im_id: Callable[[str], str] = lambda user_id: f"D{user_id[1:]}",
    ) -> None:
        self.identity = identity
        self.scopes = frozenset(scopes)
        self._clock = clock
        self._emit = emit
        self._im_id = im_id  # the ID of a new DM with a user
        self._channels = {channel.id: channel for channel in channels}
        # Per channel, ts -> message; dicts keep insertion order, which is ts order here.
        self._messages: dict[str, dict[str, Message]] = {}
        self._stamps = Stamps()
        # Shared by every workspace of a fake when given, so the fake keeps one order of them.
        self.ephemerals: list[Ephemeral] = [] if ephemerals is None else ephemerals

    # --- channels -------------------------------------------------------------------------

    def add_channel(self, channel: Channel) -> None:
        """Add a channel, or replace the one with the same id."""
        self._channels[channel.id] = channel

    def channel(self, channel_id: str) -> Channel:
        """The channel with this id (``KeyError`` if unknown)."""
        return self._channels[channel_id]

    def has(self, channel_id: str) -> bool:
        """Whether the channel is one of this workspace's."""
        return channel_id in self._channels

    def visible(self, channel_id: object) -> Channel:
        """The channel as the bot sees it; private channels it is not in do not exist for it."""
        channel = self._channels.get(str(channel_id or ""))
        hidden = channel is not None and (channel.is_private or channel.is_im)
        if channel is None or (hidden and not channel.bot_is_member):
            raise ApiFailure("channel_not_found")
        return channel

    def readable(self, channel_id: object) -> Channel:
        """The channel, if the token's scopes let the bot read about it: ``channels:read`` for
        public channels, ``groups:read`` for private ones (else ``missing_scope``)."""
        channel = self.visible(channel_id)
        needed = "groups:read" if channel.is_private else "channels:read"
        if needed not in self.scopes:
            raise ApiFailure("missing_scope")
        return channel

    def members(self, channel_id: object) -> list[str]:
        """The channel's members, the bot included when it is one, sorted.

        A channel whose ``members`` were not given lists only the bot (if a member).
        """
        channel = self.readable(channel_id)
        members = set(channel.members or ())
        if channel.bot_is_member:
            members.add(self.identity.user_id)
        return sorted(members)

    def open_im(self, user: object) -> tuple[Channel, bool]:
        """The bot's DM with ``user``, opened if need be; and whether it was open already."""
        user_id = str(user or "")
        if "," in user_id:
            raise ApiFailure("not_enough_users")  # group DMs are not modelled
        if user_id[:1] not in ("U", "W"):
            raise ApiFailure("user_not_found")
        for channel in self._channels.values():
            if channel.is_im and channel.bot_is_member and channel.user == user_id:
                return channel, True
        channel = Channel(id=self._im_id(user_id), name=user_id, is_im=True, user=user_id)
        self._channels[channel.id] = channel
        return channel, False

    def _direct(self, channel_id: object) -> Channel | None:
        """Posting to a user ID posts in the bot's direct conversation with them, as in Slack."""
        user = str(channel_id or "")
        if user[:1] not in ("U", "W") or user in self._channels:
            return None
        return self.open_im(user)[0]

    def require_postable(self, channel: Channel, *, membership: bool = False) -> None:
        """Refuse posting where the bot may not; ``membership`` drops the public-channel pass."""
        if channel.is_archived:
            raise ApiFailure("is_archived")
        if channel.bot_is_member:
            return
        public_ok = not channel.is_private and "chat:write.public" in self.scopes
        if membership or not public_ok:
            raise ApiFailure("not_in_channel")

    def join(self, channel_id: object) -> tuple[Channel, bool]:
        """Join a public channel; returns the channel and whether the bot was already in it."""
        channel = self.visible(channel_id)
        if channel.is_archived:
            raise ApiFailure("is_archived")
        if channel.is_private or channel.is_im:
            raise ApiFailure("method_not_supported_for_channel_type")
        if channel.bot_is_member:
            return channel, True
        joined = replace(channel, bot_is_member=True)
        self._channels[channel.id] = joined
        self._emit(ChannelJoined(channel=channel.id))
        return joined, False

    # --- messages -------------------------------------------------------------------------

    def post(
        self,
        channel_id: object,
        *,
        text: str,
        blocks: Blocks | None,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
        metadata: Metadata | None = None,
        files: tuple[str, ...] = (),
        user: str | None = None,
        announce: bool = True,
    ) -> Message:
        """Post as the bot (or, for seeding a test, as ``user`` without permission checks).

        ``announce=False`` skips the ``MessagePosted`` event, for file shares that report their own.
        """
        if user is None:
            channel = self._direct(channel_id) or self.visible(channel_id)
            self.require_postable(channel)
        else:
            channel = self.channel(str(channel_id))
        check_text(text, limit=MAX_POST_TEXT)
        parent = self.thread_parent(channel.id, thread_ts) if thread_ts else None
        is_bot = user is None
        message = Message(
            channel=channel.id,
            ts=self._stamps.new(channel.id),
            thread_ts=parent,
            user=user or self.identity.user_id,
            bot_id=self.identity.bot_id if is_bot else None,
            versions=(MessageVersion(text, blocks, metadata, self._clock()),),
            reply_broadcast=reply_broadcast and parent is not None,
            files=files,
        )
        self._messages.setdefault(channel.id, {})[message.ts] = message
        if announce:
            self._emit(MessagePosted(message))
        return message

    def update(
        self,
        channel_id: object,
        ts: object,
        *,
        text: str | None,
        blocks: Blocks | None,
        metadata: Metadata | None,
    ) -> Message:
        """Apply ``chat.update``: new text, blocks replaced (dropped when only text is given)."""
        channel = self.visible(channel_id)
        if channel.is_archived:
            raise ApiFailure("is_archived")
        current = self.message(channel.id, ts)
        if current.user != self.identity.user_id:
            raise ApiFailure("cant_update_message")
        if text is None and blocks is None:
            raise ApiFailure("no_text")
        check_text(text or "", limit=MAX_UPDATE_TEXT)
        version = MessageVersion(
            text=text or "",
            blocks=blocks,
            metadata=metadata if metadata is not None else current.metadata,
            time=self._clock(),
        )
        updated = replace(current, versions=(*current.versions, version))
        self._messages[channel.id][updated.ts] = updated
        self._emit(MessageUpdated(updated))
        return updated

    def post_ephemeral(
        self,
        channel_id: object,
        *,
        user: object,
        text: str,
        blocks: Blocks | None,
        thread_ts: str | None,
    ) -> Ephemeral:
        """Show a message to one user of the channel."""
        channel = self.visible(channel_id)
        self.require_postable(channel)
        if not user:
            raise ApiFailure("user_not_found")
        if channel.members is not None and str(user) not in channel.members:
            raise ApiFailure("user_not_in_channel")
        check_text(text, limit=MAX_POST_TEXT)
        ephemeral = Ephemeral(
            channel=channel.id,
            user=str(user),
            text=text,
            blocks=blocks,
            thread_ts=self.thread_parent(channel.id, thread_ts) if thread_ts else None,
            message_ts=self._stamps.new(channel.id),
            time=self._clock(),
        )
        self.ephemerals.append(ephemeral)
        self._emit(EphemeralPosted(ephemeral))
        return ephemeral

    def react(self, channel_id: object, ts: object, name: object) -> None:
        """Add the bot's reaction ``name`` (no colons) to a message."""
        channel = self.visible(channel_id)
        reaction = str(name or "")
        if not reaction or ":" in reaction:
            raise ApiFailure("invalid_name")
        message = self.message(channel.id, ts)
        if reaction in message.reactions:
            raise ApiFailure("already_reacted")
        reacted = replace(message, reactions=(*message.reactions, reaction))
        self._messages[channel.id][message.ts] = reacted
        self._emit(ReactionAdded(channel=channel.id, ts=message.ts, name=reaction))

    # --- reading --------------------------------------------------------------------------

    def message(self, channel_id: str, ts: object) -> Message:
        """The message at ``ts`` in the channel, or ``message_not_found``."""
        message = self._messages.get(channel_id, {}).get(str(ts or ""))
        if message is None:
            raise ApiFailure("message_not_found")
        return message

    def messages(self, channel_id: str) -> list[Message]:
        """Every message of the channel, parents and replies, in ts order."""
        return list(self._messages.get(channel_id, {}).values())

    def top_level(self, channel_id: str) -> list[Message]:
        """What the channel itself shows: parents and broadcast replies, in ts order."""
        return [m for m in self.messages(channel_id) if not m.is_reply or m.reply_broadcast]

    def thread(self, channel_id: str, ts: str) -> list[Message]:
        """A parent followed by its replies in order; empty if no such parent."""
        messages = self._messages.get(channel_id, {})
        parent = messages.get(ts)
        if parent is None or parent.is_reply:
            return []
        return [parent, *(m for m in messages.values() if m.thread_ts == ts)]

    def thread_parent(self, channel_id: str, thread_ts: object) -> str:
        """Check that ``thread_ts`` names a top-level message of the channel (module docstring)."""
        ts = str(thread_ts)
        if not well_formed(ts):
            raise ApiFailure("invalid_thread_ts")
        message = self._messages.get(channel_id, {}).get(ts)
        if message is None or message.is_reply:
            raise ApiFailure("thread_not_found")
        return ts
