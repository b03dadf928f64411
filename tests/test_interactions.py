"""Card buttons, the retrain form and the Home tab, end to end.

Clicks, form submissions and events arrive signed at the served bot's one endpoint, as Slack
sends them; assertions are on what the fake Slack and the Einstein simulator received.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bot.app import Bot, create_bot
from bot.core.jobs import Job
from bot.fakes.slack import (
    SentRequest,
    block_actions_payload,
    send_interaction,
    sign_slack_request,
    view_submission_payload,
)
from bot.server import start_http
from bot.slack.ids import ActionId, BlockId, CallbackId
from tests.conftest import CHANNEL, SIGNING_SECRET, USER, Stack

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
OTHER = "U0OTHER002"
STATUS = "getTrainStatusAndProgress"


async def click(
    stack: Stack, action: ActionId, job: Job | str, *, user: str = USER, url: str | None = None
) -> SentRequest:
    """Click a card button as `user`; the button's value is the job ID, as on the card."""
    job_id = job if isinstance(job, str) else job.id
    ts = "1700000000.000100" if isinstance(job, str) else job.parent_ts or ""
    payload = block_actions_payload(
        action_id=action,
        user_id=user,
        channel_id=CHANNEL,
        message_ts=ts,
        response_url=stack.slack.response_url(),
        value=job_id,
        block_id=BlockId.CARD_ACTIONS,
    )
    answer = await send_interaction(
        stack.session, url or stack.url, signing_secret=SIGNING_SECRET, payload=payload
    )
    assert answer.status == 200
    return answer


async def submit_form(stack: Stack, values: dict[str, str], *, metadata: str) -> SentRequest:
    """Submit the retrain form with `values` (block ID -> raw value; selects by value)."""
    state: dict[str, dict[str, Any]] = {}
    for block, raw in values.items():
        if block in (BlockId.FEEDBACK, BlockId.ALGORITHM):
            element = {"type": "static_select", "selected_option": {"value": raw}}
        else:
            element = {"type": "plain_text_input", "value": raw}
        state[block] = {ActionId.FORM_FIELD: element}
    payload = view_submission_payload(
        callback_id=CallbackId.RETRAIN_MODAL,
        user_id=USER,
        values=state,
        private_metadata=metadata,
    )
    return await send_interaction(
        stack.session, stack.url, signing_secret=SIGNING_SECRET, payload=payload
    )


async def send_event(stack: Stack, event: dict[str, Any]) -> int:
    """POST a signed Events API callback; returns the HTTP status."""
    body = json.dumps(
        {
            "token": "fake-verification-token",
            "team_id": "T0001",
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": f"Ev{time.time_ns()}",
            "event_time": int(time.time()),
            "event": event,
        }
    ).encode()
    headers = sign_slack_request(
        signing_secret=SIGNING_SECRET, body=body, timestamp=int(time.time())
    )
    async with stack.session.post(
        stack.url, data=body, headers={**headers, "Content-Type": "application/json"}
    ) as response:
        return response.status


async def wait_job(
    stack: Stack, check: Callable[[Job], bool], *, bot: Bot | None = None, timeout: float = 10.0
) -> Job:
    """The first stored job passing `check`, polled until `timeout`."""
    store = (bot or stack.bot).store
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job in await store.recent(limit=50):
            if check(job):
                return job
        await asyncio.sleep(0.02)
    raise TimeoutError("no job matched in time")


def private_to(stack: Stack, user: str) -> list[str]:
    return [e.text for e in stack.slack.ephemerals if e.user == user]


async def wait_private_to(stack: Stack, user: str, words: str) -> str:
    found = await stack.slack.wait_for(
        lambda: [t for t in private_to(stack, user) if words in t], timeout=5, what=words
    )
    return found[-1]


def quick(stack: Stack, model: str, times: int = 1) -> None:
    """Script the next trainings of `model` to end within a few poll intervals."""
    for _ in range(times):
        stack.simulator.script(model, queue_seconds=3, run_seconds=12)


def running(job: Job) -> bool:
    """Running, with the card and the RUNNING reply posted (nothing more is owed for now)."""
    return job.status == "RUNNING" and job.parent_ts is not None and "RUNNING" in job.reported


@asynccontextmanager
async def another_bot(stack: Stack, **timing: float) -> AsyncIterator[tuple[Bot, str]]:
    """A second bot process on the same database, served on its own port: (bot, events URL)."""
    bot = create_bot(stack.bot.settings, claim_interval=0.05, card_interval=0.5, **timing)
    await bot.start()
    runner = await start_http(bot, host="127.0.0.1", port=0)
    try:
        yield bot, f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    finally:
        await runner.cleanup()
        await bot.stop()


# -- Refresh ---------------------------------------------------------------------------------


@pytest.mark.timing(poll_interval=30.0)
async def test_refresh_polls_now(stack: Stack) -> None:
    """Refresh makes the follower ask Einstein at once and redraw the card, not at its next turn."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, stall=True)
    await stack.command(MODEL)
    job = await wait_job(stack, lambda j: j.parent_ts is not None)
    await asyncio.sleep(0.1)  # the follower now naps for ~30 s before its next poll
    polls = len(stack.simulator.calls(STATUS))
    edits = len(stack.slack.calls_to("chat.update"))
    await click(stack, ActionId.REFRESH, job)
    await stack.slack.wait_for(
        lambda: len(stack.simulator.calls(STATUS)) > polls, timeout=2, what="a poll"
    )
    await stack.slack.wait_for(
        lambda: len(stack.slack.calls_to("chat.update")) > edits, timeout=2, what="a card edit"
    )
    assert private_to(stack, USER) == []


async def test_unknown_job_is_answered_politely(stack: Stack) -> None:
    """A button whose job the store does not know gets a private apology, for every button."""
    for action in (ActionId.REFRESH, ActionId.STOP_FOLLOWING, ActionId.RETRAIN_AGAIN):
        await click(stack, action, "0123456789abcdef")
    await stack.slack.wait_for(lambda: len(private_to(stack, USER)) >= 3, timeout=5)
    texts = private_to(stack, USER)
    assert len(texts) == 3
    assert all("no longer know" in text for text in texts)
    assert stack.simulator.calls("retrain") == []
    assert stack.cards() == []


async def test_refresh_of_a_job_followed_elsewhere(stack: Stack) -> None:
    """An instance that does not follow the job says the card refreshes at the next poll."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, stall=True)
    await stack.command(MODEL)
    job = await wait_job(stack, running)
    async with another_bot(stack) as (_, url):
        await click(stack, ActionId.REFRESH, job, url=url)
        text = await wait_private_to(stack, USER, "next poll")
    assert MODEL in text


# -- Stop following --------------------------------------------------------------------------


async def test_stop_by_requester(stack: Stack) -> None:
    """The requester's Stop marks the card, says so honestly in the thread and ends polling."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, stall=True)
    await stack.command(MODEL)
    job = await wait_job(stack, running)
    await click(stack, ActionId.STOP_FOLLOWING, job)
    await wait_job(stack, lambda j: j.status == "CANCELLED" and "CANCELLED" in j.reported)
    [card] = stack.cards()
    assert "No longer followed" in card.text
    buttons = json.dumps(card.blocks)
    assert ActionId.STOP_FOLLOWING not in buttons
    assert ActionId.REFRESH not in buttons
    last = stack.replies()[-1]
    assert "Stopped following" in last.text
    assert "no cancel call" in last.text
    polls = len(stack.simulator.calls(STATUS))
    await asyncio.sleep(0.4)  # eight poll intervals
    assert len(stack.simulator.calls(STATUS)) == polls


async def test_stop_by_someone_else_is_refused(stack: Stack) -> None:
    """Someone other than the requester is refused privately and nothing changes."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, stall=True)
    await stack.command(MODEL)
    job = await wait_job(stack, running)
    replies = len(stack.replies())
    await click(stack, ActionId.STOP_FOLLOWING, job, user=OTHER)
    text = await wait_private_to(stack, OTHER, "Sorry")
    assert f"<@{USER}>" in text
    await asyncio.sleep(0.2)
    stored = await stack.bot.store.get(job.id)
    assert stored is not None
    assert stored.status == "RUNNING"
    assert len(stack.replies()) == replies
    assert "Running" in stack.cards()[0].text
    assert private_to(stack, USER) == []


# -- Retrain again ---------------------------------------------------------------------------


async def test_retrain_again_after_a_finished_job(stack: Stack) -> None:
    """Retrain again starts a second training with the same options, requested by the clicker."""
    stack.simulator.add_model(MODEL)
    quick(stack, MODEL, times=2)
    await stack.command(f"{MODEL} split=0.7 feedback=true")
    [first] = await stack.wait_final()
    await click(stack, ActionId.RETRAIN_AGAIN, first, user=OTHER)
    jobs = await stack.wait_final(count=2)
    second = next(j for j in jobs if j.id != first.id)
    assert second.requester == OTHER
    assert second.options == first.options
    assert second.model_id == MODEL
    calls = stack.simulator.calls("retrain")
    assert len(calls) == 2
    assert calls[0].form is not None
    assert calls[1].form is not None
    assert calls[1].form["trainParams"] == calls[0].form["trainParams"]
    assert len(stack.cards()) == 2
    assert f"<@{OTHER}>" in stack.cards()[1].text


async def test_retrain_again_while_followed_links_to_the_thread(stack: Stack) -> None:
    """Retrain again on an old card while the model is followed: a private link, no new call."""
    stack.simulator.add_model(MODEL)
    quick(stack, MODEL)
    await stack.command(MODEL)
    [old] = await stack.wait_final()
    stack.simulator.script(MODEL, stall=True)
    await stack.command(MODEL)
    await wait_job(stack, running)
    await click(stack, ActionId.RETRAIN_AGAIN, old, user=OTHER)
    text = await wait_private_to(stack, OTHER, "already being followed")
    assert "https://fake.slack.com/archives/" in text
    assert len(stack.simulator.calls("retrain")) == 2
    assert len(stack.cards()) == 2


# -- the retrain form ------------------------------------------------------------------------


async def _open_form(stack: Stack) -> str:
    """Type a bare /retrain; returns the opened form's private_metadata."""
    trigger = "1700000000.4242.0123456789abcdef0123456789abcdef"
    answer, _ = await stack.command("", trigger_id=trigger)
    assert answer.status == 200
    assert answer.body == ""
    [view] = await stack.slack.wait_for(lambda: stack.slack.views, timeout=3, what="views.open")
    assert view.action == "open"
    assert view.trigger_id == trigger
    assert view.view["callback_id"] == CallbackId.RETRAIN_MODAL
    return str(view.view["private_metadata"])


async def test_bare_command_opens_the_form(stack: Stack) -> None:
    """`/retrain` alone opens the form with the command's trigger_id and remembers the channel."""
    metadata = await _open_form(stack)
    assert json.loads(metadata) == {"channel": CHANNEL}


async def test_help_instead_when_the_form_cannot_open(stack: Stack) -> None:
    """If Slack refuses to open the form (trigger expired), the usage arrives privately instead."""
    stack.slack.fail_next("views.open", error="expired_trigger_id")
    answer, response_url = await stack.command("")
    assert answer.status == 200
    text = await stack.wait_private(response_url)
    assert "split" in text
    assert "feedback" in text


async def test_help_is_still_typed_help(stack: Stack) -> None:
    """`/retrain help` still answers with the usage and opens no form."""
    answer, _ = await stack.command("help")
    assert "split" in answer.body
    assert "feedback" in answer.body
    await asyncio.sleep(0.1)
    assert stack.slack.views == []


async def test_form_errors_show_on_their_fields(stack: Stack) -> None:
    """An invalid form gets one specific error per bad field and makes no Einstein call."""
    metadata = await _open_form(stack)
    answer = await submit_form(
        stack,
        {
            BlockId.MODEL: "../etc",
            BlockId.SPLIT: "2",
            BlockId.EPOCHS: "0",
            BlockId.ALGORITHM: "intnet",
            BlockId.GLOBAL: "abc",
        },
        metadata=metadata,
    )
    assert answer.status == 200
    body = answer.json()
    assert body["response_action"] == "errors"
    errors = body["errors"]
    assert set(errors) == {"model", "split", "epochs", "algorithm", "global"}
    assert "letters and digits" in errors["model"]
    assert "between 0 and 1" in errors["split"]
    assert "1 to 1000" in errors["epochs"]
    assert "Did you mean intent?" in errors["algorithm"]
    assert "dataset ID" in errors["global"]
    assert not any("`" in message for message in errors.values())
    await asyncio.sleep(0.1)
    assert stack.simulator.calls("retrain") == []
    assert stack.cards() == []
    assert stack.slack.ephemerals == []


async def test_valid_form_starts_the_job(stack: Stack) -> None:
    """A valid form closes, confirms privately like the command, and starts the same retrain."""
    stack.simulator.add_model(MODEL)
    quick(stack, MODEL)
    metadata = await _open_form(stack)
    answer = await submit_form(
        stack,
        {BlockId.MODEL: f" {MODEL} ", BlockId.SPLIT: "0.7", BlockId.FEEDBACK: "true"},
        metadata=metadata,
    )
    assert answer.status == 200
    assert answer.body == ""
    text = await wait_private_to(stack, USER, "Submitting the retrain")
    assert f"`{MODEL}` (split=0.7 feedback=true)" in text
    [job] = await stack.wait_final()
    assert job.requester == USER
    assert job.channel == CHANNEL
    [call] = stack.simulator.calls("retrain")
    assert call.form is not None
    assert json.loads(call.form["trainParams"]) == {"trainSplitRatio": 0.7, "withFeedback": True}
    assert len(stack.cards()) == 1


# -- the Home tab ----------------------------------------------------------------------------


async def test_home_lists_the_users_trainings(stack: Stack) -> None:
    """Opening Home publishes the user's running and recent trainings with thread links."""
    stack.simulator.add_model(MODEL)
    busy = stack.simulator.add_model()
    stack.simulator.script(busy, stall=True)
    quick(stack, MODEL)
    await stack.command(MODEL)
    await stack.wait_final()
    await stack.command(busy)
    await wait_job(stack, running)
    assert await send_event(stack, {"type": "app_home_opened", "user": USER, "tab": "home"}) == 200
    [view] = await stack.slack.wait_for(lambda: stack.slack.views, timeout=3, what="publish")
    assert view.action == "publish"
    assert view.user_id == USER
    blocks = json.dumps(view.view["blocks"])
    assert blocks.index("Running") < blocks.index(busy) < blocks.index("Recent")
    assert blocks.index("Recent") < blocks.index(MODEL)
    assert blocks.count("https://fake.slack.com/archives/") == 2


async def test_home_of_someone_without_trainings(stack: Stack) -> None:
    """Someone without trainings gets an empty state; the Messages tab publishes nothing."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, stall=True)
    await stack.command(MODEL)
    await wait_job(stack, running)
    await send_event(stack, {"type": "app_home_opened", "user": OTHER, "tab": "messages"})
    await send_event(stack, {"type": "app_home_opened", "user": OTHER, "tab": "home"})
    [view] = await stack.slack.wait_for(lambda: stack.slack.views, timeout=3, what="publish")
    assert view.user_id == OTHER
    blocks = json.dumps(view.view["blocks"])
    assert "not retrained a model" in blocks
    assert MODEL not in blocks


# -- a restart between the card and the click -------------------------------------------------


async def test_buttons_work_after_a_restart(stack: Stack) -> None:
    """Refresh and Stop on a card posted by a stopped process work in the next one."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, stall=True)
    await stack.command(MODEL)
    job = await wait_job(stack, running)
    await stack.bot.stop()  # gives the job's lease back, as a clean shutdown does
    edits = len(stack.slack.calls_to("chat.update"))
    async with another_bot(stack, poll_interval=2.0) as (bot, url):
        # Resumed, the new process redraws the card once and then naps ~2 s until its next poll.
        await stack.slack.wait_for(
            lambda: len(stack.slack.calls_to("chat.update")) > edits, timeout=5, what="a redraw"
        )
        await asyncio.sleep(0.05)
        polls = len(stack.simulator.calls(STATUS))
        await click(stack, ActionId.REFRESH, job, url=url)
        await stack.slack.wait_for(
            lambda: len(stack.simulator.calls(STATUS)) > polls, timeout=1, what="a poll"
        )
        await click(stack, ActionId.STOP_FOLLOWING, job, url=url)
        stopped = await wait_job(
            stack, lambda j: j.status == "CANCELLED" and "CANCELLED" in j.reported, bot=bot
        )
    assert stopped.id == job.id
    assert "No longer followed" in stack.cards()[0].text
    assert "Stopped following" in stack.replies()[-1].text
    assert private_to(stack, USER) == []
