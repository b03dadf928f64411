"""Where the pictures are drawn: a thread of the bot's process, or worker processes under a backlog.

Drawing a training's pictures is about 25 ms of CPU that holds the GIL, so more threads draw no
faster than one. Most of the time one thread keeps up and costs no memory. When more than
`backlog` trainings wait (thousands of trainings ending together), `Drawing` starts up to
`processes` worker processes and draws there instead: they use the other cores, run at a lower
CPU priority than the bot so its polls and replies go first, and stop after `idle` seconds
without work, giving their memory back. Workers are spawned, not forked: the bot's process has
threads and an event loop that a fork would copy in an unknown state.

Each piece of work has two halves: `prepare`, a coroutine run on the event loop (fetching what
the pictures are drawn from), and `render`, a plain function run in the thread or a worker. Only
the lanes run `prepare`, so at most one training per lane holds its data at a time. A worker
that dies (killed, out of memory) breaks its pool: the work it held is drawn in the thread, which
draws alone for `idle` seconds before a backlog may start workers again.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

from bot import loops

__all__ = ["Drawing"]

log = logging.getLogger(__name__)

# How much lower the workers' CPU priority is than the bot's (the `nice` increment).
_WORKER_NICENESS = 10
# Lanes per worker process: one fetches the next training's data while the other's is drawn,
# so a worker does not sit idle during Einstein's answers.
_LANES_PER_WORKER = 2

T = TypeVar("T")


@dataclass(slots=True)
class _Work:
    prepare: Callable[[], Awaitable[Any]]
    render: Callable[[Any], Any]
    done: asyncio.Future[Any]


class Drawing:
    """Runs `render(await prepare())` in a thread, or in worker processes when work piles up."""

    def __init__(self, *, processes: int = 2, backlog: int = 16, idle: float = 30.0) -> None:
        self._processes, self._backlog, self._idle = processes, backlog, idle
        self._no_pool_until = 0.0  # after a worker died: the thread draws alone for a while
        self._waiting: asyncio.Queue[_Work] = asyncio.Queue()
        self._pool: ProcessPoolExecutor | None = None
        self._thread_lane: asyncio.Task[None] | None = None
        self._process_lanes: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def workers(self) -> int:
        """How many worker processes draw right now (0 while the thread keeps up)."""
        return self._processes if self._pool is not None else 0

    async def run(self, prepare: Callable[[], Awaitable[Any]], render: Callable[[Any], T]) -> T:
        """`render(await prepare())`, drawn in the thread or a worker; raises what either raised."""
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.put_nowait(_Work(prepare, render, done))
        self._staff()
        return await done

    def close(self) -> list[asyncio.Task[None]]:
        """Stop drawing: the lanes are cancelled (returned to await), the workers shut down."""
        self._closed = True  # no lane starts after this, and none goes on
        lanes = [*self._process_lanes, *([self._thread_lane] if self._thread_lane else [])]
        for lane in lanes:
            lane.cancel()
        self._shut_pool()
        return lanes

    def _staff(self) -> None:
        if self._closed:
            return
        waiting, now = self._waiting.qsize(), asyncio.get_running_loop().time()
        lanes = self._processes * _LANES_PER_WORKER
        if (
            waiting > self._backlog
            and len(self._process_lanes) < lanes
            and now >= self._no_pool_until
        ):
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self._processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_lower_priority,
                )
                log.info("%d trainings' pictures wait: drawing them in worker processes", waiting)
            while len(self._process_lanes) < lanes:
                lane = asyncio.ensure_future(self._lane(self._pool))
                self._process_lanes.add(lane)
                lane.add_done_callback(self._process_lane_ended)
        if self._thread_lane is None and self._pool is None:
            self._thread_lane = asyncio.ensure_future(self._lane(None))
            self._thread_lane.add_done_callback(self._thread_lane_ended)

    async def _lane(self, pool: ProcessPoolExecutor | None) -> None:
        """Draw until no work comes for `idle` s; the thread lane also stops once a pool is up."""
        loop = asyncio.get_running_loop()
        while not self._closed and (pool is not None or self._pool is None):
            try:
                work = await loops.within(self._waiting.get(), loop.time() + self._idle)
            except TimeoutError:
                return
            if work.done.done():  # its caller gave up waiting
                continue
            try:
                data = await work.prepare()
                if pool is None:
                    result = await asyncio.to_thread(work.render, data)
                else:
                    result = await loop.run_in_executor(pool, work.render, data)
            except BrokenProcessPool:
                log.warning("a picture worker died; drawing its work in the bot's own thread")
                self._waiting.put_nowait(work)
                self._no_pool_until = loop.time() + self._idle
                self._shut_pool()
                return
            except Exception as exc:
                if not work.done.done():
                    work.done.set_exception(exc)
            else:
                if not work.done.done():
                    work.done.set_result(result)

    def _process_lane_ended(self, lane: asyncio.Task[None]) -> None:
        self._process_lanes.discard(lane)
        if not self._process_lanes:
            self._shut_pool()
        self._restaff(lane)

    def _thread_lane_ended(self, lane: asyncio.Task[None]) -> None:
        self._thread_lane = None
        self._restaff(lane)

    def _restaff(self, lane: asyncio.Task[None]) -> None:
        # A lane that ended by itself leaves the waiting work to the others (or to new ones).
        if not lane.cancelled() and not self._waiting.empty():
            self._staff()

    def _shut_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            log.info("picture workers stopped")


def _lower_priority() -> None:
    os.nice(_WORKER_NICENESS)
