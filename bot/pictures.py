"""The pictures for a succeeded training's thread: learning curve and confusion matrix.

They are drawn in a separate worker process. Drawing is CPU work that holds the GIL for
hundreds of milliseconds, and matplotlib costs ~60 MB once imported; in a worker neither
slows the event loop that answers Slack nor grows the bot's own process. One worker, started
on the first success and reused, draws one picture at a time.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any

from bot.einstein.client import EinsteinClient
from bot.errors import EinsteinError
from bot.jobs import Job

__all__ = ["draw_pictures", "stop_drawing"]

log = logging.getLogger(__name__)

_worker: ProcessPoolExecutor | None = None


def _render(kind: str, data: Any, title: str) -> bytes | None:
    """Runs in the worker: the only place matplotlib is imported."""
    from bot.charts import confusion_matrix_png, learning_curve_png

    if kind == "curve":
        return learning_curve_png(data, title=title)
    labels, matrix = data
    return confusion_matrix_png(labels, matrix, title=title)


async def _draw(kind: str, data: Any, title: str) -> bytes | None:
    global _worker
    if _worker is None:
        # spawn, not fork: forking a process that runs an event loop and threads is unsafe.
        _worker = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn")
        )
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_worker, partial(_render, kind, data, title))
    except BrokenProcessPool:
        _worker = None  # the next picture starts a fresh worker
        raise


def stop_drawing() -> None:
    """Stop the drawing worker (it also stops with the process)."""
    global _worker
    if _worker is not None:
        _worker.shutdown(wait=False, cancel_futures=True)
        _worker = None


async def draw_pictures(einstein: EinsteinClient, job: Job) -> list[tuple[str, bytes, str]]:
    """(file name suffix, PNG bytes, title) for each picture Einstein's data allows."""
    pictures: list[tuple[str, bytes, str]] = []
    try:
        points = await einstein.learning_curve(job.model_id)
        png = await _draw("curve", points, f"Learning curve · {job.model_id}")
        if png is not None:
            pictures.append(("learning-curve.png", png, "Learning curve: accuracy and loss"))
    except EinsteinError as exc:
        log.warning("no learning curve for job %s: %s", job.id, exc.message)
    except BrokenProcessPool:
        log.error("the drawing worker died; job %s gets no learning curve", job.id)
    try:
        data = (await einstein.metrics(job.model_id)).metrics_data
        matrix = await _draw(
            "matrix",
            (list(data.labels), _rows(data.confusion_matrix)),
            f"Confusion matrix · {job.model_id}",
        )
    except EinsteinError as exc:
        log.warning("no confusion matrix for job %s: %s", job.id, exc.message)
    except BrokenProcessPool:
        log.error("the drawing worker died; job %s gets no confusion matrix", job.id)
    else:
        if matrix is not None:  # None: more than 30 labels, too many to read
            title = "Confusion matrix: expected (rows) vs predicted (columns)"
            pictures.append(("confusion-matrix.png", matrix, title))
    return pictures


def _rows(matrix: Sequence[Sequence[int]]) -> list[list[int]]:
    return [list(row) for row in matrix]
