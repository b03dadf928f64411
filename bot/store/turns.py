"""Whose turn it is on SQLite's one connection: a new command's insert goes before the rest.

SQLite takes one writer at a time, so the store gives each process one connection, and every
write waits for the ones before it. A slash command's ack waits for its job's insert, while
background writes (polls, recorded posts, the audit trail) can wait: an urgent turn is given
before any waiting ordinary one. PostgreSQL has a pool of connections and needs no turns.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["Turns"]


class Turns:
    """A lock whose urgent waiters go first; ordinary waiters keep their order."""

    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._ordinary: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def take(self, *, urgent: bool = False) -> AsyncIterator[None]:
        """Hold the connection's turn for the body of the `async with`."""
        if self._held:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            queue = self._urgent if urgent else self._ordinary
            queue.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._pass_on()  # the turn came with the cancellation: hand it on
                else:
                    queue.remove(waiter)
                raise
        else:
            self._held = True
        try:
            yield
        finally:
            self._pass_on()

    def _pass_on(self) -> None:
        for queue in (self._urgent, self._ordinary):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # still held, now by that waiter
                    return
        self._held = False
