"""Cancellation kept exact: a loop that outlives every error, and a wait with a deadline."""

from __future__ import annotations

import asyncio

import pytest

from bot.loops import raise_if_cancelled, within


async def _step_that_turns_cancellation_into_an_error(started: asyncio.Event) -> None:
    started.set()
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        raise RuntimeError("connection closed") from None  # as some drivers do


async def _loop(started: asyncio.Event, errors: list[Exception]) -> None:
    while True:
        try:
            await _step_that_turns_cancellation_into_an_error(started)
        except Exception as exc:
            errors.append(exc)
        raise_if_cancelled()
        await asyncio.sleep(900)


async def test_a_cancelled_loop_stops_though_its_step_swallowed_the_cancellation() -> None:
    """The step's error is handled, then the loop ends as cancelled instead of sleeping on."""
    started, errors = asyncio.Event(), []
    task = asyncio.ensure_future(_loop(started, errors))
    await started.wait()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert done == {task}
    assert task.cancelled()
    assert [str(e) for e in errors] == ["connection closed"]


async def test_a_running_task_goes_on() -> None:
    """Not being cancelled, nothing is raised."""
    raise_if_cancelled()


async def test_a_wait_cancelled_as_its_step_ends_stops() -> None:
    """A caller cancelled in the very turn its step ends is cancelled, not handed the result."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    async def step() -> str:
        return await answer

    caller = asyncio.ensure_future(within(step(), loop.time() + 5))
    await asyncio.sleep(0)  # the caller now waits for its step
    answer.set_result("stored")  # the step ends...
    caller.cancel()  # ...in the turn its caller is told to stop
    done, _ = await asyncio.wait({caller}, timeout=2)
    assert done == {caller}
    assert caller.cancelled()


async def test_a_wait_past_its_deadline_cancels_its_step() -> None:
    """At the deadline the caller gets TimeoutError and the step is cancelled."""
    loop = asyncio.get_running_loop()
    step = asyncio.ensure_future(asyncio.sleep(10))
    with pytest.raises(TimeoutError):
        await within(step, loop.time() + 0.01)
    assert step.cancelled()


async def test_a_step_within_its_deadline_gives_its_result() -> None:
    loop = asyncio.get_running_loop()
    assert await within(asyncio.sleep(0, result="done"), loop.time() + 5) == "done"
