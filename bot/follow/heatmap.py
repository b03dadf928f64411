"""The confusion matrix as a heat map: rows expected, columns predicted, with a colour bar."""

from __future__ import annotations

import math
from collections.abc import Sequence

from bot.core.mrkdwn import shorten
from bot.follow.canvas import Canvas, draw_title, text_width

__all__ = ["draw_confusion_matrix"]

_MAX_TICK_LABEL = 18
# Matplotlib's "Blues" colour scale (ColorBrewer), from none of the row's examples to all of them.
_BLUES = (
    (247, 251, 255), (222, 235, 247), (198, 219, 239), (158, 202, 225), (107, 174, 214),
    (66, 146, 198), (33, 113, 181), (8, 81, 156), (8, 48, 107),
)  # fmt: skip


def _blue(share: float) -> tuple[int, int, int]:
    position = min(max(share, 0.0), 1.0) * (len(_BLUES) - 1)
    index = min(int(position), len(_BLUES) - 2)
    pairs = zip(_BLUES[index], _BLUES[index + 1], strict=True)
    red, green, blue = (round(a + (b - a) * (position - index)) for a, b in pairs)
    return red, green, blue


def draw_confusion_matrix(
    names: Sequence[str], matrix: Sequence[Sequence[int]], *, title: str
) -> bytes:
    size = len(names)
    short = [shorten(name, _MAX_TICK_LABEL) for name in names]
    font = 14 if size <= 10 else 12
    longest = max(text_width(name, font) for name in short)
    # 336 px for two labels, 18 more for each further one, 840 (28 a cell) for thirty: larger
    # would be scaled down in Slack's preview. Around it: tick labels, axis names, colour bar.
    side = min(840, 300 + 18 * size)
    left, top, cell = 44 + longest, 48, side / size
    bottom = top + side
    under = (longest + font) / math.sqrt(2) + 12  # the turned tick labels
    canvas = Canvas(round(left + side + 150), round(bottom + under + 40))
    draw_title(canvas, title, left + side / 2)
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
    canvas: Canvas, matrix: Sequence[Sequence[int]], left: float, top: float, cell: float
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


def _colour_bar(canvas: Canvas, left: float, top: float, height: float) -> None:
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
