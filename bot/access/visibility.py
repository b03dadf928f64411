"""Who may see a training in the read commands and the Home tab.

A job's card and thread live in `job.channel`; it was asked for in `job.origin_channel`.
`/retrain status`, `list`, `history` and the Home tab show a job to a person only when both
places let them see it:

- a direct message (`D…`): the requester only (a DM between people where the command was
  typed, or the bot's DM with the requester, where a thread goes when its channel refuses it);
- a private channel: its members, as Slack's `conversations.members` says (cached 5 minutes);
- a public channel: everybody.

Whether a channel is private is stored with the job once known (`Job.private_channels`: from
the slash command's `channel_name`, else asked with `conversations.info` right after the
command); for a job stored without it, it is asked when needed and cached 5 minutes. A channel
the bot cannot see counts as private.

Fails closed: when Slack does not say (refused, no answer in time), the job is not shown, and
`Sight.UNCHECKED` lets the answer say so. Nothing here names a channel: that is the caller's
choice, made only for a job that is `Sight.SHOWN`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Protocol, TypeVar

from bot import loops
from bot.core.jobs import Job
from bot.errors import SlackError

__all__ = [
    "ChannelDirectory",
    "Sight",
    "Sorted",
    "Visibility",
    "is_direct",
    "private_by_name",
]

log = logging.getLogger(__name__)

MEMBERS_TTL: Final = 300.0  # at most this old, a member list or a channel's privacy

# A slash command's `channel_name` in a DM, in an old-style private channel, in a group DM.
_PRIVATE_NAMES: Final = frozenset({"directmessage", "privategroup"})
_GROUP_DM_PREFIX: Final = "mpdm-"

_T = TypeVar("_T")


def is_direct(channel: str) -> bool:
    """A direct message: Slack's IDs of DMs start with `D`."""
    return channel.startswith("D")


def private_by_name(channel: str, name: str | None) -> bool:
    """Whether a slash command's channel ID and `channel_name` show the channel is private.

    False means "not known": a private channel may arrive with its own name.
    """
    name = name or ""
    return is_direct(channel) or name in _PRIVATE_NAMES or name.startswith(_GROUP_DM_PREFIX)


class ChannelDirectory(Protocol):
    """What Slack says about a channel (`bot.slack.channels.SlackChannels`)."""

    async def channel_is_private(self, channel: str) -> bool: ...
    async def channel_members(self, channel: str) -> frozenset[str]: ...


class Sight(StrEnum):
    SHOWN = "shown"
    HIDDEN = "hidden"  # in a private channel the person is not in, or someone else's DM
    UNCHECKED = "unchecked"  # Slack did not say who is in its channel: hidden all the same


@dataclass
class Sorted:
    """Jobs as one person may see them: those shown, in order, and how many are not."""

    shown: list[Job] = field(default_factory=list)
    hidden: int = 0
    unchecked: int = 0

    @property
    def left_out(self) -> int:
        return self.hidden + self.unchecked


class Visibility:
    """Answers "may this person see this job?" with Slack's word, cached `ttl` seconds."""

    def __init__(
        self,
        *,
        directory: ChannelDirectory,
        ttl: float = MEMBERS_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._directory = directory
        self._ttl = ttl
        self._clock = clock
        self._private: dict[str, tuple[bool, float]] = {}
        self._members: dict[str, tuple[frozenset[str], float]] = {}
        # Questions on their way to Slack: people asking at once about one channel share one.
        self._asking: dict[tuple[int, str], asyncio.Future[Any]] = {}

    async def private_channels(self, job: Job) -> frozenset[str]:
        """The job's private channels, DMs aside; `SlackError` when Slack does not say."""
        if job.private_channels is not None:
            return job.private_channels
        found = set()
        for channel in sorted({job.channel, job.origin_channel}):
            if not is_direct(channel) and await self._is_private(channel):
                found.add(channel)
        return frozenset(found)

    async def known(self, job: Job, *, within: float) -> Job:
        """`job` knowing its private channels, when Slack says so `within` seconds; else as is."""
        if job.private_channels is not None:
            return job
        try:
            private = await loops.within(
                self.private_channels(job), asyncio.get_running_loop().time() + within
            )
        except (SlackError, TimeoutError) as exc:
            log.warning("could not tell whether job %s is in a private channel: %r", job.id, exc)
            return job
        return job.with_changes(private_channels=private)

    async def sight(self, job: Job, user: str) -> Sight:
        """Whether `user` may see `job` (module docstring)."""
        if is_direct(job.channel) or is_direct(job.origin_channel):
            return Sight.SHOWN if user == job.requester else Sight.HIDDEN
        try:
            for channel in sorted(await self.private_channels(job)):
                if user not in await self._members_of(channel):
                    return Sight.HIDDEN
        except SlackError as exc:
            log.warning("could not check who may see job %s: %s", job.id, exc.code)
            return Sight.UNCHECKED
        return Sight.SHOWN

    async def channel_sight(self, channel: str, user: str, *, owner: str) -> Sight:
        """Whether `user` may see something that lives in `channel` and belongs to `owner` (a
        schedule): a DM only its owner, a private channel its members, a public one everybody."""
        if is_direct(channel):
            return Sight.SHOWN if user == owner else Sight.HIDDEN
        try:
            if await self._is_private(channel) and user not in await self._members_of(channel):
                return Sight.HIDDEN
        except SlackError as exc:
            log.warning("could not check who may see %s: %s", channel, exc.code)
            return Sight.UNCHECKED
        return Sight.SHOWN

    async def sort(self, jobs: Iterable[Job], user: str, *, limit: int | None = None) -> Sorted:
        """`jobs` split into what `user` may see (the first `limit`) and counts of the rest."""
        result = Sorted()
        for job in jobs:
            if limit is not None and len(result.shown) >= limit:
                break
            sight = await self.sight(job, user)
            if sight == Sight.SHOWN:
                result.shown.append(job)
            elif sight == Sight.HIDDEN:
                result.hidden += 1
            else:
                result.unchecked += 1
        return result

    async def _is_private(self, channel: str) -> bool:
        return await self._cached(self._private, channel, self._directory.channel_is_private)

    async def _members_of(self, channel: str) -> frozenset[str]:
        return await self._cached(self._members, channel, self._directory.channel_members)

    def _asked(self, key: tuple[int, str], done: asyncio.Future[Any]) -> None:
        self._asking.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved: whoever waited has it, or nobody waits any more

    async def _cached(
        self,
        cache: dict[str, tuple[_T, float]],
        channel: str,
        ask: Callable[[str], Awaitable[_T]],
    ) -> _T:
        # Only answers are kept: a failure is asked again next time, never remembered.
        now = self._clock()
        known = cache.get(channel)
        if known is not None and now - known[1] < self._ttl:
            return known[0]
        key = (id(cache), channel)
        asking = self._asking.get(key)
        if asking is None:
            asking = asyncio.ensure_future(ask(channel))
            self._asking[key] = asking
            asking.add_done_callback(lambda done: self._asked(key, done))
        value: _T = await asyncio.shield(asking)
        cache[channel] = (value, now)
        return value
