"""New jobs, inserted together: fifty commands at once cost a few transactions, not fifty.

A slash command's ack waits for its job's insert. Inserts that arrive while one is under way go
together in the next transaction (group commit, `bot.store.batches`). On SQLite the insert runs
on the event loop's own thread in the connection's urgent turn (`database.open_inserter`),
falling back to the usual connection when another process holds the file. A batch with a row
that breaks the one-training-per-model rule is inserted again one row at a time, so only that
row fails, with `DuplicateJob`; a database failure fails the whole batch with `StoreError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import StoreError
from bot.store.batches import Batch, Batches
from bot.store.database import DATABASE_ERRORS
from bot.store.schema import jobs_table
from bot.store.turns import Turns

__all__ = ["DuplicateJob", "GroupInsert"]

# Built once, with its values passed at execution: SQLAlchemy then reuses one compiled statement.
_INSERT = jobs_table.insert()


class DuplicateJob(StoreError):
    """The model already has a followed training."""


class GroupInsert:
    """New jobs' rows, inserted in batches."""

    def __init__(self, begin: Callable[..., AbstractAsyncContextManager[AsyncConnection]]) -> None:
        self._begin = begin  # `begin(urgent=True)`: a transaction before waiting background writes
        self._rows: Batches[dict[str, Any]] = Batches(self._insert)
        self.here: tuple[sa.Engine, Turns] | None = None  # SQLite: the loop thread's inserter
        self._held: sa.Connection | None = None  # its one connection, kept open

    def add(self, row: dict[str, Any]) -> asyncio.Future[None]:
        """Insert `row` with whatever else arrives meanwhile; DuplicateJob if it breaks the rule."""
        return self._rows.put(row)

    async def _insert(self, batch: Batch[dict[str, Any]]) -> None:
        """Insert `batch` in one transaction; one by one if a row breaks the one-job rule."""
        rows = _present([row for row, _ in batch])
        try:
            if not await self._insert_here(rows):
                async with self._begin(urgent=True) as conn:
                    await conn.execute(_INSERT, rows)
        except IntegrityError:
            if len(batch) == 1:
                model_id = batch[0][0]["model_id"]
                raise DuplicateJob(f"model {model_id} already has a followed training") from None
            for row, done in batch:
                try:
                    await self._insert([(row, done)])
                except StoreError as exc:
                    done.set_exception(exc)
        except DATABASE_ERRORS as exc:
            raise StoreError(f"job store failed: {exc.__class__.__name__}") from None

    async def _insert_here(self, rows: list[dict[str, Any]]) -> bool:
        """Insert on the loop's thread (SQLite); False if the file is busy or this is not SQLite."""
        if self.here is None:
            return False
        inserter, turns = self.here
        async with turns.take(urgent=True):
            # Kept open between inserts: no checkout from the pool and back (0.17 ms an insert
            # and commit instead of 0.18, measured on its own).
            conn = self._held = self._held or inserter.connect()
            try:
                with conn.begin():  # blocks for a few rows' insert
                    conn.execute(_INSERT, rows)
            except OperationalError as exc:
                if "locked" not in str(exc.orig):
                    raise
                return False
        return True

    def close(self) -> None:
        """Let go of the inserter (SQLite), its connection first."""
        if self._held is not None:
            self._held.close()
            self._held = None
        if self.here is not None:
            self.here[0].dispose()
            self.here = None


def _present(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` without the columns that are NULL in every one of them: a new job sets about half
    of the table's columns, and each column named costs every row its binding (a fifth of an
    insert's time). The columns left out are NULL all the same."""
    keys = [key for key in rows[0] if any(row[key] is not None for row in rows)]
    return [{key: row[key] for key in keys} for row in rows]
