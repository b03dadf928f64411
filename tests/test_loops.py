"""A loop that outlives every error still stops when it is cancelled."""

from __future__ import annotations

import asyncio

from bot.loops import raise_if_cancelled


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
