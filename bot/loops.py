"""Keeping a loop that outlives every error from outliving its own cancellation."""

from __future__ import annotations

import asyncio

__all__ = ["raise_if_cancelled"]


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
