"""`/retrain notify dm|off`: each training's result also by DM, once, for those who ask."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from bot.core import machine
from bot.core.jobs import Job, Result, utcnow
from bot.core.options import RetrainOptions
from bot.core.owed import DM_NONE, DM_RESULT
from bot.fakes.slack import DEFAULT_SCOPES
from bot.slack.direct import render_result
from tests.conftest import CHANNEL, USER, Stack

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
    """A DM a dead process posted but did not record is found in the DM, not sent again."""
    await _choose(stack, "notify dm")
    stack.simulator.add_model(MODEL)
    training = await stack.bot.einstein.retrain(MODEL, RetrainOptions())
    job = Job(
        id=secrets.token_hex(8),
        model_id=MODEL,
        options=RetrainOptions(),
        requester=USER,
        channel=CHANNEL,
        origin_channel=CHANNEL,
        created_at=utcnow(),
    )
    job = machine.observe(job, training, now=utcnow())
    job = machine.card_posted(job, ts=await stack.bot.notifier.post_card(job))
    await stack.bot.notifier.post_reply(job, "QUEUED")
    job = machine.with_result(
        machine.observe(job, training.model_copy(update={"status": "SUCCEEDED"}), now=utcnow()),
        Result(test_accuracy=0.9),
    )
    job = machine.posted(job, "QUEUED", "SUCCEEDED", "PICTURES")
    # The dead process sent the DM, then died before recording it.
    dm = await stack.bot.notifier.direct.open(USER)
    await stack.bot.notifier.direct.post(
        dm, render_result(job, link=None), job=job, state=DM_RESULT
    )
    await stack.bot.store.add(job, lease_seconds=30)
    await stack.bot.store.release([job.id])
    final = await _settled(stack)
    assert len(stack.slack.messages(dm)) == 1
    assert DM_RESULT in final.reported


@pytest.mark.slack(scopes=tuple(s for s in DEFAULT_SCOPES if s != "im:write"))
async def test_dm_slack_refuses_is_logged_and_the_job_still_ends(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """Without im:write the DM cannot be sent: an error is logged, the thread is whole and
    the job ends instead of trying forever."""
    await _choose(stack, "notify dm")
    stack.simulator.add_model(MODEL)
    await stack.command(MODEL)
    job = await _settled(stack)
    assert DM_NONE in job.reported
    assert any("succeeded" in m.text for m in stack.replies())
    assert any(
        "result DM" in r.getMessage() and "missing_scope" in r.getMessage() for r in caplog.records
    )
