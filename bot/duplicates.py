"""A retrain of a model already followed: the requester hears of the training that goes on.

One training per model holds across workspaces (the model is the one Einstein account's), so a
second command for it starts nothing. Its requester gets a link to the followed training's
thread, or, when that training goes on for another workspace, word of that and nothing of
where; both requests go into the trail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.core.jobs import Job
from bot.core.requester import Requester
from bot.core.workspaces import same_workspace
from bot.reads import Reads
from bot.slack import texts
from bot.slack.look import Message
from bot.store.audit import AuditKind
from bot.store.jobs import JobStore
from bot.trail import Trail

__all__ = ["Duplicates"]


class Duplicates:
    """Answers the requester of a retrain whose model is already followed."""

    def __init__(
        self,
        *,
        store: JobStore,
        reads: Reads,
        trail: Trail,
        tell: Callable[[Job, str | Message], Awaitable[None]],
    ) -> None:
        self._store = store
        self._reads = reads
        self._trail = trail
        self._tell = tell

    async def answer(self, job: Job) -> None:
        """`job` was not stored, its model being followed: into the trail as a duplicate, and
        its requester told of the training that goes on (see the module's docstring)."""
        existing = await self._card_of_existing(job.model_id, team_id=job.team_id)
        by = Requester.of_job(job)
        await self._trail.note(
            AuditKind.COMMAND, job.model_id, job.options, by, outcome="duplicate"
        )
        await self._trail.note(
            AuditKind.DUPLICATE,
            job.model_id,
            job.options,
            by,
            job_id=existing.id if existing else None,
            outcome="already followed",
        )
        if existing is None:
            where = ""
        elif not same_workspace(existing.team_id, job.team_id):
            where = texts.IN_ANOTHER_WORKSPACE
        else:
            where = await self._reads.where_for(existing, user=job.requester)
        await self._tell(job, texts.already_followed(job.model_id, where))

    async def _card_of_existing(self, model_id: str, *, team_id: str | None) -> Job | None:
        """The followed job of `model_id`, given a moment to post its card when it is new
        (and of `team_id`'s workspace: one of another has no link to give)."""
        existing = await self._store.active_for_model(model_id)
        for _ in range(25):
            if existing is None or existing.parent_ts is not None:
                break
            if not same_workspace(existing.team_id, team_id):
                break
            await asyncio.sleep(0.2)
            existing = await self._store.active_for_model(model_id)
        return existing
