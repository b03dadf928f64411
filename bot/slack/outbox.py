"""The outbox: Slack Web API calls queued per channel, paced, coalesced and retried.

A card edited every few seconds is worth sending only in its latest state, and thread replies
must land in the order they were written. So every call the notifier makes waits in its
channel's queue, a lane, paced as `bot.slack.lanes` says:

- `Outbox.call`: first in, first out per channel. The call at the head is retried until Slack
  answers it for good, so nothing overtakes it. Posts in one channel keep Slack's pace of about
  one a second.
- `Outbox.edit`: `chat.update` per (channel, ts). A newer edit of a message whose edit has not
  been sent yet replaces it; one call carries the latest payload and answers every caller.
  Edits have their own lane, so a post held by a 429 does not hold the card.

Each lane is served by a worker task started when work arrives and ended when the lane is empty,
so thousands of quiet channels cost no tasks. Different channels never wait for each other,
except that a 429 holds every call of that method (Slack counts limits per method and workspace).

Calls that name no channel (views, user groups) get the same retries in a pseudo lane the caller
names with `lane=`: one per method and subject, such as `views.open U123`, `views.publish U123`
or `usergroups.users.list S123` (channel IDs have no spaces, so the names never collide). Order
matters only among calls about the same subject (a user's Home tab: the latest publish lands
last), and none of them waits behind a channel's posts or behind another subject: a modal's
trigger_id dies 3 seconds after the click, so its caller bounds the wait
(`Surfaces.open_view`) and withdraws the call, retries included, once the trigger has expired.

Transient failures are retried for as long as someone waits for the answer; a permanent one is
dropped, logged with its job, and raised to the caller as `SlackRefused` (which is which:
`bot.slack.failures`; how each call is tried until then: `bot.slack.delivery`).

A caller that stops waiting (cancelled, or its own timeout: `wait_for_answer`) withdraws its
call if it was not sent yet, so a post the caller gave up on does not appear later. A call may
carry a `fence`: it is asked right before every attempt, and when it says no the call fails
with `SlackError(code="fenced")` unsent. The follower fences each job's posts with its lease, so
a process that was paused past its lease never posts for a job another instance took over,
however long the call waited in its queue. `close()` fails what is left with
`SlackError(code="outbox_closed")`.

Each attempt is made by `bot.slack.sender`, with the token of the workspace the call was
queued for (read when it is sent, so a rotated or revoked token is never sent from the queue),
and counted in `retrain_slack_calls_total`; `queued` is what waits, for
`retrain_outbox_queued_messages`.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import SlackError
from bot.metrics import Metrics
from bot.slack.delivery import Courier, outbox_closed
from bot.slack.failures import Response
from bot.slack.lanes import Fence, Lane, Pacing, Request
from bot.slack.sender import Sender
from bot.slack.tokens import OneToken, Tokens, current_team

__all__ = ["Outbox", "wait_for_answer"]

_EDIT = "chat_update"


class Outbox:
    """Per-channel queues in front of the Slack Web API.

    `clock` and `sleep` time pacing, `Retry-After` and backoff (tests pass scaled ones);
    `call_timeout` bounds each HTTP attempt and is measured by the event loop.
    """

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        tokens: Tokens | None = None,
        post_interval: float = 1.0,
        call_timeout: float = 10.0,
        max_backoff: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        metrics: Metrics | None = None,
    ) -> None:
        self._client = client
        self._sleep = sleep
        self._pacing = Pacing(post_interval=post_interval, max_backoff=max_backoff, clock=clock)
        sender = Sender(
            client=client, tokens=tokens or OneToken(), call_timeout=call_timeout, metrics=metrics
        )
        self._courier = Courier(sender=sender, pacing=self._pacing, sleep=sleep)
        self._lanes: dict[str, Lane] = {}
        self._closed = False

    @property
    def active_channels(self) -> int:
        """Lanes (channels and pseudo lanes) with queued work or a live worker."""
        return len(self._lanes)

    @property
    def queued(self) -> int:
        """Calls waiting in every lane, the one being sent included."""
        return sum(len(lane.calls) + len(lane.edits) for lane in list(self._lanes.values()))

    async def call(
        self,
        method: str,
        *,
        channel: str | None = None,
        lane: str | None = None,
        job_id: str | None = None,
        fence: Fence | None = None,
        **kwargs: Any,
    ) -> Response:
        """Make `method` ("chat.postMessage", "views.open", ...) in its lane's queue.

        The lane is `channel`'s, or the pseudo lane `lane` of a call naming no channel. Returns
        Slack's answer once every call queued before it in the lane has been answered; raises
        `SlackRefused` if Slack refuses it for good.
        """
        key = lane if lane is not None else channel
        if key is None:
            raise ValueError(f"{method} needs a channel or a lane to queue in")
        arguments = kwargs if channel is None else {"channel": channel, **kwargs}
        request = self._request(method, arguments, job_id, fence)
        queue = self._lane(key)
        queue.calls.append(request)
        if queue.call_worker is None:
            queue.call_worker = asyncio.create_task(
                self._serve_calls(key, queue), name=f"outbox {key} calls"
            )
        return await request.waiters[0]

    async def edit(
        self,
        *,
        channel: str,
        ts: str,
        job_id: str | None = None,
        fence: Fence | None = None,
        **kwargs: Any,
    ) -> Response:
        """`chat.update` the message at `ts`; a newer edit of it sent in one go answers this too."""
        request = self._request(_EDIT, {"channel": channel, "ts": ts, **kwargs}, job_id, fence)
        lane = self._lane(channel)
        pending = lane.edits.get(ts)
        lane.edits[ts] = request if pending is None else pending.absorb(request)
        if lane.edit_worker is None:
            lane.edit_worker = asyncio.create_task(
                self._serve_edits(channel, lane), name=f"outbox {channel} edits"
            )
        return await request.waiters[0]

    async def close(self) -> None:
        """Stop every worker; calls not yet answered fail with `SlackError("outbox_closed")`."""
        self._closed = True
        lanes = list(self._lanes.values())
        workers = [w for lane in lanes for w in (lane.call_worker, lane.edit_worker) if w]
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        for lane in lanes:
            for request in (*lane.calls, *lane.edits.values()):
                request.fail(outbox_closed())
        self._lanes.clear()

    # --- workers ------------------------------------------------------------------------------

    def _request(
        self, method: str, kwargs: dict[str, Any], job_id: str | None, fence: Fence | None
    ) -> Request:
        if self._closed:
            raise outbox_closed()
        name = method.replace(".", "_")
        if not callable(getattr(self._client, name, None)):
            raise ValueError(f"slack_sdk has no Web API method {method!r}")
        waiter: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        return Request(name, kwargs, job_id, [waiter], fence, current_team.get())

    def _lane(self, channel: str) -> Lane:
        lane = self._lanes.get(channel)
        if lane is None:
            lane = self._lanes[channel] = Lane()
        return lane

    def _forget(self, channel: str, lane: Lane) -> None:
        if lane.idle and self._lanes.get(channel) is lane:
            del self._lanes[channel]

    async def _serve_calls(self, channel: str, lane: Lane) -> None:
        try:
            while True:
                if lane.calls:
                    # The head stays queued while it is retried, so nothing behind overtakes it.
                    await self._courier.deliver(lane.calls[0], channel=channel, lane=lane)
                    lane.calls.popleft()
                    continue
                # Stay until the pacing gap has passed: a worker started later would not know
                # when this channel's last post went out. (A read queued meanwhile waits out the
                # gap too; at most post_interval.)
                gap = self._pacing.gap(lane)
                if gap <= 0:
                    return
                await self._sleep(gap)
        finally:
            lane.call_worker = None
            self._forget(channel, lane)

    async def _serve_edits(self, channel: str, lane: Lane) -> None:
        try:
            while lane.edits:
                ts = next(iter(lane.edits))
                request = lane.edits.pop(ts)
                # Edits of this message queued while this one is retried take its place.
                newer = functools.partial(lane.edits.pop, ts, None)
                await self._courier.deliver(request, channel=channel, lane=lane, newer=newer)
        finally:
            lane.edit_worker = None
            self._forget(channel, lane)


async def wait_for_answer(call: Awaitable[Response], *, within: float, what: str) -> Response:
    """Slack's answer to a queued `call` (`what` names it), waited for at most `within` seconds.

    The outbox retries transient failures for as long as it takes; the caller waits only so
    long, then gets a transient `SlackError(code="timeout")`, and the call is withdrawn if it was
    not sent yet.
    """
    try:
        async with asyncio.timeout(within):
            return await call
    except TimeoutError:
        raise SlackError(f"Slack {what} did not go through in time", code="timeout") from None
