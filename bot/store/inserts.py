"""New jobs, inserted together: fifty commands at once cost a few transactions, not fifty.

A slash command's ack waits for its job's insert. Inserts that arrive while one is under way go
together in the next transaction (group commit), so fifty commands at once cost a few
transactions instead of fifty queued on SQLite's one connection. A batch with a row that breaks
the one-training-per-model rule is inserted again one row at a time, so only that row fails,
with `DuplicateJob`; a database failure fails the whole batch with `StoreError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import StoreError
from bot.store.database import DATABASE_ERRORS
from bot.store.schema import jobs_table

__all__ = ["DuplicateJob", "GroupInsert"]

# Built once, with its values passed at execution: SQLAlchemy then reuses one compiled statement.
_INSERT = jobs_table.insert()


class DuplicateJob(StoreError):
    """The model already has a followed training."""


class GroupInsert:
    """Rows waiting to be inserted, and the task inserting them."""

    def __init__(self, begin: Callable[..., AbstractAsyncContextManager[AsyncConnection]]) -> None:
        self._begin = begin  # `begin(urgent=True)`: a transaction before waiting background writes
        self._adds: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._adding: asyncio.Task[None] | None = None

    async def add(self, row: dict[str, Any]) -> None:
        """Insert `row` with whatever else arrives meanwhile; DuplicateJob if it breaks the rule."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._adds.append((row, done))
        if self._adding is None:
            self._adding = asyncio.ensure_future(self._add_pending())
        await done

    async def _add_pending(self) -> None:
        try:
            while self._adds:
                batch, self._adds = self._adds, []
                await self._insert(batch)
        finally:
            self._adding = None

    async def _insert(self, batch: list[tuple[dict[str, Any], asyncio.Future[None]]]) -> None:
        """Insert `batch` in one transaction; one by one if a row breaks the one-job rule."""
        try:
            async with self._begin(urgent=True) as conn:
                await conn.execute(_INSERT, [row for row, _ in batch])
        except IntegrityError:
            if len(batch) > 1:
                for one in batch:
                    await self._insert([one])
                return
            model_id = batch[0][0]["model_id"]
            _settle(batch, DuplicateJob(f"model {model_id} already has a followed training"))
        except DATABASE_ERRORS as exc:
            _settle(batch, StoreError(f"job store failed: {exc.__class__.__name__}"))
        except BaseException as exc:
            _settle(batch, StoreError(f"job store failed: {exc.__class__.__name__}"))
            raise
        else:
            _settle(batch, None)


def _settle(
    batch: list[tuple[dict[str, Any], asyncio.Future[None]]], error: StoreError | None
) -> None:
    for _, done in batch:
        if done.done():  # its caller stopped waiting
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
