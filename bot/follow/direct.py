"""The result by DM: a requester who chose `/retrain notify dm` gets each training's end there.

Owed once the thread told the end (`bot.core.owed.due_direct`). The choice is read then, so
one made while the training ran counts; without it `DM_NONE` is recorded and nothing is sent.
When someone else may have sent it (the job was taken from the store already owing it, or an
attempt of this process failed after it may have reached Slack), the DM is searched for the
post (its marks) first, so a process that died between posting and recording does not make its
successor send it again. The search is made only then: Slack allows some apps about one
history read a minute. (A job taken from the store before it owed the DM cannot have had it
sent: the deliverer writes the job that owes a post before posting.) The post is fenced by
the job's lease like every other. A transient failure leaves the DM owed and the deliverer
tries it later; a refusal for good is logged as an error and settled as `DM_NONE` (the thread
has the result).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.core import machine
from bot.core.owed import DM_NONE, DM_RESULT, due_direct
from bot.errors import SlackRefused
from bot.follow.held import Followed, HeldJobs
from bot.slack.direct import render_result
from bot.slack.notify import Notifier

__all__ = ["DirectResults", "WantsDm"]

log = logging.getLogger(__name__)

# Whether a person wants results by DM, asked with their ID and the workspace of the job (a
# choice is per workspace); raises StoreError when it cannot tell.
WantsDm = Callable[[str, str | None], Awaitable[bool]]


async def _never(_user: str, _team_id: str | None) -> bool:
    return False


class DirectResults:
    """Sends (or settles as not wanted) the DM a finished job owes its requester."""

    def __init__(self, *, held: HeldJobs, notifier: Notifier, wants_dm: WantsDm | None) -> None:
        self._held = held
        self._notifier = notifier
        self._wants_dm = wants_dm or _never
        self._tried: set[str] = set()  # jobs whose DM this process may have sent already

    async def send(self, record: Followed) -> None:
        job = record.job
        if not await self._wants_dm(job.requester, job.team_id):
            await self._record(record, DM_NONE)
            return
        try:
            await self._send(record)
        except SlackRefused as exc:
            # Slack will never take it (a deactivated person, a revoked scope): said loudly
            # here, and settled, since the thread has the result and trying again cannot help.
            log.error(
                "the result DM of job %s to %s was refused: %s", job.id, job.requester, exc.code
            )
            await self._record(record, DM_NONE)
            return
        await self._record(record, DM_RESULT)
        self._tried.discard(job.id)

    async def _send(self, record: Followed) -> None:
        job, direct = record.job, self._notifier.direct
        dm = await direct.open(job.requester)
        # Taken from the store owing the DM: the last process may have sent it unrecorded.
        claimed = record.claimed
        maybe_sent = (claimed is not None and due_direct(claimed)) or job.id in self._tried
        if maybe_sent and await direct.posted(dm, job=job, state=DM_RESULT):
            return
        link = None
        if job.parent_ts is not None:
            link = await self._notifier.permalink(job.channel, job.parent_ts)
        message = render_result(job, link=link)
        self._tried.add(job.id)
        await direct.post(dm, message, job=job, state=DM_RESULT, fence=self._held.fence(record))

    async def _record(self, record: Followed, key: str) -> None:
        record.job = machine.posted(record.job, key)
        await self._held.persist(record)
