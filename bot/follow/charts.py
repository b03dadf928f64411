"""PNG pictures for the thread: a model's learning curve and its confusion matrix.

Drawn with Pillow alone. The learning curve is drawn at twice its size and each 2x2 block
averaged, which antialiases its lines; the heat map, all straight edges, is drawn as is. Text
uses Pillow's embedded scalable font (FreeType); turned labels are drawn on a small mask that is
rotated and pasted. The fonts are cached and shared between calls and FreeType makes no
thread-safety promise for them, so rendering holds a lock.

Rendering is CPU-bound. Measured here with time.perf_counter (2 cores, median of 15 runs, at
95b04e5): a learning curve takes 3.0 ms for 1 epoch, 3.8 for 40 and 4.7 for 300; a confusion
matrix 1.8 ms for 2 labels, 3.4 for 10 and 9.0 for 30. Importing this module takes about 25 ms
and loads neither pydantic nor the Einstein client, so a drawing worker stays small: a fresh
interpreter that imports it and draws a 40-epoch curve and a 30-label matrix peaks at 29 MB RSS,
18 MB more than before the import: 8 MB for importing, 10 for drawing.
Matplotlib and numpy took 0.1-0.5 s a picture and 100 MB more.
Async code does not call these on the event loop: `bot.follow.drawing` runs `draw_training` in
a worker thread or, under a backlog, in worker processes, so the loop keeps answering Slack.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.compare import confusion_labels
from bot.follow.canvas import Canvas
from bot.follow.curve import CURVE_SIZE, Curve, draw_learning_curve
from bot.follow.heatmap import draw_confusion_matrix

__all__ = [
    "MAX_MATRIX_LABELS",
    "Curve",
    "Drawable",
    "Picture",
    "confusion_matrix_png",
    "draw_training",
    "learning_curve_png",
]

# Beyond this a heat map's cells get too small to read in Slack's preview.
MAX_MATRIX_LABELS = 30
_RENDER_LOCK = threading.Lock()


def learning_curve_png(curve: Curve, *, title: str) -> bytes:
    """Accuracy (left axis) and loss (right axis) per epoch; series without values are left out."""
    with _RENDER_LOCK:
        canvas = Canvas(*CURVE_SIZE, scale=2)
        draw_learning_curve(canvas, curve, title=title)
        return canvas.png()


def confusion_matrix_png(
    labels: Sequence[str], matrix: Sequence[Sequence[int]], *, title: str
) -> bytes | None:
    """A heat map of the matrix (rows expected, columns predicted), or None if it can't be drawn.

    None when there are more than `MAX_MATRIX_LABELS` labels or the matrix does not fit them; a
    matrix one row and column larger than the labels gets an out-of-domain class.
    """
    names = confusion_labels(labels, matrix)
    if names is None or len(labels) > MAX_MATRIX_LABELS:
        return None
    with _RENDER_LOCK:
        return draw_confusion_matrix(names, matrix, title=title)


# (file name, PNG bytes, title) of one picture in the thread.
Picture = tuple[str, bytes, str]


@dataclass(frozen=True, slots=True)
class Drawable:
    """What a finished training's pictures are drawn from; None where Einstein had nothing.

    Plain data, so it can be sent to a worker process.
    """

    model_id: str
    curve: Curve | None = None
    labels: tuple[str, ...] = ()
    matrix: tuple[tuple[int, ...], ...] | None = None


def draw_training(data: Drawable) -> list[Picture]:
    """The learning curve and the confusion matrix, each one its data allows."""
    pictures: list[Picture] = []
    if data.curve is not None:
        curve = learning_curve_png(data.curve, title=f"Learning curve · {data.model_id}")
        pictures.append(("learning-curve.png", curve, "Learning curve: accuracy and loss"))
    if data.matrix is not None:
        title = f"Confusion matrix · {data.model_id}"
        matrix = confusion_matrix_png(data.labels, data.matrix, title=title)
        if matrix is not None:  # None: more than 30 labels, too many to read
            title = "Confusion matrix: expected (rows) vs predicted (columns)"
            pictures.append(("confusion-matrix.png", matrix, title))
    return pictures
