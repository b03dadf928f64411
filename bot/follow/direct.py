"""The result by DM: a requester who chose `/retrain notify dm` gets each training's end there.

Owed once the thread told the end (`bot.core.owed.due_direct`). The choice is read then, so
one made while the training ran counts; without it `DM_NONE` is recorded and nothing is sent.
Before posting, the DM is searched for the post (its marks), so a process that died between
posting and recording does not make its successor send it again; the post is fenced by the
job's lease like every other. A failure leaves the DM owed and the deliverer tries it later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.core import machine
from bot.core.owed import DM_NONE, DM_RESULT
from bot.follow.held import Followed, HeldJobs
from bot.slack.direct import render_result
from bot.slack.notify import Notifier

__all__ = ["DirectResults", "WantsDm"]

# Whether a person wants results by DM; raises StoreError when it cannot tell.
WantsDm = Callable[[str], Awaitable[bool]]


async def _never(_user: str) -> bool:
    return False


class DirectResults:
    """Sends (or settles as not wanted) the DM a finished job owes its requester."""

    def __init__(self, *, held: HeldJobs, notifier: Notifier, wants_dm: WantsDm | None) -> None:
        self._held = held
        self._notifier = notifier
        self._wants_dm = wants_dm or _never

    async def send(self, record: Followed) -> None:
        job = record.job
        if not await self._wants_dm(job.requester):
            await self._record(record, DM_NONE)
            return
        direct = self._notifier.direct
        dm = await direct.open(job.requester)
        if not await direct.posted(dm, job=job, state=DM_RESULT):
            link = None
            if job.parent_ts is not None:
                link = await self._notifier.permalink(job.channel, job.parent_ts)
            message = render_result(job, link=link)
            fence = self._held.fence(record)
            await direct.post(dm, message, job=job, state=DM_RESULT, fence=fence)
        await self._record(record, DM_RESULT)

    async def _record(self, record: Followed, key: str) -> None:
        record.job = machine.posted(record.job, key)
        await self._held.persist(record)
