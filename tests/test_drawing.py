"""Where pictures are drawn: the bot's thread, or worker processes when trainings pile up."""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import multiprocessing
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from bot.einstein.models import LearningCurvePoint
from bot.follow.charts import Curve, Drawable, draw_training
from bot.follow.drawing import Drawing


def _drawable(n: int) -> Drawable:
    points = tuple(
        LearningCurvePoint.model_validate(
            {"epoch": e, "metricsData": {"testAccuracy": 0.9 - 0.4 * math.exp(-e / (n + 3))}}
        )
        for e in range(1, 12)
    )
    matrix = ((5 + n, 1), (2, 7))
    return Drawable(f"MODEL{n}", Curve.of(points), ("yes", "no"), matrix)


T = TypeVar("T")


async def _ready(data: Drawable) -> Drawable:
    return data


def _where(data: Drawable) -> tuple[str, int]:
    """Which process drew it (checks the worker runs at a lower priority too)."""
    return data.model_id, os.getpid()


def _die_in_a_worker(data: Drawable) -> list[tuple[str, bytes, str]]:
    if multiprocessing.parent_process() is not None:
        os._exit(3)  # a worker killed mid-drawing, as the out-of-memory killer would
    return draw_training(data)


def _prepare(n: int) -> functools.partial[Awaitable[Drawable]]:
    return functools.partial(_ready, _drawable(n))


async def _draw_all(drawing: Drawing, count: int, render: Callable[[Drawable], T]) -> list[T]:
    return list(await asyncio.gather(*(drawing.run(_prepare(n), render) for n in range(count))))


async def test_a_few_trainings_are_drawn_in_the_thread() -> None:
    """Below the backlog no worker starts, and each caller gets its own training's pictures."""
    drawing = Drawing(processes=2, backlog=8, idle=0.05)
    drawn = await _draw_all(drawing, 5, draw_training)
    assert drawing.workers == 0
    assert drawn == [draw_training(_drawable(n)) for n in range(5)]
    names = [[name for name, _png, _title in pictures] for pictures in drawn]
    assert names == [["learning-curve.png", "confusion-matrix.png"]] * 5


async def test_a_backlog_starts_workers_which_stop_when_idle() -> None:
    """Past the backlog, worker processes draw (the same bytes), then stop after `idle` seconds."""
    drawing = Drawing(processes=2, backlog=3, idle=0.3)
    where = await _draw_all(drawing, 12, _where)
    assert drawing.workers == 2
    assert {pid for _model, pid in where} - {os.getpid()}, "no worker drew anything"
    assert [model for model, _pid in where] == [f"MODEL{n}" for n in range(12)]
    drawn = await _draw_all(drawing, 6, draw_training)
    assert drawn == [draw_training(_drawable(n)) for n in range(6)]
    for _ in range(100):
        if drawing.workers == 0:
            break
        await asyncio.sleep(0.05)
    assert drawing.workers == 0
    # Back in the thread once the workers are gone.
    assert {pid for _m, pid in await _draw_all(drawing, 2, _where)} == {os.getpid()}
    await asyncio.gather(*drawing.close(), return_exceptions=True)


async def test_workers_run_at_a_lower_priority() -> None:
    """Workers are niced, so the bot's polls and replies get the CPU first."""
    drawing = Drawing(processes=1, backlog=0, idle=5.0)
    try:
        niceness = await drawing.run(_prepare(0), _niceness)
    finally:
        await asyncio.gather(*drawing.close(), return_exceptions=True)
    assert niceness == os.nice(0) + 10


def _niceness(_data: Drawable) -> int:
    return os.nice(0)


async def test_a_failing_fetch_reaches_its_caller_only() -> None:
    """A `prepare` that raises fails that caller; the lane goes on with the others."""

    async def broken() -> Drawable:
        raise RuntimeError("Einstein said no")

    drawing = Drawing(processes=1, backlog=8, idle=0.05)
    results = await asyncio.gather(
        drawing.run(broken, draw_training),
        drawing.run(_prepare(1), draw_training),
        return_exceptions=True,
    )
    assert isinstance(results[0], RuntimeError)
    assert results[1] == draw_training(_drawable(1))


async def test_a_dead_worker_leaves_its_work_to_the_thread(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A worker killed mid-drawing loses nothing: the thread draws its work, no caller hangs."""
    caplog.set_level(logging.INFO, logger="bot.follow.drawing")
    drawing = Drawing(processes=2, backlog=2, idle=5.0)
    try:
        drawn = await asyncio.wait_for(_draw_all(drawing, 8, _die_in_a_worker), 60)
    finally:
        await asyncio.gather(*drawing.close(), return_exceptions=True)
    assert drawn == [draw_training(_drawable(n)) for n in range(8)]
    assert drawing.workers == 0
    assert "a picture worker died" in caplog.text


@pytest.mark.parametrize("count", [1, 20])
async def test_close_stops_lanes_and_workers(count: int) -> None:
    """Closing cancels the lanes and shuts any workers down, leaving no child process."""
    drawing = Drawing(processes=2, backlog=4, idle=30.0)
    callers = [asyncio.ensure_future(drawing.run(_prepare(n), draw_training)) for n in range(count)]
    await asyncio.sleep(0.2)
    await asyncio.gather(*drawing.close(), return_exceptions=True)
    for caller in callers:
        caller.cancel()
    await asyncio.gather(*callers, return_exceptions=True)
    assert drawing.workers == 0
    for _ in range(100):
        if not multiprocessing.active_children():
            break
        await asyncio.sleep(0.05)
    assert multiprocessing.active_children() == []


async def test_a_lane_closed_just_as_work_arrives_stops() -> None:
    """Closing in the very turn a waiting lane is handed work stops it at once: no lane draws
    on, or waits out its idle time, after the bot is told to stop."""
    drawing = Drawing(processes=1, backlog=100, idle=30.0)
    await drawing.run(_prepare(0), draw_training)  # the thread lane now waits for work
    caller = asyncio.ensure_future(drawing.run(_prepare(1), draw_training))
    await asyncio.sleep(0)  # the caller hands its work over, waking the lane...
    lanes = drawing.close()  # ...which is closed before it runs
    await asyncio.wait_for(asyncio.gather(*lanes, return_exceptions=True), 5)
    assert all(lane.done() for lane in lanes)
    caller.cancel()
    await asyncio.gather(caller, return_exceptions=True)
