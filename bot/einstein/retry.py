"""The one retry policy of Einstein calls: a few attempts, bounded waits, `Retry-After` honoured.

A call with its retries and waits ends within `RetryPolicy.budget` seconds. Which failures each
call retries, and why that is safe, is the table at the top of `bot.einstein.client`. Waits grow
exponentially with jitter (stamina), or follow the server's `Retry-After`; a `Retry-After` beyond
the call's budget ends the call with `EinsteinUnavailable.retry_after` set, so the caller can
come back later instead of hanging.

Tests turn every wait off with `stamina.set_testing(True, attempts=N, cap=True)`: no backoff and
no `Retry-After` sleeps, while `cap=True` keeps each call's own attempt limit under test.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import stamina

from bot.errors import EinsteinError, EinsteinUnavailable

__all__ = ["DEFAULT_RETRY", "RetryPolicy", "call_with_retries", "parse_retry_after"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How hard one call tries: at most `attempts` requests within `budget` seconds in all.

    Waits start at `wait_initial`, double up to `wait_max` and get up to `wait_jitter` seconds
    added at random, so many bots retrying after one outage do not arrive in step. The defaults
    ride out a blip: four attempts in about half a second. A longer outage is the follower's to
    wait out, with its own slower backoff between polls.
    """

    attempts: int = 4
    budget: float = 30.0
    wait_initial: float = 0.05
    wait_max: float = 1.0
    wait_jitter: float = 0.05


DEFAULT_RETRY = RetryPolicy()


async def call_with_retries(
    attempt: Callable[[], Awaitable[_T]],
    *,
    policy: RetryPolicy,
    retry_on: Callable[[EinsteinError], bool],
    what: str,
) -> _T:
    """Await `attempt()` until it succeeds, `retry_on` refuses its error or `policy` runs out.

    A `Retry-After` is honoured when it fits in what is left of the budget; otherwise the
    error is raised with its `retry_after`, for the caller to come back later.
    """
    deadline = time.monotonic() + policy.budget
    made = 0
    in_flight = False
    last: EinsteinError | None = None

    def wait(exc: Exception) -> bool | float:
        nonlocal last
        if not isinstance(exc, EinsteinError):
            return False
        last = exc
        # stamina stops at `attempts` too; checking here keeps "trying again" out of the log.
        if made >= policy.attempts or not retry_on(exc):
            return False
        retry_after = exc.retry_after if isinstance(exc, EinsteinUnavailable) else None
        if retry_after is None:
            log.info("Einstein %s failed (%s); trying again", what, exc.message)
            return True  # stamina's exponential backoff with jitter
        if retry_after > deadline - time.monotonic():
            return False
        log.info("Einstein %s failed (%s); trying again in %g s", what, exc.message, retry_after)
        return retry_after

    async def timed() -> _T:
        nonlocal in_flight, made
        made += 1
        in_flight = True
        try:
            return await attempt()
        except EinsteinError:
            in_flight = False  # answered or failed; a cut-off attempt leaves it set
            raise

    try:
        # stamina stops retrying after `budget`, but only between attempts; asyncio.timeout
        # also bounds an attempt or a wait in progress, so no call outlives its budget.
        async with asyncio.timeout(policy.budget):
            # Nearly every call succeeds at once: the first attempt runs without the retry
            # machinery, which would cost a status poll a tenth of its CPU. A failure is
            # handed to stamina as its first attempt's, so the policy applies as usual.
            try:
                return await timed()
            except EinsteinError as exc:
                failed: EinsteinError | None = exc
            async for retry in stamina.retry_context(
                on=wait,
                attempts=policy.attempts,
                timeout=policy.budget,
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
                wait_jitter=policy.wait_jitter,
            ):
                with retry:
                    if failed is not None:
                        first, failed = failed, None
                        raise first
                    return await timed()
    except TimeoutError:
        if last is not None and not in_flight:
            raise last from None
        raise EinsteinUnavailable(
            f"Einstein did not answer the {what} within {policy.budget:g} s", kind="timeout"
        ) from None
    raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """`Retry-After` in seconds from now: delay-seconds or an HTTP date; None if unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        # The spec says whole seconds; a fraction is read too rather than thrown away.
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None  # HTTP dates are GMT; one without a zone is not an HTTP date
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


_SECONDS = re.compile(r"[0-9]+(\.[0-9]+)?")
