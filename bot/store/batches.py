"""Group commit: what is handed in while a write is under way goes together in the next one.

A thousand trainings changing state, or fifty commands at once, then cost a few transactions
instead of one each queued on SQLite's one connection. Each caller still returns only once
its own item is written (or refused), so the order of writes a caller relies on holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["Batch", "Batches"]

_T = TypeVar("_T")

# One batch: each item with the future its caller awaits. The writer may fail single items
# (`set_exception`); every item it leaves unsettled counts as written.
Batch = list[tuple[_T, "asyncio.Future[None]"]]


class Batches(Generic[_T]):
    """Hands items to `write` in batches, one batch at a time, in the order they came."""

    def __init__(self, write: Callable[[Batch[_T]], Awaitable[None]]) -> None:
        self._write = write
        self._pending: Batch[_T] = []
        self._writing: asyncio.Task[None] | None = None

    def put(self, item: _T) -> asyncio.Future[None]:
        """Queue `item`; the future is done once it is written, or has what the writer set
        for it. A future, not a coroutine: a caller bounding its wait needs no task for it."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        if self._writing is None:
            self._writing = asyncio.ensure_future(self._drain())
        return done

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    await self._write(batch)
                except asyncio.CancelledError:
                    for _, done in (*batch, *self._pending):
                        done.cancel()
                    raise
                except Exception as exc:
                    _settle(batch, exc)
                else:
                    _settle(batch, None)
        finally:
            self._writing = None


def _settle(batch: Batch[_T], error: Exception | None) -> None:
    for _, done in batch:
        if done.done():  # settled by the writer, or its caller stopped waiting
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
