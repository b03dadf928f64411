"""The outbox against the fake Slack: pacing, order, coalesced edits, retries, refusals, close.

The outbox and the fake share a clock running `SCALE` times faster than real time, so a second
of pacing or `Retry-After` costs 20 ms, and the fake's recorded call times are in that clock.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import SlackError, SlackRefused
from bot.fakes.slack import Channel, FakeSlack
from bot.slack.failures import is_transient
from bot.slack.outbox import Outbox

SCALE = 50.0
GENERAL = "C0001"
RANDOM = "C0002"
ARCHIVED = "C0ARCHIVED"
CHANNELS = (
    Channel(id=GENERAL, name="general"),
    Channel(id=RANDOM, name="random"),
    Channel(id=ARCHIVED, name="old", is_archived=True),
)
POST = "chat.postMessage"


class ScaledTime:
    """A clock and a sleep `SCALE` times faster than real ones."""

    def clock(self) -> float:
        return time.monotonic() * SCALE

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(delay / SCALE)


class GatedTime(ScaledTime):
    """Scaled time whose sleeps, once the test closes the gate, start only when it reopens.

    A test closes it to act while a worker is known to be waiting (backing off, held by a 429),
    however slow the machine.
    """

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()

    def close_gate(self) -> None:
        self._open.clear()

    def open_gate(self) -> None:
        self._open.set()

    async def sleep(self, delay: float) -> None:
        await self._open.wait()
        await super().sleep(delay)


class VirtualTime:
    """Time that passes only by sleeping, so network delays cost none of it.

    Sleeps add up rather than overlap: right for one worker, too slow a clock for several.
    """

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.now += max(delay, 0.0)
        await asyncio.sleep(0)


def make_outbox(
    api_url: str, *, time_source: ScaledTime | VirtualTime | None = None, **options: Any
) -> Outbox:
    # slack_sdk's own retry handler would sleep in real time inside a call; the outbox retries.
    client = AsyncWebClient(token="xoxb-test", base_url=api_url, retry_handlers=[])
    source = time_source or ScaledTime()
    return Outbox(client=client, clock=source.clock, sleep=source.sleep, **options)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels=CHANNELS, clock=ScaledTime().clock) as server:
        yield server


@pytest.fixture
async def outbox(fake: FakeSlack) -> AsyncIterator[Outbox]:
    box = make_outbox(fake.api_url)
    yield box
    await box.close()


@pytest.fixture
def gated() -> GatedTime:
    return GatedTime()


@pytest.fixture
async def gated_outbox(fake: FakeSlack, gated: GatedTime) -> AsyncIterator[Outbox]:
    box = make_outbox(fake.api_url, time_source=gated)
    yield box
    await box.close()


@pytest.fixture
def outbox_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="bot.slack.delivery")
    return caplog


def post_times(fake: FakeSlack, channel: str | None = None) -> list[float]:
    calls = fake.calls_to(POST)
    return [c.time for c in calls if channel is None or c.args.get("channel") == channel]


def texts(fake: FakeSlack, channel: str = GENERAL) -> list[str]:
    return [m.text for m in fake.messages(channel)]


# --- pacing and order -----------------------------------------------------------------------


async def test_posts_in_one_channel_are_paced(fake: FakeSlack, outbox: Outbox) -> None:
    """Posts to one channel reach Slack at least post_interval apart."""
    await asyncio.gather(*(outbox.call(POST, channel=GENERAL, text=f"m{i}") for i in range(5)))
    times = post_times(fake)
    assert len(times) == 5
    assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(times))


async def test_pacing_outlasts_an_empty_queue(fake: FakeSlack, outbox: Outbox) -> None:
    """A post made just after the queue emptied still waits post_interval after the last one."""
    for i in range(3):
        await outbox.call(POST, channel=GENERAL, text=f"m{i}")
    times = post_times(fake)
    assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(times))


async def test_channels_are_paced_independently(fake: FakeSlack, outbox: Outbox) -> None:
    """Two channels post side by side: their posts interleave instead of queueing one behind."""
    await asyncio.gather(
        *(outbox.call(POST, channel=GENERAL, text=f"g{i}") for i in range(3)),
        *(outbox.call(POST, channel=RANDOM, text=f"r{i}") for i in range(3)),
    )
    general, random_ = post_times(fake, GENERAL), post_times(fake, RANDOM)
    # Each channel's first post went out before the other's pacing let its second go.
    assert random_[0] < general[1]
    assert general[0] < random_[1]


async def test_thread_replies_keep_their_order(fake: FakeSlack, outbox: Outbox) -> None:
    """Replies enqueued together appear in the thread in the order they were enqueued."""
    parent = await outbox.call(POST, channel=GENERAL, text="card")
    replies = await asyncio.gather(
        *(
            outbox.call(POST, channel=GENERAL, thread_ts=parent["ts"], text=f"reply {i}")
            for i in range(8)
        )
    )
    thread = fake.thread(GENERAL, parent["ts"])
    assert [m.text for m in thread] == ["card", *(f"reply {i}" for i in range(8))]
    assert [r["ts"] for r in replies] == [m.ts for m in thread[1:]]


async def test_burst_of_posts_survives_the_rate_limit(outbox_log: pytest.LogCaptureFixture) -> None:
    """30 posts against Slack's per-channel limit all arrive, in order, despite 429s."""
    # One channel, one worker: virtual time keeps the limit biting however slow the machine.
    virtual = VirtualTime()
    async with FakeSlack(
        channels=CHANNELS, clock=virtual.clock, post_rate_per_channel=2.0, post_burst=3
    ) as fake:
        outbox = make_outbox(fake.api_url, time_source=virtual, post_interval=0.1)
        try:
            await asyncio.gather(
                *(outbox.call(POST, channel=GENERAL, text=f"burst {i}") for i in range(30))
            )
        finally:
            await outbox.close()
    statuses = [c.status for c in fake.calls_to(POST)]
    # The limit bit, and Retry-After was waited out instead of hammering the limit.
    assert 0 < statuses.count(429) < 20
    assert statuses.count(200) == 30
    assert texts(fake) == [f"burst {i}" for i in range(30)]


# --- edits ----------------------------------------------------------------------------------


async def test_pending_edits_coalesce(fake: FakeSlack, outbox: Outbox) -> None:
    """Three pending edits of one message become one call with the last payload, for all three."""
    card = await outbox.call(POST, channel=GENERAL, text="v0")
    other = await outbox.call(POST, channel=GENERAL, text="other")
    results = await asyncio.gather(
        *(outbox.edit(channel=GENERAL, ts=card["ts"], text=f"v{i}") for i in range(1, 4)),
        outbox.edit(channel=GENERAL, ts=other["ts"], text="other, edited"),
    )
    assert [c.args["text"] for c in fake.calls_to("chat.update")] == ["v3", "other, edited"]
    assert [r["text"] for r in results] == ["v3", "v3", "v3", "other, edited"]
    assert [v.text for v in fake.message(GENERAL, card["ts"]).edits] == ["v3"]


async def test_edit_made_during_a_retry_replaces_it(
    fake: FakeSlack, gated_outbox: Outbox, gated: GatedTime
) -> None:
    """Edits arriving while an earlier one waits to be retried are sent instead of it, once."""
    outbox = gated_outbox
    card = await outbox.call(POST, channel=GENERAL, text="v0")
    fake.fail_next("chat.update", status=503)
    gated.close_gate()
    first = asyncio.ensure_future(outbox.edit(channel=GENERAL, ts=card["ts"], text="v1"))
    await fake.wait_for(lambda: fake.calls_to("chat.update"))
    pending = [
        asyncio.ensure_future(outbox.edit(channel=GENERAL, ts=card["ts"], text=f"v{i}"))
        for i in (2, 3)
    ]
    await asyncio.sleep(0)  # both are queued before the backoff may end
    gated.open_gate()
    later = await asyncio.gather(*pending)
    sent = [(c.status, c.args["text"]) for c in fake.calls_to("chat.update")]
    assert sent == [(503, "v1"), (200, "v3")]
    assert (await first)["text"] == later[0]["text"] == later[1]["text"] == "v3"


# --- transient errors -----------------------------------------------------------------------


async def test_ratelimited_post_waits_retry_after(fake: FakeSlack, outbox: Outbox) -> None:
    """After a 429 the post is sent again no sooner than Retry-After."""
    fake.fail_next(POST, status=429, retry_after=3)
    await outbox.call(POST, channel=GENERAL, text="hello")
    calls = fake.calls_to(POST)
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].time - calls[0].time >= 3.0
    assert texts(fake) == ["hello"]


async def test_ratelimited_post_does_not_hold_edits(
    fake: FakeSlack, gated_outbox: Outbox, gated: GatedTime
) -> None:
    """A 429 on chat.postMessage leaves chat.update free to go."""
    outbox = gated_outbox
    card = await outbox.call(POST, channel=GENERAL, text="card")
    await fake.wait_for(lambda: outbox.active_channels == 0)
    fake.fail_next(POST, status=429, retry_after=1)
    gated.close_gate()
    reply = asyncio.ensure_future(
        outbox.call(POST, channel=GENERAL, thread_ts=card["ts"], text="reply")
    )
    await fake.wait_for(lambda: fake.calls_to(POST)[-1].status == 429)
    await asyncio.wait_for(outbox.edit(channel=GENERAL, ts=card["ts"], text="card, edited"), 2)
    assert not reply.done()
    gated.open_gate()
    await reply
    assert [c.method for c in fake.calls[1:]] == [POST, "chat.update", POST]
    assert texts(fake) == ["card, edited", "reply"]


async def test_ratelimited_edit_does_not_hold_posts(
    fake: FakeSlack, gated_outbox: Outbox, gated: GatedTime
) -> None:
    """A 429 on chat.update leaves chat.postMessage free to go."""
    outbox = gated_outbox
    card = await outbox.call(POST, channel=GENERAL, text="card")
    await fake.wait_for(lambda: outbox.active_channels == 0)
    fake.fail_next("chat.update", status=429, retry_after=1)
    gated.close_gate()
    edit = asyncio.ensure_future(outbox.edit(channel=GENERAL, ts=card["ts"], text="edited"))
    await fake.wait_for(lambda: fake.calls_to("chat.update"))
    await asyncio.wait_for(
        outbox.call(POST, channel=GENERAL, thread_ts=card["ts"], text="reply"), 2
    )
    assert not edit.done()
    gated.open_gate()
    await edit
    assert [c.method for c in fake.calls[1:]] == ["chat.update", POST, "chat.update"]
    assert texts(fake) == ["edited", "reply"]


async def test_pseudo_lane_does_not_wait_behind_a_channel(
    fake: FakeSlack, gated_outbox: Outbox, gated: GatedTime
) -> None:
    """A call in a pseudo lane names no channel and goes while a channel's post is held."""
    outbox = gated_outbox
    fake.fail_next(POST, status=429, retry_after=1)
    gated.close_gate()
    post = asyncio.ensure_future(outbox.call(POST, channel=GENERAL, text="held"))
    await fake.wait_for(lambda: fake.calls_to(POST))
    home = {"type": "home", "blocks": []}
    await asyncio.wait_for(
        outbox.call("views.publish", lane="views.publish U1", user_id="U1", view=home), 2
    )
    assert not post.done()
    gated.open_gate()
    await post
    [publish] = fake.calls_to("views.publish")
    assert "channel" not in publish.args
    assert [c.method for c in fake.calls] == [POST, "views.publish", POST]


async def test_call_without_channel_or_lane_is_refused(outbox: Outbox) -> None:
    """A call naming neither a channel nor a lane is a ValueError, not a queued call."""
    with pytest.raises(ValueError, match="channel or a lane"):
        await outbox.call("views.publish", user_id="U1", view={"type": "home", "blocks": []})


async def test_server_errors_are_retried(fake: FakeSlack, outbox: Outbox) -> None:
    """Three 503s in a row, then the post goes through exactly once."""
    fake.fail_next(POST, status=503, times=3)
    response = await outbox.call(POST, channel=GENERAL, text="hello", job_id="job-1")
    assert [c.status for c in fake.calls_to(POST)] == [503, 503, 503, 200]
    assert response["ts"] == fake.messages(GENERAL)[0].ts
    assert texts(fake) == ["hello"]


async def test_connection_errors_are_retried(
    fake: FakeSlack, outbox: Outbox, outbox_log: pytest.LogCaptureFixture
) -> None:
    """A post made while Slack is unreachable is delivered once it is back."""
    port = urlsplit(fake.root_url).port
    await fake.stop()
    post = asyncio.ensure_future(outbox.call(POST, channel=GENERAL, text="after the outage"))

    def failed_attempts() -> bool:
        return sum("(connection" in r.getMessage() for r in outbox_log.records) >= 2

    await fake.wait_for(failed_attempts)
    await fake.start(port=port or 0)
    assert (await asyncio.wait_for(post, 2))["ok"]
    assert texts(fake) == ["after the outage"]


async def test_hanging_call_is_cut_at_call_timeout(outbox_log: pytest.LogCaptureFixture) -> None:
    """A call Slack never answers times out after call_timeout and is tried again."""
    connections = 0

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.read()
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    outbox = make_outbox(f"http://127.0.0.1:{port}/api/", call_timeout=0.05)
    post = asyncio.ensure_future(outbox.call(POST, channel=GENERAL, text="hello"))
    try:
        async with asyncio.timeout(2):
            while connections < 2:  # noqa: ASYNC110 - polling a counter the server bumps
                await asyncio.sleep(0.005)
    finally:
        await outbox.close()
        server.close()
    with pytest.raises(SlackError) as info:
        await post
    assert info.value.code == "outbox_closed"
    assert any("(timeout" in r.getMessage() for r in outbox_log.records)


# --- permanent errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "args", "fault", "code"),
    [
        ("C0NOWHERE", {"text": "hi"}, None, "channel_not_found"),
        (ARCHIVED, {"text": "hi"}, None, "is_archived"),
        (GENERAL, {"text": "hi", "blocks": [{"type": "bogus"}]}, None, "invalid_blocks"),
        (GENERAL, {"text": "hi"}, "not_in_channel", "not_in_channel"),
        (GENERAL, {"text": "hi"}, "missing_scope", "missing_scope"),
    ],
)
async def test_permanent_error_surfaces_at_once(
    fake: FakeSlack,
    outbox: Outbox,
    outbox_log: pytest.LogCaptureFixture,
    channel: str,
    args: dict[str, Any],
    fault: str | None,
    code: str,
) -> None:
    """A refusal reaches the caller with Slack's code after one call, logged with the job."""
    if fault is not None:
        fake.fail_next(POST, error=fault)
    with pytest.raises(SlackRefused) as info:
        await outbox.call(POST, channel=channel, job_id="job-7", **args)
    assert info.value.code == code
    assert info.value.permanent
    assert len(fake.calls_to(POST)) == 1
    assert any(
        "job-7" in r.getMessage() and code in r.getMessage() and r.levelno == logging.WARNING
        for r in outbox_log.records
    )


async def test_refused_edit_is_not_retried(fake: FakeSlack, outbox: Outbox) -> None:
    """An edit of a message Slack does not know fails with message_not_found after one call."""
    with pytest.raises(SlackRefused) as info:
        await outbox.edit(channel=GENERAL, ts="1700000000.999999", text="nothing there")
    assert info.value.code == "message_not_found"
    assert len(fake.calls_to("chat.update")) == 1


async def test_refusal_does_not_stall_the_channel(fake: FakeSlack, outbox: Outbox) -> None:
    """Posts behind a refused one are still sent, in order."""
    results = await asyncio.gather(
        outbox.call(POST, channel=GENERAL, text="before"),
        outbox.call(POST, channel=GENERAL, text="bad", blocks=[{"type": "bogus"}]),
        outbox.call(POST, channel=GENERAL, text="after"),
        return_exceptions=True,
    )
    assert isinstance(results[1], SlackRefused)
    assert texts(fake) == ["before", "after"]


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        ("ratelimited", 429, True),
        ("rate_limited", 200, True),
        ("internal_error", 200, True),
        ("fatal_error", 500, True),
        ("service_unavailable", 200, True),
        ("request_timeout", 200, True),
        ("503", 503, True),
        ("connection", None, True),
        ("timeout", None, True),
        ("channel_not_found", 200, False),
        ("not_in_channel", 200, False),
        ("is_archived", 200, False),
        ("invalid_auth", 200, False),
        ("not_authed", 200, False),
        ("account_inactive", 200, False),
        ("token_revoked", 200, False),
        ("missing_scope", 200, False),
        ("invalid_blocks", 200, False),
        ("msg_too_long", 200, False),
        ("no_text", 200, False),
        ("message_not_found", 200, False),
        ("cant_update_message", 200, False),
        ("edit_window_closed", 200, False),
        ("restricted_action", 200, False),
        ("thread_not_found", 200, False),
        ("a_code_slack_adds_later", 200, False),
        ("404", 404, False),
    ],
)
def test_error_codes_are_classified(code: str, status: int | None, transient: bool) -> None:
    """Slack's error codes split into worth retrying and final."""
    assert is_transient(code, status=status) is transient


# --- lifecycle ------------------------------------------------------------------------------


async def test_cancelled_caller_withdraws_its_unsent_post(
    fake: FakeSlack, gated_outbox: Outbox, gated: GatedTime
) -> None:
    """A post whose caller stopped waiting before it was sent is never sent."""
    outbox = gated_outbox
    fake.fail_next(POST, status=429, retry_after=1)
    gated.close_gate()
    first = asyncio.ensure_future(outbox.call(POST, channel=GENERAL, text="first"))
    second = asyncio.ensure_future(outbox.call(POST, channel=GENERAL, text="second"))
    await fake.wait_for(lambda: fake.calls_to(POST))
    second.cancel()
    gated.open_gate()
    await first
    await fake.wait_for(lambda: outbox.active_channels == 0)
    assert texts(fake) == ["first"]


async def test_workers_end_when_idle(fake: FakeSlack, outbox: Outbox) -> None:
    """Once every queue is empty and paced out, no worker task is left."""
    card = await outbox.call(POST, channel=GENERAL, text="card")
    await asyncio.gather(
        outbox.call(POST, channel=RANDOM, text="elsewhere"),
        outbox.edit(channel=GENERAL, ts=card["ts"], text="edited"),
    )
    await fake.wait_for(lambda: outbox.active_channels == 0)
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("outbox ")]


async def test_close_fails_what_is_pending(fake: FakeSlack, outbox: Outbox) -> None:
    """close() fails queued posts and edits with outbox_closed and refuses new calls."""
    card = await outbox.call(POST, channel=GENERAL, text="card")
    fake.fail_next(POST, status=429, retry_after=60)
    fake.fail_next("chat.update", status=429, retry_after=60)
    pending = [
        asyncio.ensure_future(outbox.call(POST, channel=GENERAL, text=f"m{i}")) for i in range(3)
    ]
    pending.append(asyncio.ensure_future(outbox.edit(channel=GENERAL, ts=card["ts"], text="x")))
    await fake.wait_for(lambda: fake.calls_to("chat.update") and len(fake.calls_to(POST)) == 2)
    await outbox.close()
    results = await asyncio.gather(*pending, return_exceptions=True)
    assert all(isinstance(r, SlackError) and r.code == "outbox_closed" for r in results)
    assert not any(isinstance(r, SlackRefused) for r in results)
    assert outbox.active_channels == 0
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("outbox ")]
    with pytest.raises(SlackError):
        await outbox.call(POST, channel=GENERAL, text="too late")
    assert texts(fake) == ["card"]


async def test_unknown_method_is_refused_before_queueing(outbox: Outbox) -> None:
    """A misspelt method name is a ValueError at the call, not a queued failure."""
    with pytest.raises(ValueError, match=r"chat\.postMesage"):
        await outbox.call("chat.postMesage", channel=GENERAL, text="hi")
