"""Job writes on SQLite, together: a thousand trainings' peak costs a few transactions a second.

Every state change the observer sees and every post the deliverer records is a job write. Alone,
each was a transaction of its own, three trips to aiosqlite's thread on SQLite's one
connection: at N = 5,000 that was 276 commits a second at the peak, and the observer's polls
fell behind the writes they waited for. Here the writes that arrive while one is under way go
together in the next transaction (group commit, `bot.store.batches`), as one `executemany`.

Each write still keeps its lease: the UPDATE only touches a row this process holds. When fewer
rows changed than were written, the rows still held are read back in the same transaction, and
only the writes whose lease was lost fail, with `LeaseLost`; a database failure fails the whole
batch with `StoreError`, which the caller retries.

PostgreSQL keeps one transaction a write: its pool runs them side by side, and a transaction
of several rows could deadlock with a lease renewal taking the same rows in another order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import StoreError
from bot.store.batches import Batch, Batches
from bot.store.schema import jobs_table

__all__ = ["SAVE", "GroupSave", "LeaseLost"]

# Built once, with its values passed at execution: SQLAlchemy then reuses one compiled statement
# instead of building, coercing and cache-keying every value per write.
SAVE = (
    jobs_table.update()
    .where(jobs_table.c.id == sa.bindparam("job_id"))
    .where(jobs_table.c.lease_owner == sa.bindparam("owner"))
)


class LeaseLost(StoreError):
    """Another process took the job over; this one must stop following it."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} is no longer leased to this process")


class GroupSave:
    """Job writes (`SAVE`'s parameters), written in batches."""

    def __init__(
        self, begin: Callable[[], AbstractAsyncContextManager[AsyncConnection]], owner: str
    ) -> None:
        self._begin = begin  # a transaction, its database errors raised as StoreError
        self._owner = owner
        self._writes: Batches[dict[str, Any]] = Batches(self._write)

    def save(self, params: dict[str, Any]) -> asyncio.Future[None]:
        """Write `params` with whatever else arrives meanwhile; LeaseLost if not held."""
        return self._writes.put(params)

    async def _write(self, batch: Batch[dict[str, Any]]) -> None:
        writes = [params for params, _ in batch]
        async with self._begin() as conn:
            result = await conn.execute(SAVE, writes)
            if result.rowcount == len(writes):
                return
            c = jobs_table.c
            ids = {params["job_id"] for params in writes}
            still_held = sa.select(c.id).where(c.id.in_(ids)).where(c.lease_owner == self._owner)
            held = set((await conn.execute(still_held)).scalars())
        for params, done in batch:
            if params["job_id"] not in held and not done.done():
                done.set_exception(LeaseLost(params["job_id"]))
