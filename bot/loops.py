"""Cancellation kept exact: a loop that outlives every error, and a wait with a deadline, both
stop when they are cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["raise_if_cancelled", "within"]

_T = TypeVar("_T")


def raise_if_cancelled() -> None:
    """Raise `CancelledError` if the current task is being cancelled.

    A loop that logs every error and goes on must still stop when it is cancelled. A library
    may turn the `CancelledError` delivered inside it into another error (a database driver
    closing its connection, say); caught as "any error", the cancellation would be lost and
    the loop would sleep on, keeping whoever waits for it to stop waiting as long.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def within(step: Awaitable[_T], deadline: float) -> _T:
    """`step`'s result, or TimeoutError once the loop's clock passes `deadline` (`step` is then
    cancelled).

    Not `asyncio.wait_for`: on Python 3.11 it returns the result of a step that ends in the
    very turn its caller is cancelled, and the cancellation is lost; the caller goes on as if
    nobody had asked it to stop.
    """
    async with asyncio.timeout_at(deadline):
        return await step
