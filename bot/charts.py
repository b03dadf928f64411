"""PNG pictures for the thread: a model's learning curve and its confusion matrix.

Figures are drawn with matplotlib's object-oriented API straight onto an Agg canvas; pyplot and
its global figure registry are never touched, so no display is needed and nothing leaks between
calls. Matplotlib still makes no thread-safety promise for its shared font and text caches, so
rendering holds a lock; that costs no real parallelism, the GIL serialises the work anyway.

Rendering is CPU-bound. Measured here with time.perf_counter (2 cores, median of 7 runs): a
learning curve takes 140-180 ms whether it has 1, 40 or 300 epochs; a confusion matrix about
100 ms for 2 labels, 210 ms for 10 and 0.45-0.75 s for 30, most of it drawing the count in every
non-zero cell. Importing matplotlib costs about 0.5 s once per process. Async code should not
call the plain functions on the event loop: use the `*_async` variants, which run them in a
worker thread via `asyncio.to_thread`, so the loop keeps answering Slack meanwhile.
"""

from __future__ import annotations

import asyncio
import io
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from bot.compare import confusion_labels
from bot.einstein.models import LearningCurvePoint, MetricsData

__all__ = [
    "MAX_MATRIX_LABELS",
    "confusion_matrix_png",
    "confusion_matrix_png_async",
    "learning_curve_png",
    "learning_curve_png_async",
]

# Beyond this a heat map's cells get too small to read in Slack's preview.
MAX_MATRIX_LABELS = 30
_DPI = 100
# 800 x 450 px: Slack shows it at full width in the preview without scaling it down.
_CURVE_INCHES = (8.0, 4.5)
_MAX_TITLE = 90
_MAX_TICK_LABEL = 18
# With more epochs than this, markers merge into a smear; the lines alone read better.
_MARKERS_UP_TO = 40
_ACCURACY_COLOUR = "#1f5fa8"
_LOSS_COLOUR = "#c8501e"
_RENDER_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class _Series:
    name: str
    value: Callable[[MetricsData], float | None]
    is_loss: bool
    colour: str
    linestyle: str


# Test solid, training dashed; accuracy blue on the left axis, loss orange on the right.
_SERIES = (
    _Series("Test accuracy", lambda m: m.test_accuracy, False, _ACCURACY_COLOUR, "-"),
    _Series("Training accuracy", lambda m: m.training_accuracy, False, _ACCURACY_COLOUR, "--"),
    _Series("Test loss", lambda m: m.test_loss, True, _LOSS_COLOUR, "-"),
    _Series("Training loss", lambda m: m.training_loss, True, _LOSS_COLOUR, "--"),
)


def learning_curve_png(points: Sequence[LearningCurvePoint], *, title: str) -> bytes:
    """Accuracy (left axis) and loss (right axis) per epoch; series without values are left out."""
    ordered = sorted(points, key=lambda p: p.epoch)
    with _RENDER_LOCK:
        figure = Figure(figsize=_CURVE_INCHES, dpi=_DPI, layout="constrained")
        try:
            _draw_learning_curve(figure, ordered, title=title)
            return _png(figure)
        finally:
            figure.clear()


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
    side = _matrix_inches(len(names))
    with _RENDER_LOCK:
        # A little wider than high, for the colour bar.
        figure = Figure(figsize=(side + 1.2, side), dpi=_DPI, layout="constrained")
        try:
            _draw_confusion_matrix(figure, names, matrix, title=title)
            return _png(figure)
        finally:
            figure.clear()


async def learning_curve_png_async(points: Sequence[LearningCurvePoint], *, title: str) -> bytes:
    """`learning_curve_png` in a worker thread, keeping the event loop free."""
    return await asyncio.to_thread(learning_curve_png, points, title=title)


async def confusion_matrix_png_async(
    labels: Sequence[str], matrix: Sequence[Sequence[int]], *, title: str
) -> bytes | None:
    """`confusion_matrix_png` in a worker thread, keeping the event loop free."""
    return await asyncio.to_thread(confusion_matrix_png, labels, matrix, title=title)


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)  # attaches itself: savefig draws with Agg, whatever the default backend
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _draw_learning_curve(
    figure: Figure, points: Sequence[LearningCurvePoint], *, title: str
) -> None:
    accuracy_axis = figure.add_subplot()
    accuracy_axis.set_title(_cut(title, _MAX_TITLE))
    accuracy_axis.set_xlabel("Epoch")
    accuracy_axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    accuracy_axis.grid(visible=True, alpha=0.3)
    loss_axis: Axes | None = None
    handles: list[Artist] = []
    accuracies: list[float] = []
    losses: list[float] = []
    marker = "o" if len(points) <= _MARKERS_UP_TO else None
    for series in _SERIES:
        epochs, values = _series_values(points, series.value)
        if not epochs:
            continue
        if series.is_loss:
            loss_axis = loss_axis or accuracy_axis.twinx()
            axis = loss_axis
            losses.extend(values)
        else:
            axis = accuracy_axis
            accuracies.extend(values)
        (line,) = axis.plot(
            epochs,
            values,
            color=series.colour,
            linestyle=series.linestyle,
            marker=marker,
            markersize=4,
            linewidth=1.8,
            label=series.name,
        )
        handles.append(line)
    if not handles:
        _say_no_data(accuracy_axis)
        return
    _frame_epochs(accuracy_axis, points)
    _format_accuracy_axis(accuracy_axis, accuracies)
    if loss_axis is not None:
        loss_axis.set_ylabel("Loss", color=_LOSS_COLOUR)
        # From zero, with headroom so the first epoch's loss isn't drawn on the frame.
        loss_axis.set_ylim(0.0, max(0.0, *losses) * 1.08 or 1.0)
    # Below the plot, outside it: inside, any corner can hide the end of a curve.
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)


def _series_values(
    points: Sequence[LearningCurvePoint], value: Callable[[MetricsData], float | None]
) -> tuple[list[int], list[float]]:
    epochs: list[int] = []
    values: list[float] = []
    for point in points:
        number = value(point.metrics_data)
        if number is not None and math.isfinite(number):
            epochs.append(point.epoch)
            values.append(number)
    return epochs, values


def _frame_epochs(axis: Axes, points: Sequence[LearningCurvePoint]) -> None:
    first, last = points[0].epoch, points[-1].epoch
    if first == last:
        # One epoch: matplotlib would zoom to a fraction of an epoch around it.
        axis.set_xlim(first - 1, last + 1)


def _format_accuracy_axis(axis: Axes, accuracies: Sequence[float]) -> None:
    if not accuracies:
        axis.set_yticks([])
        return
    axis.set_ylabel("Accuracy", color=_ACCURACY_COLOUR)
    axis.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    # Start at a round tenth below the lowest value so changes near the top stay visible;
    # stop just above 100% so a perfect score isn't drawn on the frame.
    bottom = max(0.0, math.floor((min(accuracies) - 0.02) * 10) / 10)
    axis.set_ylim(bottom, max(1.01, max(accuracies) + 0.01))


def _say_no_data(axis: Axes) -> None:
    axis.set_xticks([])
    axis.set_yticks([])
    axis.text(0.5, 0.5, "No learning-curve data", ha="center", va="center", fontsize=14)


def _matrix_inches(size: int) -> float:
    # About 0.28 inch per cell plus room for the tick labels: 5 inches (500 px) for a handful of
    # labels, about 11 for thirty; larger would only be scaled down again in Slack's preview.
    return min(11.0, max(5.0, 2.5 + 0.28 * size))


def _row_shares(row: Sequence[int]) -> list[float]:
    total = sum(max(0, count) for count in row)
    return [max(0, count) / total if total else 0.0 for count in row]


def _draw_confusion_matrix(
    figure: Figure, names: Sequence[str], matrix: Sequence[Sequence[int]], *, title: str
) -> None:
    size = len(names)
    shares = [_row_shares(row) for row in matrix]
    axis = figure.add_subplot()
    # Colour by share of the row, so a rare label's confusions show as clearly as a common one's.
    image = axis.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0, aspect="equal")
    colour_bar = figure.colorbar(image, ax=axis, shrink=0.8, format=PercentFormatter(xmax=1.0))
    colour_bar.set_label("Share of the expected label's examples")
    ticks = list(range(size))
    short = [_cut(name, _MAX_TICK_LABEL) for name in names]
    tick_font = 10 if size <= 10 else 8
    axis.set_xticks(
        ticks, short, fontsize=tick_font, rotation=45, ha="right", rotation_mode="anchor"
    )
    axis.set_yticks(ticks, short, fontsize=tick_font)
    axis.set_xlabel("Predicted label")
    axis.set_ylabel("Expected label")
    axis.set_title(_cut(title, _MAX_TITLE))
    _write_counts(axis, matrix, shares)


def _write_counts(
    axis: Axes, matrix: Sequence[Sequence[int]], shares: Sequence[Sequence[float]]
) -> None:
    size = len(matrix)
    font = 11 if size <= 6 else 9 if size <= 12 else 7
    for row, counts in enumerate(matrix):
        for col, count in enumerate(counts):
            # Zeros are noise in a big matrix; in a small one they show the cell was counted.
            if count == 0 and size > 12:
                continue
            dark = shares[row][col] > 0.6
            colour = "white" if dark else "#999999" if count == 0 else "black"
            # Cell texts sit inside the axes; leaving them out of the layout saves measuring
            # hundreds of texts twice per picture.
            axis.text(
                col,
                row,
                str(count),
                ha="center",
                va="center",
                fontsize=font,
                color=colour,
                in_layout=False,
            )
