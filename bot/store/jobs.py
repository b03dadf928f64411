"""The job store: every accepted job, so a restart resumes where the last process stopped.

One SQL implementation serves SQLite (the embedded default) and PostgreSQL through SQLAlchemy
Core; `JobStore` is the protocol the rest of the bot depends on. Opening the database and its
schema: `bot.store.database`; rows: `bot.store.rows`; new jobs' group commit: `bot.store.inserts`,
and the job writes' on SQLite: `bot.store.saves`; the reads, and the team they take:
`bot.store.reads`. Here: opening the store, its transactions, adding and saving a job, and the
leases.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.jobs import Job
from bot.errors import StoreError
from bot.store.database import (
    DATABASE_ERRORS,
    STUCK_TRANSACTION,
    async_database_url,
    open_engine,
    open_inserter,
)
from bot.store.inserts import DuplicateJob, GroupInsert
from bot.store.migrate import upgrade_engine
from bot.store.reads import JobReads
from bot.store.rows import to_job, to_row, utc_now
from bot.store.saves import SAVE, GroupSave, LeaseLost
from bot.store.schema import jobs_table
from bot.store.turns import Turns

__all__ = [
    "DATABASE_ERRORS",
    "DuplicateJob",
    "JobStore",
    "LeaseLost",
    "SqlJobStore",
    "async_database_url",
]


class JobStore(Protocol):
    owner: str

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    def add(self, job: Job, *, lease_seconds: float) -> asyncio.Future[None]: ...
    async def save(self, job: Job) -> None: ...
    async def claim(self, *, limit: int, lease_seconds: float) -> list[Job]: ...
    async def renew(self, job_ids: Iterable[str], *, lease_seconds: float) -> set[str]: ...
    async def release(self, job_ids: Iterable[str] | None = None) -> None: ...
    async def take_over(self, job: Job, *, lease_seconds: float) -> None: ...
    async def get(self, job_id: str) -> Job | None: ...
    async def unfinished(self, *, team_id: str | None = None) -> list[Job]: ...
    async def active_for_model(self, model_id: str) -> Job | None: ...
    async def started_by(self, user: str, *, since: datetime) -> list[datetime]: ...
    async def recent(self, *, limit: int = 20, team_id: str | None = None) -> list[Job]: ...
    async def of_model(
        self, model_id: str, *, limit: int, team_id: str | None = None
    ) -> list[Job]: ...
    async def of_requester(
        self, user: str, *, limit: int, active: bool = False, team_id: str | None = None
    ) -> list[Job]: ...
    async def ping(self, *, within: float) -> None: ...


class SqlJobStore(JobReads):
    """`JobStore` on SQLite or PostgreSQL (its reads: `JobReads`)."""

    def __init__(
        self,
        url: str,
        *,
        owner: str | None = None,
        stuck_transaction: float = STUCK_TRANSACTION,
    ) -> None:
        self._url = async_database_url(url)
        self._stuck_transaction = stuck_transaction  # PostgreSQL: `database.open_engine`
        self._engine: AsyncEngine | None = None
        self.owner = owner or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._turns: Turns | None = None  # SQLite only: see bot.store.turns
        self._inserts = GroupInsert(self.begin)
        self._saves: GroupSave | None = None  # SQLite only: see bot.store.saves

    async def open(self) -> None:
        engine = open_engine(self._url, stuck_transaction=self._stuck_transaction)
        if engine.dialect.name == "sqlite":
            self._turns = Turns()
            self._saves = GroupSave(self._begin, self.owner)
            inserter = open_inserter(engine)
            self._inserts.here = (inserter, self._turns) if inserter else None
        self._engine = engine
        try:
            await upgrade_engine(engine)
        except BaseException:
            await self.close()
            raise

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise StoreError("the job store is not open")
        return self._engine

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name if self._engine else "unknown"

    async def close(self) -> None:
        self._inserts.close()
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    @asynccontextmanager
    async def begin(self, *, urgent: bool = False) -> AsyncIterator[AsyncConnection]:
        """A transaction, in its turn (`urgent`: before waiting background writes)."""
        engine = self.engine
        async with self._turn(urgent=urgent), engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads, in its turn."""
        engine = self.engine
        async with self._turn(urgent=False), engine.connect() as conn:
            yield conn

    def _turn(self, *, urgent: bool) -> AbstractAsyncContextManager[None]:
        return self._turns.take(urgent=urgent) if self._turns else nullcontext()

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.begin() as conn:
                yield conn
        except DATABASE_ERRORS as exc:
            raise StoreError(f"job store failed: {exc.__class__.__name__}") from None

    def add(self, job: Job, *, lease_seconds: float) -> asyncio.Future[None]:
        """Insert a new job leased to this process; DuplicateJob if its model is followed.

        A command's ack waits for this. Inserts that arrive while one is under way go
        together in the next transaction (group commit), so fifty commands at once cost a few
        transactions instead of fifty queued on SQLite's one connection. A future: the ack
        bounds its wait without a task of its own.
        """
        if self._engine is None:
            closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            closed.set_exception(StoreError("the job store is not open"))
            return closed
        return self._inserts.add(to_row(job) | self._lease(lease_seconds))

    async def save(self, job: Job) -> None:
        """Write the job, only while this process holds its lease (else LeaseLost).

        On SQLite the writes that arrive together share a transaction (`bot.store.saves`).
        """
        row = to_row(job)
        del row["id"]
        params = row | {"job_id": job.id, "owner": self.owner}
        if self._saves is not None:
            await self._saves.save(params)
            return
        async with self._begin() as conn:
            result = await conn.execute(SAVE, params)
        if result.rowcount == 0:
            raise LeaseLost(job.id)

    def _lease(self, seconds: float) -> dict[str, Any]:
        return {"lease_owner": self.owner, "lease_expires": utc_now() + timedelta(seconds=seconds)}

    async def claim(self, *, limit: int, lease_seconds: float) -> list[Job]:
        """Lease up to `limit` unfinished jobs that nobody holds (or whose lease expired)."""
        c = jobs_table.c
        async with self._begin() as conn:
            ids = [r[0] for r in (await conn.execute(_claimable(utc_now(), limit))).all()]
            if not ids:
                return []
            await conn.execute(
                jobs_table.update().where(c.id.in_(ids)).values(**self._lease(lease_seconds))
            )
            rows = (await conn.execute(jobs_table.select().where(c.id.in_(ids)))).all()
        return [to_job(r._mapping) for r in rows]

    async def renew(self, job_ids: Iterable[str], *, lease_seconds: float) -> set[str]:
        """Extend this process's leases; returns the ids it still holds."""
        ids = list(job_ids)
        if not ids:
            return set()
        c = jobs_table.c
        async with self._begin() as conn:
            await conn.execute(
                jobs_table.update()
                .where(c.id.in_(ids))
                .where(c.lease_owner == self.owner)
                .values(lease_expires=utc_now() + timedelta(seconds=lease_seconds))
            )
            held = (
                await conn.execute(
                    sa.select(c.id).where(c.id.in_(ids)).where(c.lease_owner == self.owner)
                )
            ).all()
        return {r[0] for r in held}

    async def release(self, job_ids: Iterable[str] | None = None) -> None:
        """Give leases back (all of this process's by default) so another instance resumes."""
        c = jobs_table.c
        query = jobs_table.update().where(c.lease_owner == self.owner)
        if job_ids is not None:
            query = query.where(c.id.in_(list(job_ids)))
        async with self._begin() as conn:
            await conn.execute(query.values(lease_owner=None, lease_expires=None))

    async def take_over(self, job: Job, *, lease_seconds: float) -> None:
        """Write `job` and lease it to this process, whoever held it (used by cancel)."""
        row = to_row(job) | self._lease(lease_seconds)
        del row["id"]
        async with self._begin() as conn:
            await conn.execute(jobs_table.update().where(jobs_table.c.id == job.id).values(**row))

    async def ping(self, *, within: float) -> None:
        """A trivial query for health checks; StoreError unless answered within `within` s."""
        try:
            async with asyncio.timeout(within), self._begin() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except TimeoutError:
            raise StoreError(f"the database did not answer within {within:g} s") from None


def _claimable(now: datetime, limit: int) -> sa.Select[tuple[str]]:
    """Up to `limit` unfinished jobs that nobody holds (or whose lease expired), oldest first;
    found by `retrain_jobs_pending`."""
    c = jobs_table.c
    return (
        sa.select(c.id)
        .where(c.pending.is_(True))
        .where(sa.or_(c.lease_owner.is_(None), c.lease_expires < now))
        .order_by(c.created_at)
        .limit(limit)
        # Other instances skip rows being claimed instead of waiting for them.
        .with_for_update(skip_locked=True)
    )
