"""Requests first: background work waits while a burst of Slack requests is being answered.

Slack gives a command 3 s and a person sees the answer; a job's polls, writes and posts can
wait a moment. While requests are in flight, the follower's turns and posts and a new job's first
steps wait for the burst to end, at most `hold` seconds from its start: under a load that
never pauses, what waits is let go every `hold` seconds, never starved. A burst ends once
no request has been in flight for `gap` seconds: commands answered together (their jobs are
stored in one transaction) leave a moment with none in flight before the next ones arrive,
and background work let in then would hold up the next ones' answers.

    Bot._events ──answering()──▶ Bolt ──▶ the listener's ack
    Observer._turn, Deliverer._serve, Retrains._begin ──await quiet()──▶ their work
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

__all__ = ["Foreground"]

# Measured with scripts/bench_ack.py: fifty commands at a time take well under a second to
# answer, and a job's first steps waiting this long are invisible to the person who asked.
_HOLD = 1.0
_GAP = 0.05


class Foreground:
    """Counts the requests being answered; `quiet()` waits until there are none."""

    def __init__(self, *, hold: float = _HOLD, gap: float = _GAP) -> None:
        self._hold = hold
        self._gap = gap
        self._in_flight = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._ending: asyncio.TimerHandle | None = None  # `gap` after the last answer
        self._expiry: asyncio.TimerHandle | None = None  # `hold` after the burst began

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Around one request, from its arrival to its answer."""
        if self._ending is not None:
            self._ending.cancel()  # the burst goes on
            self._ending = None
        if self._quiet.is_set():
            # One timer a burst, not one a waiter: the requests' own cost stays low.
            self._expiry = asyncio.get_running_loop().call_later(self._hold, self._end)
            self._quiet.clear()
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            if not self._in_flight and not self._quiet.is_set():
                self._ending = asyncio.get_running_loop().call_later(self._gap, self._end)

    def _end(self) -> None:
        """The burst is over (or has held background work `hold` seconds): let it all go.
        Requests still in flight at the hold's end start the next burst when more arrive."""
        for timer in (self._ending, self._expiry):
            if timer is not None:
                timer.cancel()
        self._ending = self._expiry = None
        self._quiet.set()

    async def quiet(self) -> None:
        """Return once no request is in flight, or `hold` seconds after the burst began."""
        if not self._quiet.is_set():
            await self._quiet.wait()
