"""PNG pictures for the thread: a model's learning curve and its confusion matrix.

Drawn with Pillow alone. The learning curve is drawn at twice its size and shrunk with Lanczos
resampling, which antialiases its lines; the heat map, all straight edges, is drawn as is. Text
uses Pillow's embedded scalable font (FreeType); turned labels are drawn on a small mask that is
rotated and pasted. The fonts are cached and shared between calls and FreeType makes no
thread-safety promise for them, so rendering holds a lock.

Rendering is CPU-bound. Measured here with time.perf_counter (2 cores, median of 15 runs): a
learning curve takes 22-26 ms whether it has 1, 40 or 300 epochs; a confusion matrix 8 ms for 2
labels, 15 ms for 10 and 36 ms for 30. Importing this module takes about 30 ms; a fresh
interpreter that imports it and draws a 40-epoch curve and a 30-label matrix peaks at 49 MB RSS,
19 MB more than before the import: 8 MB for importing (5 of them Pillow's), 11 for drawing.
Matplotlib and numpy took 0.1-0.5 s a picture and 100 MB more.
Async code should not call the plain functions on the event loop: use the `*_async` variants,
which run them in a worker thread via `asyncio.to_thread`, so the loop keeps answering Slack.
"""

from __future__ import annotations

import asyncio
import functools
import io
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from PIL import Image, ImageDraw, ImageFont

from bot.core.compare import confusion_labels
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
# 800 x 450 px: Slack shows it at full width in the preview without scaling it down.
_CURVE_SIZE = (800, 450)
# Left, top, right and bottom of the learning curve's plot; the legend goes below it.
_PLOT = (72, 40, 728, 362)
_MAX_TITLE = 90
_MAX_TICK_LABEL = 18
# With more epochs than this, markers merge into a smear; the lines alone read better.
_MARKERS_UP_TO = 40
_ACCURACY_COLOUR = "#1f5fa8"
_LOSS_COLOUR = "#c8501e"
_GRID_COLOUR = "#e6e6e6"
# Matplotlib's "Blues" colour scale (ColorBrewer), from none of the row's examples to all of them.
_BLUES = (
    (247, 251, 255), (222, 235, 247), (198, 219, 239), (158, 202, 225), (107, 174, 214),
    (66, 146, 198), (33, 113, 181), (8, 81, 156), (8, 48, 107),
)  # fmt: skip
_RENDER_LOCK = threading.Lock()

Point = tuple[float, float]
Colour = str | tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class _Series:
    name: str
    value: Callable[[MetricsData], float | None]
    is_loss: bool
    colour: str
    dashed: bool


# Test solid, training dashed; accuracy blue on the left axis, loss orange on the right.
_SERIES = (
    _Series("Test accuracy", lambda m: m.test_accuracy, False, _ACCURACY_COLOUR, False),
    _Series("Training accuracy", lambda m: m.training_accuracy, False, _ACCURACY_COLOUR, True),
    _Series("Test loss", lambda m: m.test_loss, True, _LOSS_COLOUR, False),
    _Series("Training loss", lambda m: m.training_loss, True, _LOSS_COLOUR, True),
)


def learning_curve_png(points: Sequence[LearningCurvePoint], *, title: str) -> bytes:
    """Accuracy (left axis) and loss (right axis) per epoch; series without values are left out."""
    ordered = sorted(points, key=lambda p: p.epoch)
    with _RENDER_LOCK:
        canvas = _Canvas(*_CURVE_SIZE, scale=2)
        _draw_learning_curve(canvas, ordered, title=title)
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
        return _draw_confusion_matrix(names, matrix, title=title)


async def learning_curve_png_async(points: Sequence[LearningCurvePoint], *, title: str) -> bytes:
    """`learning_curve_png` in a worker thread, keeping the event loop free."""
    return await asyncio.to_thread(learning_curve_png, points, title=title)


async def confusion_matrix_png_async(
    labels: Sequence[str], matrix: Sequence[Sequence[int]], *, title: str
) -> bytes | None:
    """`confusion_matrix_png` in a worker thread, keeping the event loop free."""
    return await asyncio.to_thread(confusion_matrix_png, labels, matrix, title=title)


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(size)
    if not isinstance(font, ImageFont.FreeTypeFont):
        raise RuntimeError("charts need Pillow with FreeType for scalable text")
    return font


def _width(text: str, size: int) -> float:
    return _font(size).getlength(text)


class _Canvas:
    """A white picture; coordinates are final pixels, drawing happens at `scale` times that.

    Drawn at twice the size and shrunk, slanted lines come out antialiased. A heat map has none
    and would take four times the memory, so it is drawn at its final size.
    """

    def __init__(self, width: int, height: int, *, scale: int = 1) -> None:
        self.size, self.scale = (width, height), scale
        self.image = Image.new("RGB", (width * scale, height * scale), "white")
        self.draw = ImageDraw.Draw(self.image)

    def line(self, points: Sequence[Point], colour: Colour, width: float = 1.0) -> None:
        scaled = [(x * self.scale, y * self.scale) for x, y in points]
        self.draw.line(scaled, fill=colour, width=round(width * self.scale), joint="curve")

    def box(self, box: tuple[float, float, float, float], *, fill: Colour | None = None) -> None:
        """A filled box, or a thin black frame without `fill`."""
        scaled = tuple(v * self.scale for v in box)
        outline = None if fill else "black"
        self.draw.rectangle(scaled, fill=fill, outline=outline, width=self.scale)

    def dot(self, x: float, y: float, colour: Colour) -> None:
        x, y, r = x * self.scale, y * self.scale, 2.8 * self.scale
        self.draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)

    def text(
        self,
        at: Point,
        text: str,
        size: int,
        anchor: str = "mm",
        *,
        colour: str = "black",
        angle: float = 0.0,
    ) -> None:
        """`text` with its `anchor` (Pillow's two-letter code) at `at`.

        With an `angle`, turned that many degrees anticlockwise about the anchor: drawn on a mask
        which is rotated, then pasted through.
        """
        x, y, font = at[0] * self.scale, at[1] * self.scale, _font(size * self.scale)
        if not angle:
            self.draw.text((x, y), text, fill=colour, font=font, anchor=anchor)
            return
        left, top, right, bottom = font.getbbox(text, anchor=anchor)
        mask = Image.new("L", (math.ceil(right - left), math.ceil(bottom - top)))
        ImageDraw.Draw(mask).text((-left, -top), text, fill=255, font=font, anchor=anchor)
        turned = mask.rotate(angle, Image.Resampling.BICUBIC, expand=True)
        # The anchor's offset from the mask's centre turns with the mask.
        dx, dy = -left - mask.width / 2, -top - mask.height / 2
        cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        x -= turned.width / 2 + dx * cos + dy * sin
        y -= turned.height / 2 - dx * sin + dy * cos
        self.image.paste(colour, (round(x), round(y)), turned)

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.image.resize(self.size, Image.Resampling.LANCZOS).save(buffer, format="PNG")
        return buffer.getvalue()


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _title(canvas: _Canvas, title: str, centre: float) -> None:
    """The title, cut to `_MAX_TITLE` characters, in a smaller font if that's what fits."""
    title = _cut(title, _MAX_TITLE)
    room = 2 * min(centre, canvas.size[0] - centre) - 20
    size = next((size for size in range(16, 10, -1) if _width(title, size) <= room), 10)
    canvas.text((centre, 22), title, size)


def _ticks(low: float, high: float, *, least: float = 0.0) -> tuple[float, list[float]]:
    """A round step (1, 2 or 5 times a power of ten) making at most nine intervals, and the
    multiples of it from `low` to `high`."""
    power = 10.0 ** math.floor(math.log10((high - low) / 9))
    step = next(m * power for m in (1, 2, 5, 10) if 9 * m * power >= (high - low) * 0.999999)
    step = max(step, least)
    first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
    return step, [i * step for i in range(first, last + 1)]


def _format(value: float, step: float) -> str:
    return f"{value:.{max(0, -math.floor(math.log10(step) + 1e-9))}f}"


def _mapper(low: float, high: float, start: float, end: float) -> Callable[[float], float]:
    """Pixel position on an axis from `low` at `start` to `high` at `end`."""

    def position(value: float) -> float:
        # Values beyond the axis stop at its end instead of running over the labels.
        return start + (min(max(value, low), high) - low) / (high - low) * (end - start)

    return position


def _draw_learning_curve(
    canvas: _Canvas, points: Sequence[LearningCurvePoint], *, title: str
) -> None:
    left, top, right, bottom = _PLOT
    _title(canvas, title, _CURVE_SIZE[0] / 2)
    drawn = [(s, values) for s in _SERIES if (values := _series_values(points, s.value))]
    if not drawn:
        canvas.box(_PLOT)
        canvas.text(((left + right) / 2, (top + bottom) / 2), "No learning-curve data", 19)
        return
    x_of = _epoch_axis(canvas, points[0].epoch, points[-1].epoch)
    accuracies = [v for series, values in drawn if not series.is_loss for _, v in values]
    losses = [v for series, values in drawn if series.is_loss for _, v in values]
    y_of: dict[bool, Callable[[float], float]] = {}
    if accuracies:
        # Start at a round tenth below the lowest value so changes near the top stay visible;
        # stop just above 100% so a perfect score isn't drawn on the frame.
        low = max(0.0, math.floor((min(accuracies) - 0.02) * 10) / 10)
        y_of[False] = _value_axis(canvas, low, max(1.01, max(accuracies) + 0.01), is_loss=False)
    if losses:
        # From zero, with headroom so the first epoch's loss isn't drawn on the frame.
        high = max(0.0, *losses) * 1.08 or 1.0
        y_of[True] = _value_axis(canvas, 0.0, high, is_loss=True, grid=not accuracies)
    markers = len(points) <= _MARKERS_UP_TO
    for series, values in drawn:
        _plot(canvas, [(x_of(e), y_of[series.is_loss](v)) for e, v in values], series, markers)
    canvas.box(_PLOT)
    _legend(canvas, [series for series, _ in drawn], markers=markers)


def _series_values(
    points: Sequence[LearningCurvePoint], value: Callable[[MetricsData], float | None]
) -> list[tuple[int, float]]:
    pairs = ((point.epoch, value(point.metrics_data)) for point in points)
    return [(epoch, v) for epoch, v in pairs if v is not None and math.isfinite(v)]


def _epoch_axis(canvas: _Canvas, first: int, last: int) -> Callable[[float], float]:
    left, top, right, bottom = _PLOT
    # One epoch gets one either side; otherwise a margin keeps the ends off the frame.
    margin = 1.0 if first == last else 0.04 * (last - first)
    x_of = _mapper(first - margin, last + margin, left, right)
    step, ticks = _ticks(first - margin, last + margin, least=1.0)
    for epoch in ticks:
        canvas.line([(x_of(epoch), top), (x_of(epoch), bottom)], _GRID_COLOUR)
        canvas.line([(x_of(epoch), bottom), (x_of(epoch), bottom + 4)], "black")
        canvas.text((x_of(epoch), bottom + 7), _format(epoch, step), 12, "mt")
    canvas.text(((left + right) / 2, bottom + 27), "Epoch", 13, "mt")
    return x_of


def _value_axis(
    canvas: _Canvas, low: float, high: float, *, is_loss: bool, grid: bool = True
) -> Callable[[float], float]:
    """Accuracy in % on the left or loss on the right, with gridlines if `grid`."""
    left, top, right, bottom = _PLOT
    y_of = _mapper(low, high, bottom, top)
    edge, out = (right, 1) if is_loss else (left, -1)
    step, ticks = _ticks(low, high)
    for value in ticks:
        if grid:
            canvas.line([(left, y_of(value)), (right, y_of(value))], _GRID_COLOUR)
        canvas.line([(edge, y_of(value)), (edge + 4 * out, y_of(value))], "black")
        label = _format(value, step) if is_loss else f"{_format(value * 100, step * 100)}%"
        canvas.text((edge + 7 * out, y_of(value)), label, 12, "lm" if is_loss else "rm")
    name, colour = ("Loss", _LOSS_COLOUR) if is_loss else ("Accuracy", _ACCURACY_COLOUR)
    canvas.text((edge + 52 * out, (top + bottom) / 2), name, 13, colour=colour, angle=90)
    return y_of


def _plot(canvas: _Canvas, line: list[Point], series: _Series, markers: bool) -> None:
    for piece in _dashes(line, 6.0, 3.5) if series.dashed else [line]:
        canvas.line(piece, series.colour, 1.8)
    for x, y in line if markers else []:
        canvas.dot(x, y, series.colour)


def _dashes(line: Sequence[Point], on: float, off: float) -> list[list[Point]]:
    """The pieces of `line` a dashed pen draws: `on` pixels drawn, `off` left out, and so on."""
    pieces: list[list[Point]] = []
    piece: list[Point] | None = None
    pen_down, to_go = True, on  # to_go: how far the pen goes before it lifts or drops again
    for (x0, y0), (x1, y1) in pairwise(line):
        length, done = math.dist((x0, y0), (x1, y1)), 0.0
        while done < length:
            step = min(to_go, length - done)
            if pen_down:
                if piece is None:
                    piece = [(x0 + (x1 - x0) * done / length, y0 + (y1 - y0) * done / length)]
                    pieces.append(piece)
                end = (done + step) / length
                piece.append((x0 + (x1 - x0) * end, y0 + (y1 - y0) * end))
            done, to_go = done + step, to_go - step
            if to_go <= 0:
                pen_down, to_go, piece = not pen_down, off if pen_down else on, None
    return pieces


def _legend(canvas: _Canvas, shown: Sequence[_Series], *, markers: bool) -> None:
    """Below the plot, outside it: inside, any corner can hide the end of a curve."""
    widths = [36 + _width(series.name, 12) for series in shown]  # 30 px line, 6 px gap
    x, y = (_CURVE_SIZE[0] - sum(widths) - 26 * (len(shown) - 1)) / 2, _CURVE_SIZE[1] - 20
    for series, width in zip(shown, widths, strict=True):
        _plot(canvas, [(x, y), (x + 30, y)], series, markers=False)
        if markers:
            canvas.dot(x + 15, y, series.colour)
        canvas.text((x + 36, y), series.name, 12, "lm")
        x += width + 26


def _blue(share: float) -> tuple[int, int, int]:
    position = min(max(share, 0.0), 1.0) * (len(_BLUES) - 1)
    index = min(int(position), len(_BLUES) - 2)
    pairs = zip(_BLUES[index], _BLUES[index + 1], strict=True)
    red, green, blue = (round(a + (b - a) * (position - index)) for a, b in pairs)
    return red, green, blue


def _draw_confusion_matrix(
    names: Sequence[str], matrix: Sequence[Sequence[int]], *, title: str
) -> bytes:
    size = len(names)
    short = [_cut(name, _MAX_TICK_LABEL) for name in names]
    font = 14 if size <= 10 else 12
    longest = max(_width(name, font) for name in short)
    # 336 px for two labels, 18 more for each further one, 840 (28 a cell) for thirty: larger
    # would be scaled down in Slack's preview. Around it: tick labels, axis names, colour bar.
    side = min(840, 300 + 18 * size)
    left, top, cell = 44 + longest, 48, side / size
    bottom = top + side
    under = (longest + font) / math.sqrt(2) + 12  # the turned tick labels
    canvas = _Canvas(round(left + side + 150), round(bottom + under + 40))
    _title(canvas, title, left + side / 2)
    _draw_cells(canvas, matrix, left, top, cell)
    for i, name in enumerate(short):
        middle = (i + 0.5) * cell
        canvas.line([(left - 4, top + middle), (left, top + middle)], "black")
        canvas.text((left - 7, top + middle), name, font, "rm")
        canvas.line([(left + middle, bottom), (left + middle, bottom + 4)], "black")
        canvas.text((left + middle + 4, bottom + 9), name, font, "rm", angle=45)
    canvas.text((left + side / 2, bottom + under), "Predicted label", 13, "mt")
    canvas.text((18, top + side / 2), "Expected label", 13, angle=90)
    _colour_bar(canvas, left + side + 24, top + side * 0.1, side * 0.8)
    return canvas.png()


def _draw_cells(
    canvas: _Canvas, matrix: Sequence[Sequence[int]], left: float, top: float, cell: float
) -> None:
    """Each cell coloured by its share of the row, so a rare label's confusions show as clearly
    as a common one's, with its count written in it."""
    size = len(matrix)
    font = 15 if size <= 6 else 13 if size <= 12 else 10
    for row, counts in enumerate(matrix):
        total = sum(max(0, count) for count in counts)
        for col, count in enumerate(counts):
            share = max(0, count) / total if total else 0.0
            x, y = left + col * cell, top + row * cell
            canvas.box((x, y, x + cell, y + cell), fill=_blue(share))
            # Zeros are noise in a big matrix; in a small one they show the cell was counted.
            if count == 0 and size > 12:
                continue
            colour = "white" if share > 0.6 else "#999999" if count == 0 else "black"
            canvas.text((x + cell / 2, y + cell / 2), str(count), font, colour=colour)
    canvas.box((left, top, left + size * cell, top + size * cell))


def _colour_bar(canvas: _Canvas, left: float, top: float, height: float) -> None:
    """The colour scale from 0% (bottom) to 100% of the row, in a hundred bands."""
    right = left + 18
    for percent in range(100):
        y = top + height * (1 - (percent + 1) / 100)
        canvas.box((left, y, right, y + height / 100), fill=_blue((percent + 0.5) / 100))
    canvas.box((left, top, right, top + height))
    for percent in range(0, 101, 20):
        y = top + height * (1 - percent / 100)
        canvas.line([(right, y), (right + 4, y)], "black")
        canvas.text((right + 7, y), f"{percent}%", 12, "lm")
    label = "Share of the expected label's examples"
    canvas.text((right + 52, top + height / 2), label, 13, angle=90)
