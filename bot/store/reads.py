"""The job store's reads: one job, the unfinished ones, a model's active one, a requester's
recent starts, and the lists behind the read commands and the Home tab.

The reads behind the read commands and the Home tab take a `team_id`: given, they return that
team's jobs and the jobs stored without a team (made before the bot served several workspaces,
in the one workspace of an older deployment: `bot.core.workspaces`). Finding, claiming and
following jobs, and the one-training-per-model rule, ignore teams: a model is Einstein's, and
one Einstein account serves every workspace.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.jobs import Job
from bot.store.rows import as_utc, to_job
from bot.store.schema import ACTIVE, jobs_table

__all__ = ["JobReads"]


class JobReads:
    """The reads of `SqlJobStore` (`bot.store.jobs`), in the transactions it gives them."""

    def _begin(self) -> AbstractAsyncContextManager[AsyncConnection]:
        # `SqlJobStore._begin`: a transaction, in its turn, whose database errors are StoreError.
        raise NotImplementedError

    async def get(self, job_id: str) -> Job | None:
        async with self._begin() as conn:
            row = (await conn.execute(jobs_table.select().where(jobs_table.c.id == job_id))).first()
        return to_job(row._mapping) if row else None

    async def unfinished(self, *, team_id: str | None = None) -> list[Job]:
        """Jobs that still need a process, oldest first (of `team_id` and of no team, if given)."""
        c = jobs_table.c
        query = jobs_table.select().where(c.pending.is_(True)).order_by(c.created_at)
        if team_id is not None:
            query = query.where(sa.or_(c.team_id == team_id, c.team_id.is_(None)))
        async with self._begin() as conn:
            rows = (await conn.execute(query)).all()
        return [to_job(r._mapping) for r in rows]

    async def active_for_model(self, model_id: str) -> Job | None:
        query = (
            jobs_table.select()
            .where(jobs_table.c.model_id == model_id)
            .where(jobs_table.c.status.in_(ACTIVE))
            .order_by(jobs_table.c.created_at.desc())
            .limit(1)
        )
        async with self._begin() as conn:
            row = (await conn.execute(query)).first()
        return to_job(row._mapping) if row else None

    async def started_by(self, user: str, *, since: datetime) -> list[datetime]:
        """When `user`'s jobs were created since `since` (for the per-user rate limit)."""
        c = jobs_table.c
        query = (
            sa.select(c.created_at)
            .where(c.requester == user)
            .where(c.created_at >= since.astimezone(UTC))
        )
        async with self._begin() as conn:
            rows = (await conn.execute(query)).all()
        return [t for t in (as_utc(r[0]) for r in rows) if t is not None]

    async def recent(self, *, limit: int = 20, team_id: str | None = None) -> list[Job]:
        """The newest `limit` jobs of everybody (in `team_id`), newest first."""
        return await self._newest(jobs_table.select(), limit=limit, team_id=team_id)

    async def of_model(self, model_id: str, *, limit: int, team_id: str | None = None) -> list[Job]:
        """`model_id`'s newest `limit` jobs (in `team_id`), newest first (an index, however
        old they are)."""
        query = jobs_table.select().where(jobs_table.c.model_id == model_id)
        return await self._newest(query, limit=limit, team_id=team_id)

    async def of_requester(
        self, user: str, *, limit: int, active: bool = False, team_id: str | None = None
    ) -> list[Job]:
        """The newest `limit` jobs `user` asked for (in `team_id`; only those still active,
        with `active`)."""
        query = jobs_table.select().where(jobs_table.c.requester == user)
        if active:
            query = query.where(jobs_table.c.status.in_(ACTIVE))
        return await self._newest(query, limit=limit, team_id=team_id)

    async def _newest(
        self, query: sa.Select[Any], *, limit: int, team_id: str | None = None
    ) -> list[Job]:
        async with self._begin() as conn:
            rows = (await conn.execute(_newest(query, limit=limit, team_id=team_id))).all()
        return [to_job(r._mapping) for r in rows]


def _newest(query: sa.Select[Any], *, limit: int, team_id: str | None) -> sa.Select[Any]:
    """`query`'s newest `limit` rows (of `team_id` and of no team, when given), newest first.

    A team's rows and the rows of no team are each read newest first by an index, at most
    `limit` of each, then merged: one OR'ed condition would have the database read the newest
    rows of every team until it found `limit` of this one, or sort all of this team's.
    """
    created = jobs_table.c.created_at
    if team_id is None:
        return query.order_by(created.desc()).limit(limit)
    parts = (
        sa.select(part.order_by(created.desc()).limit(limit).subquery())
        for part in (
            query.where(jobs_table.c.team_id == team_id),
            query.where(jobs_table.c.team_id.is_(None)),
        )
    )
    merged = sa.union_all(*parts).subquery()
    return sa.select(merged).order_by(merged.c.created_at.desc()).limit(limit)
