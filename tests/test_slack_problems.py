"""Slack's permanent refusals: join or ask to be invited, keep the job, drop only one message."""

from __future__ import annotations

import asyncio

import pytest

from bot.fakes.slack import Channel
from tests.conftest import USER, Stack

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
PRIVATE = "G0PRIVATE01"
PUBLIC = "C0PUBLIC001"
DM = "D0REQUEST1"  # the fake's DM between the bot and USER
PEOPLE = "D0PEOPLE01"  # a DM between USER and someone else


@pytest.mark.timing(slack_pause=0.2)
async def test_private_channel_without_the_bot_moves_the_thread_to_a_dm(stack: Stack) -> None:
    """The bot cannot join a private channel: after three refused posts the card and thread go
    to the requester's DM, and the requester is told once where, with how to invite the bot."""
    stack.slack.add_channel(
        Channel(id=PRIVATE, name="ml-private", is_private=True, bot_is_member=False)
    )
    stack.simulator.add_model(MODEL)
    _, url = await stack.command(MODEL, channel=PRIVATE)
    # The training may end before the third refused post: the end is what the DM shows last.
    await stack.slack.wait_for(
        lambda: [m for m in stack.replies(DM) if "succeeded" in m.text],
        timeout=20,
        what="the success reply in the DM",
    )
    [job] = await stack.wait_final(timeout=20)
    assert job.status == "SUCCEEDED"
    assert (job.channel, job.origin_channel) == (DM, PRIVATE)
    refused = [c for c in stack.slack.calls_to("chat.postMessage") if c.args["channel"] == PRIVATE]
    assert len(refused) == 3
    told = [t for t in stack.private(url) if "direct messages" in t]
    assert len(told) == 1
    assert "/invite" in told[0]
    assert f"archives/{DM}/" in told[0], "links the card in the DM"
    assert len(stack.cards(DM)) == 1
    assert any("succeeded" in m.text for m in stack.replies(DM))


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


@pytest.mark.timing(slack_pause=60)
async def test_a_stop_does_not_wait_out_a_paused_channel(stack: Stack) -> None:
    """A stop (SIGTERM) lets posts in flight finish before it gives the leases back; a channel
    paused for a minute has none, so the stop goes on at once and the job stays stored."""
    stack.slack.add_channel(Channel(id=PUBLIC, name="old", is_archived=True))
    stack.simulator.add_model(MODEL)
    await stack.command(MODEL, channel=PUBLIC)
    await stack.slack.wait_for(
        lambda: [c for c in stack.slack.calls_to("chat.postMessage") if c.error == "is_archived"],
        timeout=5,
    )
    async with asyncio.timeout(10):  # a third of the grace: waiting out the pause would fail
        await stack.bot.follower.stop(grace=30)
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


@pytest.mark.timing(slack_pause=0.2)
async def test_retrain_typed_in_a_dm_between_people_reports_in_the_requesters_dm(
    stack: Stack,
) -> None:
    """/retrain in a DM between two people: Slack refuses the bot's posts there, so the thread
    goes to the requester's DM with the bot, which is opened, and the requester learns where."""
    stack.slack.add_channel(
        Channel(id=PEOPLE, name="directmessage", is_im=True, user=USER, bot_is_member=False)
    )
    stack.simulator.add_model(MODEL)
    _, url = await stack.command(MODEL, channel=PEOPLE, channel_name="directmessage")
    await stack.slack.wait_for(
        lambda: [m for m in stack.replies(DM) if "succeeded" in m.text],
        timeout=20,
        what="the success reply in the DM",
    )
    [job] = await stack.wait_final(timeout=20)
    assert (job.channel, job.origin_channel, job.status) == (DM, PEOPLE, "SUCCEEDED")
    [opened] = stack.slack.calls_to("conversations.open")
    assert opened.args["users"] == USER
    assert not stack.slack.messages(PEOPLE)
    told = [t for t in stack.private(url) if "direct messages" in t]
    assert len(told) == 1
    assert "this conversation" in told[0]
    assert "/invite" not in told[0]
    assert len(stack.cards(DM)) == 1


@pytest.mark.timing(slack_pause=0.2)
async def test_moved_thread_is_stored_before_it_is_posted(stack: Stack) -> None:
    """The move to the DM is in the store by the time the card shows in the DM."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, queue_seconds=600)
    await stack.command(MODEL, channel=PEOPLE, channel_name="directmessage")
    await stack.slack.wait_for(lambda: stack.cards(DM), timeout=10)
    [job] = await stack.bot.store.recent(limit=1)
    assert (job.channel, job.origin_channel, job.refusals) == (DM, PEOPLE, 0)
