"""What a succeeded training's pictures are drawn from: its learning curve and its metrics.

Fetched from Einstein on the event loop; `bot.follow.charts.draw_training` draws them, in a
thread or a worker process (`bot.follow.drawing`). A picture Einstein has no data for is left
out, and the reason logged.
"""

from __future__ import annotations

import logging

from bot.core.jobs import Job
from bot.einstein.client import EinsteinClient
from bot.einstein.models import MetricsData
from bot.errors import EinsteinError
from bot.follow.charts import Curve, Drawable

__all__ = ["fetch_drawable"]

log = logging.getLogger(__name__)


async def fetch_drawable(
    einstein: EinsteinClient, job: Job, *, metrics: MetricsData | None = None
) -> Drawable:
    """The learning curve and the confusion matrix of `job`'s model, as far as Einstein has them.

    `metrics` are the model's, when the success report fetched them already (not after a
    restart): asked again only when missing.
    """
    curve = None
    try:
        curve = Curve.of(await einstein.learning_curve(job.model_id))
    except EinsteinError as exc:
        log.warning("no learning curve for job %s: %s", job.id, exc.message)
    try:
        data = metrics or (await einstein.metrics(job.model_id)).metrics_data
    except EinsteinError as exc:
        log.warning("no confusion matrix for job %s: %s", job.id, exc.message)
        return Drawable(job.model_id, curve)
    matrix = tuple(tuple(row) for row in data.confusion_matrix)
    return Drawable(job.model_id, curve, tuple(data.labels), matrix)
