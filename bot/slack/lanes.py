"""The outbox's lanes: what waits in each, and when its next call may go.

Slack allows about one message a second per channel and answers more with 429 (it counts limits
per method and workspace). So, per lane:

- Message-creating calls (`chat.postMessage`, `files_upload_v2`) start at least `post_interval`
  after the previous one came back, measured from its answer so network delays never squeeze
  two posts together.
- A 429 holds every call of its method, in every lane, for its `Retry-After` (one second when
  it names none); the lanes it held are spread over a tenth of that wait, so they do not all
  call again in the same instant.
- Any other transient failure backs off exponentially from half a second up to `max_backoff`,
  with jitter, or for the `Retry-After` Slack named if that is longer.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.slack.failures import Response
from bot.slack.tokens import Team

__all__ = ["Fence", "Lane", "Pacing", "Request"]

log = logging.getLogger(__name__)

# Asked right before each attempt of a call: may it still be sent?
Fence = Callable[[], bool]

# Calls that put a new message in the channel, and so count against its ~1 message/s.
_PACED = frozenset({"chat_postMessage", "files_upload_v2"})
_FIRST_BACKOFF = 0.5
# A 429 without a usable Retry-After: Slack's own shortest wait.
_DEFAULT_RETRY_AFTER = 1.0


@dataclass(eq=False)
class Request:
    """One call to make, and everyone waiting for its answer (several for coalesced edits)."""

    method: str
    kwargs: dict[str, Any]
    job_id: str | None
    waiters: list[asyncio.Future[Response]]
    fence: Fence | None = None
    team: Team | None = None  # whose token it carries (`bot.slack.tokens`)

    @property
    def wanted(self) -> bool:
        return any(not waiter.done() for waiter in self.waiters)

    def absorb(self, newer: Request) -> Request:
        """The newer edit of the same message, answering this one's callers as well."""
        return Request(
            newer.method,
            newer.kwargs,
            newer.job_id or self.job_id,
            self.waiters + newer.waiters,
            newer.fence,
            newer.team,
        )

    def resolve(self, response: Response) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(response)

    def fail(self, exc: BaseException) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_exception(exc)


@dataclass(eq=False)
class Lane:
    """One channel's queued calls, pending edits by ts, and the workers serving them."""

    calls: deque[Request] = field(default_factory=deque)
    edits: dict[str, Request] = field(default_factory=dict)
    call_worker: asyncio.Task[None] | None = None
    edit_worker: asyncio.Task[None] | None = None
    post_ready_at: float = float("-inf")

    @property
    def idle(self) -> bool:
        return not (self.calls or self.edits or self.call_worker or self.edit_worker)


class Pacing:
    """When a lane's next call may go: its channel's post gap, 429 holds, backoff.

    `clock` times the gaps and holds (tests pass a scaled one).
    """

    def __init__(
        self,
        *,
        post_interval: float,
        max_backoff: float,
        clock: Callable[[], float],
    ) -> None:
        self._post_interval = post_interval
        self._max_backoff = max_backoff
        self._clock = clock
        # Per workspace and method: no call before this time, after a 429.
        self._resume_at: dict[tuple[object, str], float] = {}

    def gap(self, lane: Lane) -> float:
        """How long until `lane` may post again; zero or less once it may."""
        return lane.post_ready_at - self._clock()

    def delay(self, method: str, lane: Lane, *, team: object = None) -> float:
        """How long `method` must wait: a 429 on it in `team`, and the channel's pacing."""
        now = self._clock()
        held = self._resume_at.get((team, method), now) - now
        paced = lane.post_ready_at - now if method in _PACED else 0.0
        if held <= 0:
            return paced
        # Every channel held by the same 429 would call again in the same instant; spread them.
        return max(paced, held * random.uniform(1.0, 1.1))

    def hold(self, method: str, retry_after: float | None, *, team: object = None) -> None:
        """Slack rate-limited `method` in `team` (Slack counts per method and workspace): no
        call of it there before `retry_after` has passed."""
        wait = _DEFAULT_RETRY_AFTER if retry_after is None else retry_after
        until = self._clock() + wait
        key = (team, method)
        self._resume_at[key] = max(self._resume_at.get(key, until), until)
        log.info("Slack rate-limits %s; holding it for %.1fs", method, wait)

    def backoff(self, *, failures: int, retry_after: float | None) -> float:
        """How long to wait after the `failures`-th transient failure in a row."""
        base: float = min(self._max_backoff, _FIRST_BACKOFF * 2 ** min(failures - 1, 30))
        return max(base * random.uniform(0.5, 1.0), retry_after or 0.0)

    def answered(self, method: str, lane: Lane) -> None:
        """A call of `method` came back (or failed): a post starts the lane's gap."""
        if method in _PACED:
            lane.post_ready_at = self._clock() + self._post_interval
