"""Bad days on demand: Slack's per-channel posting limit, scripted failures and random outages."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Collection
from dataclasses import dataclass

__all__ = ["Fault", "Faults", "TokenBucket"]


@dataclass(frozen=True)
class Fault:
    """How to fail one request: an HTTP status, Slack's error code and maybe a ``Retry-After``."""

    status: int
    error: str
    retry_after: int | None = None


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up: Slack's "1 msg/s, short bursts OK"."""

    def __init__(self, *, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def take(self) -> float:
        """Spend a token and return 0, or return the seconds until one is available."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self._rate


def retry_after_header(wait: float) -> int:
    """Slack sends whole seconds; slack_sdk's retry handler calls ``int()`` on the header."""
    return max(1, math.ceil(wait))


@dataclass
class _Scripted:
    method: str
    channel: str | None
    fault: Fault
    remaining: int


class Faults:
    """Scripted failures (``fail_next``) first, then a random failure rate, if set."""

    def __init__(self) -> None:
        self._scripted: list[_Scripted] = []
        self._rate = 0.0
        self._methods: frozenset[str] | None = None
        self._statuses: tuple[int, ...] = (500, 503)
        self._random = random.Random()

    def fail_next(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
        channel: str | None = None,
    ) -> None:
        """Fail the next ``times`` calls of ``method`` (only those naming ``channel``, if given)."""
        fault = make_fault(status, error=error, retry_after=retry_after)
        self._scripted.append(_Scripted(method, channel, fault, times))

    def fault_rate(
        self,
        rate: float,
        *,
        methods: Collection[str] | None = None,
        statuses: tuple[int, ...] = (500, 503),
        seed: int | None = None,
    ) -> None:
        """Fail a ``rate`` fraction of calls (of ``methods``, or all) with one of ``statuses``."""
        self._rate = rate
        self._methods = frozenset(methods) if methods is not None else None
        self._statuses = statuses
        self._random = random.Random(seed)

    def clear(self) -> None:
        """Forget scripted failures and turn the random rate off."""
        self._scripted.clear()
        self._rate = 0.0

    def pick(self, method: str, channel: str | None) -> Fault | None:
        """The fault for this call, if any; scripted faults are used up as they fire."""
        for scripted in self._scripted:
            if scripted.method == method and scripted.channel in (None, channel):
                scripted.remaining -= 1
                if scripted.remaining <= 0:
                    self._scripted.remove(scripted)
                return scripted.fault
        if self._rate <= 0 or (self._methods is not None and method not in self._methods):
            return None
        if self._random.random() >= self._rate:
            return None
        return make_fault(self._random.choice(self._statuses))


def make_fault(status: int, *, error: str | None = None, retry_after: int | None = None) -> Fault:
    """A fault with Slack's usual error code for the status."""
    if status == 429:
        return Fault(429, error or "ratelimited", 1 if retry_after is None else retry_after)
    return Fault(
        status, error or ("internal_error" if status == 200 else "fatal_error"), retry_after
    )
