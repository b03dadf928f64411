"""How the call at the head of a lane is delivered: tried until Slack answers it for good, or
until nobody waits for the answer any more.

Before each attempt the call is looked at again:

- an edit of the same message queued behind it (edits only) takes its place: one attempt
  carries the latest payload and answers every caller;
- a call nobody waits for any more (its callers cancelled, or timed out) is withdrawn unsent;
- the lane's pacing may hold it (`bot.slack.lanes`: the post gap, a 429 on its method);
- its fence, asked last, may fail it with `SlackError(code="fenced")` unsent.

Then one attempt (`bot.slack.sender`). Slack's answer resolves the call. A refusal for good
(`SlackRefused`) is logged with its job, dropped and raised to the callers. A 429 holds every
call of its method for its `Retry-After`; any other transient failure backs off, and the call
is tried again. An exception that is not Slack's answer (a bug, such as an argument slack_sdk
refuses) is the caller's to see, and the lane goes on. A worker cancelled by `Outbox.close`
fails its call with `SlackError(code="outbox_closed")`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.errors import SlackError, SlackRefused
from bot.slack.failures import RATE_LIMITED_CODES, Response
from bot.slack.lanes import Lane, Pacing, Request
from bot.slack.sender import Sender

__all__ = ["Courier", "outbox_closed"]

log = logging.getLogger(__name__)


class Courier:
    """Delivers one call at a time for a lane's worker: paced, fenced, retried."""

    def __init__(
        self, *, sender: Sender, pacing: Pacing, sleep: Callable[[float], Awaitable[None]]
    ) -> None:
        self._sender = sender
        self._pacing = pacing
        self._sleep = sleep

    async def deliver(
        self,
        request: Request,
        *,
        channel: str,
        lane: Lane,
        newer: Callable[[], Request | None] | None = None,
    ) -> None:
        """Send until Slack answers for good or nobody waits for the answer any more."""
        failures = 0
        try:
            while True:
                latest = newer() if newer is not None else None
                if latest is not None:
                    request = request.absorb(latest)
                if not request.wanted:
                    log.debug("%s in %s withdrawn by its caller", request.method, channel)
                    return
                delay = self._pacing.delay(request.method, lane, team=request.team)
                if delay > 0:
                    await self._sleep(delay)
                    continue
                if request.fence is not None and not request.fence():
                    log.info(
                        "%s in %s for job %s fenced off", request.method, channel, request.job_id
                    )
                    request.fail(SlackError("the call's fence closed", code="fenced"))
                    return
                try:
                    response = await self._send(request, lane)
                except SlackRefused as exc:
                    log.warning(
                        "Slack refused %s in %s for job %s: %s; dropped",
                        request.method,
                        channel,
                        request.job_id or "-",
                        exc.code,
                    )
                    request.fail(exc)
                    return
                except SlackError as exc:
                    if exc.code in RATE_LIMITED_CODES:
                        self._pacing.hold(request.method, exc.retry_after, team=request.team)
                    else:
                        failures += 1
                        await self._back_off(request, exc, failures=failures, channel=channel)
                    continue
                except Exception as exc:
                    # Not Slack's answer but a bug, such as an argument slack_sdk refuses: the
                    # caller's to see, and the channel's queue goes on.
                    request.fail(exc)
                    return
                request.resolve(response)
                return
        except asyncio.CancelledError:
            request.fail(outbox_closed())
            raise

    async def _back_off(
        self, request: Request, exc: SlackError, *, failures: int, channel: str
    ) -> None:
        delay = self._pacing.backoff(failures=failures, retry_after=exc.retry_after)
        log.info(
            "%s in %s for job %s failed (%s, attempt %d); retrying in %.1fs",
            request.method,
            channel,
            request.job_id or "-",
            exc.code,
            failures,
            delay,
        )
        await self._sleep(delay)

    async def _send(self, request: Request, lane: Lane) -> Response:
        """One attempt (`Sender.send`); a post, answered or not, starts the channel's gap."""
        try:
            return await self._sender.send(request)
        finally:
            self._pacing.answered(request.method, lane)


def outbox_closed() -> SlackError:
    return SlackError("the Slack outbox is closed; nothing was sent", code="outbox_closed")
