"""The outbox: Slack Web API calls queued per channel, paced, coalesced and retried.

Slack allows about one message a second per channel and answers more with 429; a card edited
every few seconds is worth sending only in its latest state; and thread replies must land in
the order they were written. So every call the notifier makes waits in its channel's queue:

- `Outbox.call`: first in, first out per channel. The call at the head is retried until Slack
  answers it for good, so nothing overtakes it. Message-creating calls (`chat.postMessage`,
  `files_upload_v2`) in one channel start at least `post_interval` after the previous one came
  back, measured from its answer so network delays never squeeze two posts together.
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
trigger_id dies 3 seconds after the click, so its caller bounds the wait (the notifier's
`open_view`) and withdraws the call, retries included, once the trigger has expired.

Errors (`is_transient`):

- transient, retried with exponential backoff and jitter (429: after `Retry-After`, for every
  call of the method), for as long as someone waits for the answer: HTTP 429, 408 and 5xx;
  `ratelimited`, `rate_limited`, `internal_error`, `fatal_error`, `service_unavailable`,
  `request_timeout`, `team_added_to_org`; connection errors; no answer within `call_timeout`.
- permanent, everything else: `channel_not_found`, `not_in_channel`, `is_archived`,
  `invalid_auth`, `not_authed`, `account_inactive`, `token_revoked`, `missing_scope`,
  `invalid_blocks`, `msg_too_long`, `no_text`, `message_not_found`, `cant_update_message`,
  `edit_window_closed`, `restricted_action`, `thread_not_found`, ... The call is dropped, logged
  with its job, and the caller gets `SlackRefused` carrying the code, to join, tell or give up.
  An unknown code counts as permanent: retrying a refusal forever would stall every later post
  in the channel, while the caller can always try again.

A caller that stops waiting (cancelled, or its own timeout) withdraws its call if it was not
sent yet, so a post the caller gave up on does not appear later. A call may carry a `fence`: it
is asked right before every attempt, and when it says no the call fails with
`SlackError(code="fenced")` unsent. The follower fences each job's posts with its lease, so a
process that was paused past its lease never posts for a job another instance took over, however
long the call waited in its queue. `close()` fails what is left
with `SlackError(code="outbox_closed")`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import SlackError, SlackRefused

__all__ = ["TRANSIENT_CODES", "Fence", "Outbox", "is_transient"]

log = logging.getLogger(__name__)

Response = dict[str, Any]
# Asked right before each attempt of a call: may it still be sent?
Fence = Callable[[], bool]

TRANSIENT_CODES = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        # Slack answers this while a workspace moves into an Enterprise Grid org.
        "team_added_to_org",
        # Ours: the request got no answer.
        "connection",
        "timeout",
    }
)
_RATE_LIMITED = frozenset({"ratelimited", "rate_limited"})
# Calls that put a new message in the channel, and so count against its ~1 message/s.
_PACED = frozenset({"chat_postMessage", "files_upload_v2"})
_EDIT = "chat_update"
_FIRST_BACKOFF = 0.5
# A 429 without a usable Retry-After: Slack's own shortest wait.
_DEFAULT_RETRY_AFTER = 1.0


def is_transient(code: str, *, status: int | None = None) -> bool:
    """Whether the same call may succeed later: rate limits, outages, network trouble."""
    if status is not None and (status in (408, 429) or status >= 500):
        return True
    return code in TRANSIENT_CODES


@dataclass(eq=False)
class _Request:
    """One call to make, and everyone waiting for its answer (several for coalesced edits)."""

    method: str
    kwargs: dict[str, Any]
    job_id: str | None
    waiters: list[asyncio.Future[Response]]
    fence: Fence | None = None

    @property
    def wanted(self) -> bool:
        return any(not waiter.done() for waiter in self.waiters)

    def absorb(self, newer: _Request) -> _Request:
        """The newer edit of the same message, answering this one's callers as well."""
        return _Request(
            newer.method,
            newer.kwargs,
            newer.job_id or self.job_id,
            self.waiters + newer.waiters,
            newer.fence,
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
class _Lane:
    """One channel's queued calls, pending edits by ts, and the workers serving them."""

    calls: deque[_Request] = field(default_factory=deque)
    edits: dict[str, _Request] = field(default_factory=dict)
    call_worker: asyncio.Task[None] | None = None
    edit_worker: asyncio.Task[None] | None = None
    post_ready_at: float = float("-inf")

    @property
    def idle(self) -> bool:
        return not (self.calls or self.edits or self.call_worker or self.edit_worker)


class Outbox:
    """Per-channel queues in front of the Slack Web API.

    `clock` and `sleep` time pacing, `Retry-After` and backoff (tests pass scaled ones);
    `call_timeout` bounds each HTTP attempt and is measured by the event loop.
    """

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        post_interval: float = 1.0,
        call_timeout: float = 10.0,
        max_backoff: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._post_interval = post_interval
        self._call_timeout = call_timeout
        self._max_backoff = max_backoff
        self._clock = clock
        self._sleep = sleep
        self._lanes: dict[str, _Lane] = {}
        # Per method: no call before this time, after a 429.
        self._resume_at: dict[str, float] = {}
        self._closed = False

    @property
    def active_channels(self) -> int:
        """Lanes (channels and pseudo lanes) with queued work or a live worker."""
        return len(self._lanes)

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
                request.fail(_closed())
        self._lanes.clear()

    # --- workers ------------------------------------------------------------------------------

    def _request(
        self, method: str, kwargs: dict[str, Any], job_id: str | None, fence: Fence | None
    ) -> _Request:
        if self._closed:
            raise _closed()
        name = method.replace(".", "_")
        if not callable(getattr(self._client, name, None)):
            raise ValueError(f"slack_sdk has no Web API method {method!r}")
        waiter: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        return _Request(name, kwargs, job_id, [waiter], fence)

    def _lane(self, channel: str) -> _Lane:
        lane = self._lanes.get(channel)
        if lane is None:
            lane = self._lanes[channel] = _Lane()
        return lane

    def _forget(self, channel: str, lane: _Lane) -> None:
        if lane.idle and self._lanes.get(channel) is lane:
            del self._lanes[channel]

    async def _serve_calls(self, channel: str, lane: _Lane) -> None:
        try:
            while True:
                if lane.calls:
                    # The head stays queued while it is retried, so nothing behind overtakes it.
                    await self._deliver(lane.calls[0], channel=channel, lane=lane)
                    lane.calls.popleft()
                    continue
                # Stay until the pacing gap has passed: a worker started later would not know
                # when this channel's last post went out. (A read queued meanwhile waits out the
                # gap too; at most post_interval.)
                gap = lane.post_ready_at - self._clock()
                if gap <= 0:
                    return
                await self._sleep(gap)
        finally:
            lane.call_worker = None
            self._forget(channel, lane)

    async def _serve_edits(self, channel: str, lane: _Lane) -> None:
        try:
            while lane.edits:
                ts = next(iter(lane.edits))
                request = lane.edits.pop(ts)
                # Edits of this message queued while this one is retried take its place.
                newer = functools.partial(lane.edits.pop, ts, None)
                await self._deliver(request, channel=channel, lane=lane, newer=newer)
        finally:
            lane.edit_worker = None
            self._forget(channel, lane)

    async def _deliver(
        self,
        request: _Request,
        *,
        channel: str,
        lane: _Lane,
        newer: Callable[[], _Request | None] | None = None,
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
                delay = self._delay(request.method, lane)
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
                    if exc.code in _RATE_LIMITED:
                        self._hold(request.method, exc.retry_after)
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
            request.fail(_closed())
            raise

    def _delay(self, method: str, lane: _Lane) -> float:
        """How long `method` must wait: a 429 on it, and the channel's pacing for posts."""
        now = self._clock()
        held = self._resume_at.get(method, now) - now
        paced = lane.post_ready_at - now if method in _PACED else 0.0
        if held <= 0:
            return paced
        # Every channel held by the same 429 would call again in the same instant; spread them.
        return max(paced, held * random.uniform(1.0, 1.1))

    def _hold(self, method: str, retry_after: float | None) -> None:
        wait = _DEFAULT_RETRY_AFTER if retry_after is None else retry_after
        until = self._clock() + wait
        self._resume_at[method] = max(self._resume_at.get(method, until), until)
        log.info("Slack rate-limits %s; holding it for %.1fs", method, wait)

    async def _back_off(
        self, request: _Request, exc: SlackError, *, failures: int, channel: str
    ) -> None:
        base = min(self._max_backoff, _FIRST_BACKOFF * 2 ** min(failures - 1, 30))
        delay = max(base * random.uniform(0.5, 1.0), exc.retry_after or 0.0)
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

    async def _send(self, request: _Request, lane: _Lane) -> Response:
        """One attempt; every failure comes back as `SlackError` or `SlackRefused`.

        A post that timed out or lost its connection may still have reached Slack, and Slack
        has no idempotency key, so its retry can post twice; the job metadata on every post is
        what lets a reader tell the copies apart.
        """
        method = request.method
        try:
            async with asyncio.timeout(self._call_timeout):
                response = await getattr(self._client, method)(**request.kwargs)
        except SlackApiError as exc:
            raise _api_failure(method, exc) from None
        except TimeoutError:
            raise SlackError(f"Slack {method} timed out", code="timeout") from None
        except (aiohttp.ClientError, OSError) as exc:
            name = exc.__class__.__name__
            raise SlackError(f"Slack {method} failed: {name}", code="connection") from None
        except SlackRequestError as exc:
            # files_upload_v2 reports a failed POST to its upload URL this way; a new attempt
            # gets a new URL. Other SlackRequestErrors are arguments it refuses.
            if str(exc).startswith("Failed to upload a file"):
                raise SlackError(f"Slack {method} upload failed", code="connection") from None
            raise SlackRefused(f"Slack {method} refused: {exc}", code="invalid_arguments") from None
        except SlackClientError as exc:
            name = exc.__class__.__name__
            raise SlackRefused(f"Slack {method} refused: {name}", code=name) from None
        finally:
            if method in _PACED:
                lane.post_ready_at = self._clock() + self._post_interval
        data = response.data
        if not isinstance(data, dict):
            raise SlackRefused(f"Slack {method} answered no JSON", code="unexpected_response")
        return data


def _api_failure(method: str, exc: SlackApiError) -> SlackError:
    # slack_sdk hands over its own response, or aiohttp's when the body was not JSON.
    response = exc.response
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    status = status if isinstance(status, int) else None
    data = getattr(response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    code = "ratelimited" if status == 429 else str(error or status or "unknown")
    retry_after = _retry_after(getattr(response, "headers", None))
    kind = SlackError if is_transient(code, status=status) else SlackRefused
    return kind(f"Slack {method} failed: {code}", code=code, retry_after=retry_after)


def _retry_after(headers: object) -> float | None:
    """`Retry-After` in seconds; Slack sends whole seconds, never an HTTP date."""
    items = getattr(headers, "items", None)
    if items is None:
        return None
    for key, value in items():
        if str(key).lower() == "retry-after":
            try:
                seconds = float(value)
            except ValueError:
                return None
            return seconds if seconds >= 0 else None
    return None


def _closed() -> SlackError:
    return SlackError("the Slack outbox is closed; nothing was sent", code="outbox_closed")
