"""PNG charts of the learning curve and the confusion matrix."""

from __future__ import annotations

import io
import math
import pickle
import struct
import subprocess
import sys
from itertools import product
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageDraw

from bot.einstein.models import LearningCurvePoint
from bot.follow import charts, heatmap
from bot.follow.canvas import Canvas, load_font
from bot.follow.charts import (
    MAX_MATRIX_LABELS,
    Curve,
    Drawable,
    confusion_matrix_png,
    draw_training,
    learning_curve_png,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ALL_SERIES = ("testAccuracy", "trainingAccuracy", "testLoss", "trainingLoss")
ACCURACY_BLUE = (0x1F, 0x5F, 0xA8)
LOSS_ORANGE = (0xC8, 0x50, 0x1E)


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk, after checking the signature."""
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _points(epochs: int, *, series: tuple[str, ...] = ALL_SERIES) -> list[LearningCurvePoint]:
    points = []
    for epoch in range(1, epochs + 1):
        accuracy = 0.95 - 0.45 * math.exp(-epoch / 8)
        values = {
            "testAccuracy": accuracy,
            "trainingAccuracy": min(0.999, accuracy + 0.04),
            "testLoss": 1.6 * math.exp(-epoch / 7) + 0.15,
            "trainingLoss": 1.5 * math.exp(-epoch / 6) + 0.05,
        }
        data = {name: values[name] for name in series}
        points.append(LearningCurvePoint.model_validate({"epoch": epoch, "metricsData": data}))
    return points


def _image(data: bytes | None) -> Image.Image:
    assert data is not None
    return Image.open(io.BytesIO(data)).convert("RGB")


def _pixels_like(image: Image.Image, colour: tuple[int, int, int]) -> int:
    """How many pixels are within 24 of `colour` in each of red, green and blue."""
    masks = [
        band.point(lambda v, c=c: 255 if abs(v - c) <= 24 else 0)
        for band, c in zip(image.split(), colour, strict=True)
    ]
    return ImageChops.multiply(ImageChops.multiply(masks[0], masks[1]), masks[2]).histogram()[255]


def _matrix(size: int) -> list[list[int]]:
    return [
        [40 + row if row == col else (row + col) % 3 for col in range(size)] for row in range(size)
    ]


def _labels(size: int) -> list[str]:
    return [f"label_{i}_with_a_rather_long_name" if i % 3 == 0 else f"l{i}" for i in range(size)]


@pytest.mark.parametrize("epochs", [1, 40, 300])
def test_learning_curve_is_a_preview_sized_png(epochs: int) -> None:
    """The curve is an 800x450 PNG of real content for one, forty or three hundred epochs."""
    data = learning_curve_png(Curve.of(_points(epochs)), title="Learning curve of M1")
    assert _png_size(data) == (800, 450)
    assert len(data) > 4_000


@pytest.mark.parametrize(
    ("series", "accuracy", "loss"),
    [
        (("testAccuracy", "testLoss"), True, True),
        (("testAccuracy",), True, False),
        (("trainingAccuracy",), True, False),
        (("testLoss", "trainingLoss"), False, True),
        ((), False, False),
    ],
    ids=["no-training-values", "accuracy-only", "training-accuracy-only", "loss-only", "nothing"],
)
def test_learning_curve_with_missing_series(
    series: tuple[str, ...], accuracy: bool, loss: bool
) -> None:
    """Series without any values are skipped; with none at all the chart still renders.

    Accuracy is drawn in blue, loss in orange: each colour shows exactly when its series has values.
    """
    data = learning_curve_png(Curve.of(_points(12, series=series)), title="M1")
    assert _png_size(data) == (800, 450)
    assert len(data) > 4_000
    image = _image(data)
    for colour, shown in ((ACCURACY_BLUE, accuracy), (LOSS_ORANGE, loss)):
        if shown:
            assert _pixels_like(image, colour) > 300
        else:
            assert _pixels_like(image, colour) == 0


def test_learning_curve_tolerates_gaps_and_disorder() -> None:
    """Points out of order, with some values missing or NaN, still make a chart."""
    points = _points(20)[::-1]
    patched: list[dict[str, Any]] = [
        {"epoch": 21, "metricsData": {"testAccuracy": float("nan"), "testLoss": None}},
        {"epoch": 22, "metricsData": {}},
    ]
    points += [LearningCurvePoint.model_validate(p) for p in patched]
    assert _png_size(learning_curve_png(Curve.of(points), title="M1")) == (800, 450)


def test_learning_curve_without_points() -> None:
    """An empty learning curve gives a chart that says there is no data, not an error."""
    data = learning_curve_png(Curve.of([]), title="M1")
    assert _png_size(data) == (800, 450)
    image = _image(data)
    assert _pixels_like(image, ACCURACY_BLUE) == _pixels_like(image, LOSS_ORANGE) == 0
    # The message, in dark text, in the middle of the empty plot.
    darkest, _ = image.convert("L").crop((300, 180, 500, 220)).getextrema()
    assert darkest < 80


def test_learning_curve_markers_only_up_to_forty_epochs() -> None:
    """Markers make a line thicker at each epoch: more of the colour with forty, not with 41."""
    only_test = ("testAccuracy",)
    forty = _pixels_like(
        _image(learning_curve_png(Curve.of(_points(40, series=only_test)), title="M")),
        ACCURACY_BLUE,
    )
    more = _pixels_like(
        _image(learning_curve_png(Curve.of(_points(41, series=only_test)), title="M")),
        ACCURACY_BLUE,
    )
    assert forty > 1.3 * more


@pytest.mark.parametrize("size", [2, 10, MAX_MATRIX_LABELS])
def test_confusion_matrix_is_a_png(size: int) -> None:
    """2, 10 and 30 labels each give a PNG between 500 and 1,300 pixels a side."""
    data = confusion_matrix_png(_labels(size), _matrix(size), title="Confusion matrix of M1")
    assert data is not None
    width, height = _png_size(data)
    assert 500 <= height <= width <= 1_300
    assert len(data) > 4_000


@pytest.mark.parametrize(("fewer", "more"), [(4, 12), (3, MAX_MATRIX_LABELS)])
def test_confusion_matrix_grows_with_labels(fewer: int, more: int) -> None:
    """More labels make a bigger picture."""
    small = confusion_matrix_png(_labels(fewer), _matrix(fewer), title="M1")
    large = confusion_matrix_png(_labels(more), _matrix(more), title="M1")
    assert small is not None
    assert large is not None
    assert _png_size(small)[0] < _png_size(large)[0]
    assert _png_size(small)[1] < _png_size(large)[1]


def _cell_centres(size: int) -> tuple[Image.Image, Image.Image, list[list[tuple[int, int]]]]:
    """Heat maps of a diagonal and an anti-diagonal matrix, and the centre of each cell, found
    where the two pictures differ: in the cells, corners included, and nowhere else. (Each
    picture's palette is its own, so a colour elsewhere may come out a few steps apart.)

    Row r holds all its 1 + 100 r examples in the marked cell: from 1 in the first row to
    1,201 in the thirteenth.
    """
    labels = [f"label {i}" for i in range(size)]
    diagonal = [[1 + 100 * r if r == c else 0 for c in range(size)] for r in range(size)]
    anti = [[1 + 100 * r if r + c == size - 1 else 0 for c in range(size)] for r in range(size)]
    first = _image(confusion_matrix_png(labels, diagonal, title="M1"))
    second = _image(confusion_matrix_png(labels, anti, title="M1"))
    box = (
        ImageChops.difference(first, second).convert("L").point(lambda v: v > 60 and 255).getbbox()
    )
    assert box is not None
    left, top, right, bottom = box
    cell = ((right - left) / size, (bottom - top) / size)
    centres = [
        [
            (round(left + (col + 0.5) * cell[0]), round(top + (row + 0.5) * cell[1]))
            for col in range(size)
        ]
        for row in range(size)
    ]
    return first, second, centres


def _cell_middle(image: Image.Image, centre: tuple[int, int], half: int) -> Image.Image:
    x, y = centre
    return image.convert("L").crop((x - half, y - half, x + half, y + half))


@pytest.mark.parametrize("size", [3, 13])
def test_confusion_matrix_colours_cells_by_share(size: int) -> None:
    """Cells holding the whole row are dark, however few its examples; empty ones are light."""
    diagonal, anti, centres = _cell_centres(size)
    for image, marked in ((diagonal, lambda r, c: r == c), (anti, lambda r, c: r + c == size - 1)):
        grey = image.convert("L")
        for row in range(size):
            for col in range(size):
                # Beside the count written in the middle: the cell's own colour.
                x, y = centres[row][col]
                value = grey.getpixel((x - 8, y - 8))
                assert isinstance(value, int)
                assert value < 100 if marked(row, col) else value > 230


def test_confusion_matrix_counts() -> None:
    """Counts are white on dark cells; zeros are grey in a small matrix, left out of a large one."""
    diagonal, _, centres = _cell_centres(3)
    full = _cell_middle(diagonal, centres[0][0], 6).getextrema()
    assert full[1] > 200  # white digits on the dark cell
    zero = _cell_middle(diagonal, centres[0][1], 6).getextrema()
    assert 110 < zero[0] < 200  # a grey 0, neither black nor missing
    diagonal, _, centres = _cell_centres(13)
    lightest, darkest = _cell_middle(diagonal, centres[0][1], 6).getextrema()[::-1]
    assert lightest - darkest < 6  # no 0 written


def test_confusion_matrix_out_of_domain() -> None:
    """A matrix one row and column larger than the labels is drawn with the extra class."""
    data = confusion_matrix_png(["a", "b"], _matrix(3), title="M1")
    assert data is not None
    assert _png_size(data)[0] >= 500


def test_confusion_matrix_too_many_labels() -> None:
    """More than thirty labels give no picture."""
    size = MAX_MATRIX_LABELS + 1
    assert confusion_matrix_png(_labels(size), _matrix(size), title="M1") is None


@pytest.mark.parametrize(
    ("labels", "matrix"),
    [
        (["a", "b"], []),
        (["a", "b"], [[1, 2], [3]]),
        (["a", "b"], [[1, 2, 3], [4, 5, 6]]),
        (["a", "b"], [[1, 2], [3, 4], [5, 6]]),
        (["a", "b"], [[1, 0, 0, 0]] * 4),
        ([], [[1]]),
    ],
    ids=["empty", "ragged", "wide", "tall", "two-extra", "no-labels"],
)
def test_confusion_matrix_inconsistent_shape(labels: list[str], matrix: list[list[int]]) -> None:
    """A matrix whose shape does not fit the labels gives no picture."""
    assert confusion_matrix_png(labels, matrix, title="M1") is None


def test_draw_training_draws_what_the_data_allows() -> None:
    """Both pictures with both data, each alone with its own, none without data."""
    points, labels = tuple(_points(5)), tuple(_labels(3))
    matrix = tuple(tuple(row) for row in _matrix(3))
    both = draw_training(Drawable("M1", Curve.of(points), labels, matrix))
    assert [(name, _png_size(png)[0] >= 500) for name, png, _title in both] == [
        ("learning-curve.png", True),
        ("confusion-matrix.png", True),
    ]
    assert both[0][1] == learning_curve_png(Curve.of(points), title="Learning curve · M1")
    assert [p[0] for p in draw_training(Drawable("M1", Curve.of(points)))] == ["learning-curve.png"]
    assert [p[0] for p in draw_training(Drawable("M1", None, labels, matrix))] == [
        "confusion-matrix.png"
    ]
    assert draw_training(Drawable("M1")) == []


def test_a_drawable_is_plain_data_for_a_worker() -> None:
    """What goes to a drawing worker holds the curve's numbers in order, not the API's models
    (pickling those cost 0.4 ms each way for a curve of 59 epochs)."""
    points = list(reversed(_points(5)))
    data = Drawable("M1", Curve.of(points), ("a", "b"), ((3, 1), (0, 4)))
    sent = pickle.dumps(data)
    assert b"bot.einstein" not in sent
    assert b"pydantic" not in sent
    received = pickle.loads(sent)  # noqa: S301 - what this test pickled itself
    assert received == data
    assert data.curve is not None
    assert data.curve.epochs == (1, 2, 3, 4, 5)
    assert data.curve.test_accuracy == tuple(
        p.metrics_data.test_accuracy for p in sorted(points, key=lambda p: p.epoch)
    )
    assert draw_training(received) == draw_training(data)


def test_a_drawing_worker_loads_no_api_models() -> None:
    """A worker process imports the drawing module alone: neither pydantic nor the Einstein
    client's modules come with it (they doubled its import time and memory)."""
    check = (
        "import sys, bot.follow.charts; "
        "print(sorted(m for m in sys.modules if m == 'pydantic' or m.startswith('bot.einstein')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"


@pytest.mark.parametrize("labels", [4, 30])
def test_palette_keeps_every_colour_close(labels: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The 256-colour PNGs are the pictures as drawn, give or take a few steps of colour."""
    canvases: list[Canvas] = []

    class Kept(Canvas):
        def png(self) -> bytes:
            canvases.append(self)
            return super().png()

    monkeypatch.setattr(charts, "Canvas", Kept)
    monkeypatch.setattr(heatmap, "Canvas", Kept)
    pngs = [
        learning_curve_png(Curve.of(_points(55)), title="Learning curve · M1"),
        confusion_matrix_png(_labels(labels), _matrix(labels), title="M1"),
    ]
    assert len(canvases) == 2
    for png, canvas in zip(pngs, canvases, strict=True):
        drawn = canvas.image.reduce(canvas.scale) if canvas.scale > 1 else canvas.image
        difference = ImageChops.difference(_image(png), drawn).convert("L")
        histogram = difference.histogram()
        mean = sum(value * count for value, count in enumerate(histogram)) / sum(histogram)
        assert mean < 4
        assert difference.getextrema()[1] < 64


@pytest.mark.parametrize("scale", [1, 2])
def test_text_pasted_from_the_cache_is_text_drawn(scale: int) -> None:
    """A text rendered once and pasted gives the very pixels Pillow draws, wherever it falls
    between pixels, in every anchor and colour; a long text (a title) is drawn as it is."""
    cached, drawn = Canvas(300, 200, scale=scale), Canvas(300, 200, scale=scale)
    draw = ImageDraw.Draw(drawn.image)
    texts = ["0.75", "Epoch", "Training accuracy", "label 12", "Learning curve · " + "M" * 40]
    places = [(10, 20), (150.5, 100.25), (37.3, 61.9), (290.75, 180.5)]
    for n, (text, at, anchor) in enumerate(product(texts, places, ["mm", "rm", "lt", "mb"])):
        colour = ("black", "#1f5fa8", "white")[n % 3]
        cached.text(at, text, 12 + n % 3, anchor, colour=colour)
        font = load_font((12 + n % 3) * scale)
        draw.text((at[0] * scale, at[1] * scale), text, fill=colour, font=font, anchor=anchor)
    assert ImageChops.difference(cached.image, drawn.image).getbbox() is None
    blank = Canvas(300, 200, scale=scale)
    assert ImageChops.difference(cached.image, blank.image).getbbox() is not None
