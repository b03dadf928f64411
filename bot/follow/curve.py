"""The learning curve: accuracy (left axis) and loss (right axis) per epoch, test and training."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from bot.follow.canvas import Canvas, Point, draw_title, text_width

if TYPE_CHECKING:  # a drawing worker imports this module and needs no pydantic
    from bot.einstein.models import LearningCurvePoint

__all__ = ["CURVE_SIZE", "Curve", "draw_learning_curve"]

# 800 x 450 px: Slack shows it at full width in the preview without scaling it down.
CURVE_SIZE = (800, 450)
# Left, top, right and bottom of the learning curve's plot; the legend goes below it.
_PLOT = (72, 40, 728, 362)
# With more epochs than this, markers merge into a smear; the lines alone read better.
_MARKERS_UP_TO = 40
_ACCURACY_COLOUR = "#1f5fa8"
_LOSS_COLOUR = "#c8501e"
_GRID_COLOUR = "#e6e6e6"


Values = tuple[float | None, ...]  # one a point, None where Einstein sent none


@dataclass(frozen=True, slots=True)
class Curve:
    """A learning curve as it is drawn: its epochs in order and each series' value at each.

    Plain tuples, not the API's models: a curve goes to a drawing worker by pickle, which takes
    about 10 µs each way for 59 epochs against 0.4 ms for the pydantic points.
    """

    epochs: tuple[int, ...] = ()
    test_accuracy: Values = ()
    training_accuracy: Values = ()
    test_loss: Values = ()
    training_loss: Values = ()

    @classmethod
    def of(cls, points: Iterable[LearningCurvePoint]) -> Curve:
        ordered = sorted(points, key=lambda p: p.epoch)
        metrics = [p.metrics_data for p in ordered]
        return cls(
            epochs=tuple(p.epoch for p in ordered),
            test_accuracy=tuple(m.test_accuracy for m in metrics),
            training_accuracy=tuple(m.training_accuracy for m in metrics),
            test_loss=tuple(m.test_loss for m in metrics),
            training_loss=tuple(m.training_loss for m in metrics),
        )


@dataclass(frozen=True, slots=True)
class _Series:
    name: str
    values: Callable[[Curve], Values]
    is_loss: bool
    colour: str
    dashed: bool


# Test solid, training dashed; accuracy blue on the left axis, loss orange on the right.
_SERIES = (
    _Series("Test accuracy", lambda c: c.test_accuracy, False, _ACCURACY_COLOUR, False),
    _Series("Training accuracy", lambda c: c.training_accuracy, False, _ACCURACY_COLOUR, True),
    _Series("Test loss", lambda c: c.test_loss, True, _LOSS_COLOUR, False),
    _Series("Training loss", lambda c: c.training_loss, True, _LOSS_COLOUR, True),
)


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


def draw_learning_curve(canvas: Canvas, curve: Curve, *, title: str) -> None:
    left, top, right, bottom = _PLOT
    draw_title(canvas, title, CURVE_SIZE[0] / 2)
    drawn = [(s, values) for s in _SERIES if (values := _series_values(curve, s))]
    if not drawn:
        canvas.box(_PLOT)
        canvas.text(((left + right) / 2, (top + bottom) / 2), "No learning-curve data", 19)
        return
    x_of = _epoch_axis(canvas, curve.epochs[0], curve.epochs[-1])
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
    markers = len(curve.epochs) <= _MARKERS_UP_TO
    for series, values in drawn:
        _plot(canvas, [(x_of(e), y_of[series.is_loss](v)) for e, v in values], series, markers)
    canvas.box(_PLOT)
    _legend(canvas, [series for series, _ in drawn], markers=markers)


def _series_values(curve: Curve, series: _Series) -> list[tuple[int, float]]:
    pairs = zip(curve.epochs, series.values(curve), strict=True)
    return [(epoch, v) for epoch, v in pairs if v is not None and math.isfinite(v)]


def _epoch_axis(canvas: Canvas, first: int, last: int) -> Callable[[float], float]:
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
    canvas: Canvas, low: float, high: float, *, is_loss: bool, grid: bool = True
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


def _plot(canvas: Canvas, line: list[Point], series: _Series, markers: bool) -> None:
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


def _legend(canvas: Canvas, shown: Sequence[_Series], *, markers: bool) -> None:
    """Below the plot, outside it: inside, any corner can hide the end of a curve."""
    widths = [36 + text_width(series.name, 12) for series in shown]  # 30 px line, 6 px gap
    x, y = (CURVE_SIZE[0] - sum(widths) - 26 * (len(shown) - 1)) / 2, CURVE_SIZE[1] - 20
    for series, width in zip(shown, widths, strict=True):
        _plot(canvas, [(x, y), (x + 30, y)], series, markers=False)
        if markers:
            canvas.dot(x + 15, y, series.colour)
        canvas.text((x + 36, y), series.name, 12, "lm")
        x += width + 26
