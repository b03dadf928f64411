"""`/retrain notify dm|off`: each training's result also by DM, once, for those who ask."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.jobs import Job
from bot.core.owed import DM_NONE, DM_RESULT
from bot.slack.marks import metadata
from tests.conftest import USER, Stack

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
DM = "D0REQUEST1"  # the fake's DM between the bot and USER


async def _settled(stack: Stack, *, timeout: float = 10.0) -> Job:
    """The one job, once it owes nothing more (its DM included)."""
    async with asyncio.timeout(timeout):
        while True:
            if not await stack.bot.store.unfinished():
                [job] = await stack.bot.store.recent(limit=1)
                return job
            await asyncio.sleep(0.02)


async def _choose(stack: Stack, text: str) -> str:
    answer, url = await stack.command(text)
    assert answer.status == 200
    return await stack.wait_private(url)


async def test_notify_dm_sends_the_result_by_dm_once(stack: Stack) -> None:
    """With `notify dm`, the requester gets one DM with the model, outcome, accuracy and a
    link to the thread; the job records it as sent."""
    said = await _choose(stack, "notify dm")
    assert "direct message" in said
    stack.simulator.add_model(MODEL)
    await stack.command(MODEL)
    job = await _settled(stack)
    await asyncio.sleep(0.3)  # room for a second DM, if there were one
    [dm] = stack.slack.messages(DM)
    assert MODEL in dm.text
    assert "Succeeded" in dm.text
    assert "test accuracy" in dm.text
    assert f"archives/C0001/p{job.parent_ts.replace('.', '')}" in dm.text  # type: ignore[union-attr]
    assert DM_RESULT in job.reported


async def test_failure_dm_gives_the_reason(stack: Stack) -> None:
    """A failed training's DM names the outcome and Einstein's reason."""
    await _choose(stack, "notify dm")
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, outcome="FAILED", failure_msg="Dataset has too few examples")
    await stack.command(MODEL)
    await stack.wait_final()
    [dm] = await stack.slack.wait_for(lambda: stack.slack.messages(DM), timeout=5)
    assert "Failed" in dm.text
    assert "too few examples" in dm.text


async def test_notify_off_sends_no_dm(stack: Stack) -> None:
    """`notify off` after `notify dm`: the result stays in the thread; no DM is opened."""
    await _choose(stack, "notify dm")
    said = await _choose(stack, "notify off")
    assert "threads only" in said
    stack.simulator.add_model(MODEL)
    await stack.command(MODEL)
    job = await _settled(stack)
    assert not stack.slack.calls_to("conversations.open")
    assert DM_NONE in job.reported


async def test_notify_alone_tells_the_current_choice(stack: Stack) -> None:
    """`/retrain notify` without a choice says what the current one is, per person."""
    assert "threads only" in await _choose(stack, "notify")
    await _choose(stack, "notify dm")
    assert "by direct message" in await _choose(stack, "notify")


@pytest.mark.parametrize("text", ["notify sms", "notify dm off"])
async def test_bad_notify_choice_gets_a_specific_usage_error(stack: Stack, text: str) -> None:
    """A choice other than dm or off is refused in the ack, naming what is accepted."""
    answer, _ = await stack.command(text)
    assert answer.status == 200
    assert "`dm`" in answer.body
    assert "`off`" in answer.body
    assert "Traceback" not in answer.body


async def test_help_notify_explains_it(stack: Stack) -> None:
    """`/retrain help notify` explains what dm and off do."""
    answer, _ = await stack.command("help notify")
    assert "/retrain notify dm|off" in answer.body
    assert "direct message" in answer.body
    assert "link" in answer.body


async def test_dm_already_sent_before_a_crash_is_not_sent_again(stack: Stack) -> None:
    """A DM the last process posted but did not record is found in the DM and not repeated."""
    await _choose(stack, "notify dm")
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, queue_seconds=300)
    await stack.command(MODEL)
    [job] = await stack.bot.store.recent(limit=1)
    # What a process that died right after posting the DM left behind, marked as the bot marks it.
    client = AsyncWebClient(token="xoxb-test-token", base_url=stack.slack.api_url)
    dm = (await client.conversations_open(users=USER))["channel"]["id"]
    await client.chat_postMessage(channel=dm, text="sent before", metadata=metadata(job, DM_RESULT))
    final = await _settled(stack, timeout=20)
    await asyncio.sleep(0.3)
    assert [m.text for m in stack.slack.messages(dm)] == ["sent before"]
    assert DM_RESULT in final.reported
