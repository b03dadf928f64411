"""The pictures for a succeeded training's thread: learning curve and confusion matrix."""

from __future__ import annotations

import logging

from bot.einstein.client import EinsteinClient
from bot.errors import EinsteinError
from bot.jobs import Job

__all__ = ["draw_pictures"]

log = logging.getLogger(__name__)


async def draw_pictures(einstein: EinsteinClient, job: Job) -> list[tuple[str, bytes, str]]:
    """(file name suffix, PNG bytes, title) for each picture Einstein's data allows."""
    # Imported here: matplotlib costs ~0.5 s and ~30 MB, paid only once a training succeeds.
    from bot.charts import confusion_matrix_png_async, learning_curve_png_async

    pictures: list[tuple[str, bytes, str]] = []
    try:
        points = await einstein.learning_curve(job.model_id)
        png = await learning_curve_png_async(points, title=f"Learning curve · {job.model_id}")
        pictures.append(("learning-curve.png", png, "Learning curve: accuracy and loss"))
    except EinsteinError as exc:
        log.warning("no learning curve for job %s: %s", job.id, exc.message)
    try:
        data = (await einstein.metrics(job.model_id)).metrics_data
        matrix = await confusion_matrix_png_async(
            data.labels, data.confusion_matrix, title=f"Confusion matrix · {job.model_id}"
        )
    except EinsteinError as exc:
        log.warning("no confusion matrix for job %s: %s", job.id, exc.message)
    else:
        if matrix is not None:  # None: more than 30 labels, too many to read
            title = "Confusion matrix: expected (rows) vs predicted (columns)"
            pictures.append(("confusion-matrix.png", matrix, title))
    return pictures
