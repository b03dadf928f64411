"""Slack's permanent refusals: join or ask to be invited, keep the job, drop only one message."""

from __future__ import annotations

import asyncio

import pytest

from bot.fakes.slack import Channel
from tests.conftest import USER, Stack

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
PRIVATE = "G0PRIVATE01"
PUBLIC = "C0PUBLIC001"


@pytest.mark.timing(slack_pause=0.5)
async def test_private_channel_without_the_bot_asks_for_an_invitation(stack: Stack) -> None:
    """The bot cannot join a private channel: the requester is told once how to invite it,
    the training is still followed, and the thread catches up once the bot is invited."""
    stack.slack.add_channel(
        Channel(id=PRIVATE, name="ml-private", is_private=True, bot_is_member=False)
    )
    stack.simulator.add_model(MODEL)
    _, url = await stack.command(MODEL, channel=PRIVATE)
    told = await stack.slack.wait_for(
        lambda: [t for t in stack.private(url) if "/invite" in t], timeout=10
    )
    assert "still followed" in told[0]
    stack.slack.add_channel(
        Channel(id=PRIVATE, name="ml-private", is_private=True, bot_is_member=True)
    )
    [job] = await stack.wait_final(timeout=20)
    assert job.status == "SUCCEEDED"
    assert len([t for t in stack.private(url) if "/invite" in t]) == 1, "asked once"
    cards = [m for m in stack.slack.messages(PRIVATE) if m.thread_ts is None]
    assert len(cards) == 1
    assert any("succeeded" in m.text for m in stack.slack.messages(PRIVATE))


async def test_public_channel_without_the_bot_is_joined(stack: Stack) -> None:
    """Files need membership: in a public channel the bot joins and posts the pictures."""
    stack.slack.add_channel(Channel(id=PUBLIC, name="ml-public", bot_is_member=False))
    stack.simulator.add_model(MODEL)
    await stack.command(MODEL, channel=PUBLIC)
    await stack.wait_final()
    assert stack.slack.calls_to("conversations.join")
    assert stack.slack.channel(PUBLIC).bot_is_member
    assert any(f.channel == PUBLIC for f in stack.slack.files)


@pytest.mark.timing(slack_pause=60)
async def test_archived_channel_keeps_the_job(stack: Stack) -> None:
    """An archived channel: nothing can be posted, the job is kept (followed, then recorded)."""
    stack.slack.add_channel(Channel(id=PUBLIC, name="old", is_archived=True))
    stack.simulator.add_model(MODEL)
    await stack.command(MODEL, channel=PUBLIC)
    await asyncio.sleep(1.5)
    [job] = await stack.bot.store.recent(limit=1)
    assert job.status in {"QUEUED", "RUNNING", "SUCCEEDED"}
    assert job.parent_ts is None, "nothing was posted"
    assert await stack.bot.store.unfinished(), "the job is kept for when the channel returns"


async def test_failure_message_too_long_is_attached_whole(stack: Stack) -> None:
    """A huge failure message is cut in the reply and attached in full as a file."""
    reason = "Training failed: " + "x" * 9000
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, outcome="FAILED", failure_msg=reason)
    await stack.command(MODEL)
    [job] = await stack.wait_final()
    assert job.status == "FAILED"
    reply = next(m for m in stack.replies() if "failed" in m.text)
    assert all(len(b["text"]["text"]) <= 3000 for b in reply.blocks if "text" in b)
    assert "attached below" in str(reply.blocks)
    [file] = [f for f in stack.slack.files if f.filename.endswith("failure-message.txt")]
    assert file.data.decode() == reason
    assert file.thread_ts == job.parent_ts


async def test_message_level_refusal_drops_one_reply_only(stack: Stack) -> None:
    """Slack refusing one reply for good (invalid_blocks) drops that reply, not the job."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, queue_seconds=60)
    await stack.command(MODEL)
    await stack.slack.wait_for(lambda: stack.cards(), timeout=5)
    stack.slack.fail_next("chat.postMessage", error="invalid_blocks")
    [job] = await stack.wait_final()
    assert job.status == "SUCCEEDED"
    assert any("succeeded" in m.text for m in stack.replies())
    assert f"<@{USER}>" in stack.replies()[-2].text or f"<@{USER}>" in stack.replies()[-1].text
