"""The pictures for a succeeded training's thread: learning curve and confusion matrix.

Drawing takes 10-15 ms of CPU a picture (`bot.follow.charts`, Pillow); it runs in a worker thread so
the event loop goes on answering Slack meanwhile. The follower draws one training's pictures at
a time, so a thousand trainings ending together never hold a thousand learning curves at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.core.jobs import Job
from bot.einstein.client import EinsteinClient
from bot.errors import EinsteinError
from bot.follow.charts import confusion_matrix_png_async, learning_curve_png_async

__all__ = ["draw_pictures"]

log = logging.getLogger(__name__)


async def draw_pictures(einstein: EinsteinClient, job: Job) -> list[tuple[str, bytes, str]]:
    """(file name suffix, PNG bytes, title) for each picture Einstein's data allows."""
    pictures: list[tuple[str, bytes, str]] = []
    try:
        points = await einstein.learning_curve(job.model_id)
    except EinsteinError as exc:
        log.warning("no learning curve for job %s: %s", job.id, exc.message)
    else:
        curve = await learning_curve_png_async(points, title=f"Learning curve · {job.model_id}")
        pictures.append(("learning-curve.png", curve, "Learning curve: accuracy and loss"))
    try:
        data = (await einstein.metrics(job.model_id)).metrics_data
    except EinsteinError as exc:
        log.warning("no confusion matrix for job %s: %s", job.id, exc.message)
        return pictures
    matrix = await confusion_matrix_png_async(
        list(data.labels), _rows(data.confusion_matrix), title=f"Confusion matrix · {job.model_id}"
    )
    if matrix is not None:  # None: more than 30 labels, too many to read
        title = "Confusion matrix: expected (rows) vs predicted (columns)"
        pictures.append(("confusion-matrix.png", matrix, title))
    return pictures


def _rows(matrix: Sequence[Sequence[int]]) -> list[list[int]]:
    return [list(row) for row in matrix]
