"""No silent jobs: stalls, Einstein outages and vanished trainings are said in the thread."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from tests.conftest import USER, Stack

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"


def _states(stack: Stack) -> list[str]:
    return [
        m.versions[0].metadata.event_payload["state"]
        for m in stack.replies()
        if m.versions[0].metadata
    ]


@pytest.mark.timing(stall_after=0.4)
async def test_stalled_training_is_said_once(stack: Stack) -> None:
    """A running training whose progress stops moving gets one alert mentioning the requester."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, stall=True)
    await stack.command(MODEL)
    alert = await stack.slack.wait_for(
        lambda: [m for m in stack.replies() if "No progress" in m.text], timeout=10
    )
    await asyncio.sleep(1.0)
    assert len([s for s in _states(stack) if s.startswith("STALLED")]) == 1
    assert f"<@{USER}>" in alert[0].text


@pytest.mark.timing(unreachable_after=0.3, max_backoff=0.2)
async def test_outage_is_said_and_recovery_too(stack: Stack) -> None:
    """Einstein unreachable for a while: one alert, then one recovery reply, then the result."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, queue_seconds=60, run_seconds=600)
    await stack.command(MODEL)
    await stack.slack.wait_for(lambda: "QUEUED" in _states(stack), timeout=5)
    stack.simulator.fault_rate(1.0, statuses=(503,), target="getTrainStatusAndProgress")
    await stack.slack.wait_for(
        lambda: any(s.startswith("UNREACHABLE") for s in _states(stack)), timeout=10
    )
    stack.simulator.clear_faults()
    [final] = await stack.wait_final(timeout=20)
    states = _states(stack)
    assert [s.split("#")[0] for s in states if "#" in s] == ["UNREACHABLE", "RECOVERED"]
    alert = next(m for m in stack.replies() if "has not answered" in m.text)
    assert "HTTP 503" in alert.text
    assert final.status == "SUCCEEDED"


async def test_forgotten_training_ends_clearly(stack: Stack) -> None:
    """A training Einstein no longer knows ends with a clear terminal reply, not endless polls."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, run_seconds=10_000)
    await stack.command(MODEL)
    await stack.slack.wait_for(lambda: "QUEUED" in _states(stack), timeout=5)
    stack.simulator.forget(MODEL)
    [final] = await stack.wait_final()
    assert final.status == "LOST"
    last = stack.replies()[-1]
    assert "no longer knows" in last.text
    assert last.reply_broadcast
    polls = len(stack.simulator.calls("getTrainStatusAndProgress"))
    await asyncio.sleep(0.5)
    assert len(stack.simulator.calls("getTrainStatusAndProgress")) == polls


async def test_same_command_twice_makes_one_job(stack: Stack) -> None:
    """A double submit starts one training; the second answer links the existing thread."""
    stack.simulator.add_model(MODEL)
    (first, _), (second, _) = await asyncio.gather(
        stack.command(f"{MODEL} split=0.7"), stack.command(f"{MODEL} split=0.7")
    )
    assert first.status == second.status == 200
    await stack.wait_final()
    assert len(stack.simulator.calls("retrain")) == 1
    assert len(stack.cards()) == 1
    answers = [post.text or "" for posts in stack.slack.responses.values() for post in posts]
    duplicate = [a for a in answers if "already being followed" in a]
    assert len(duplicate) == 1
    assert "thread" in json.dumps(duplicate)


@pytest.mark.timing(queue_stall_after=0.3)
async def test_training_queued_too_long_is_said_once_then_its_start(stack: Stack) -> None:
    """A training queued past RETRAIN_QUEUE_STALL_AFTER gets one note with its queue position,
    and the reply saying it started tells how long after the request; no recovery follows."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, queue_seconds=450, run_seconds=30)
    await stack.command(MODEL)
    [final] = await stack.wait_final(timeout=20)
    assert final.status == "SUCCEEDED"
    states = [s.split("#")[0] for s in _states(stack) if "#" in s]
    assert states == ["QUEUED_LONG"], "one note, no recovery"
    [note] = [m for m in stack.replies() if "Still queued" in m.text]
    assert re.search(r"Still queued at position \d+ after", note.text)
    assert f"<@{USER}>" in note.text
    started = next(m for m in stack.replies() if "Training started" in m.text)
    assert "after it was requested" in started.text


@pytest.mark.timing(queue_stall_after=30)
async def test_training_queued_briefly_gets_no_queue_note(stack: Stack) -> None:
    """A training that leaves the queue before RETRAIN_QUEUE_STALL_AFTER gets no queue note."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, queue_seconds=150, run_seconds=30)
    await stack.command(MODEL)
    await stack.wait_final(timeout=20)
    assert not [m for m in stack.replies() if "Still queued" in m.text]
    started = next(m for m in stack.replies() if "Training started" in m.text)
    assert "after it was requested" not in started.text
