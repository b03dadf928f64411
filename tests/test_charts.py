"""PNG charts of the learning curve and the confusion matrix."""

from __future__ import annotations

import asyncio
import math
import struct
from typing import Any

import pytest

from bot.charts import (
    MAX_MATRIX_LABELS,
    confusion_matrix_png,
    confusion_matrix_png_async,
    learning_curve_png,
    learning_curve_png_async,
)
from bot.einstein.models import LearningCurvePoint

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ALL_SERIES = ("testAccuracy", "trainingAccuracy", "testLoss", "trainingLoss")


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


def _matrix(size: int) -> list[list[int]]:
    return [
        [40 + row if row == col else (row + col) % 3 for col in range(size)] for row in range(size)
    ]


def _labels(size: int) -> list[str]:
    return [f"label_{i}_with_a_rather_long_name" if i % 3 == 0 else f"l{i}" for i in range(size)]


@pytest.mark.parametrize("epochs", [1, 40, 300])
def test_learning_curve_is_a_preview_sized_png(epochs: int) -> None:
    """The curve is an 800x450 PNG of real content for one, forty or three hundred epochs."""
    data = learning_curve_png(_points(epochs), title="Learning curve of M1")
    assert _png_size(data) == (800, 450)
    assert len(data) > 5_000


@pytest.mark.parametrize(
    "series",
    [
        ("testAccuracy", "testLoss"),
        ("testAccuracy",),
        ("testLoss", "trainingLoss"),
        (),
    ],
    ids=["no-training-values", "accuracy-only", "loss-only", "nothing"],
)
def test_learning_curve_with_missing_series(series: tuple[str, ...]) -> None:
    """Series without any values are skipped; with none at all the chart still renders."""
    data = learning_curve_png(_points(12, series=series), title="M1")
    assert _png_size(data) == (800, 450)
    assert len(data) > 5_000


def test_learning_curve_tolerates_gaps_and_disorder() -> None:
    """Points out of order, with some values missing or NaN, still make a chart."""
    points = _points(20)[::-1]
    patched: list[dict[str, Any]] = [
        {"epoch": 21, "metricsData": {"testAccuracy": float("nan"), "testLoss": None}},
        {"epoch": 22, "metricsData": {}},
    ]
    points += [LearningCurvePoint.model_validate(p) for p in patched]
    assert _png_size(learning_curve_png(points, title="M1")) == (800, 450)


def test_learning_curve_without_points() -> None:
    """An empty learning curve gives a chart that says there is no data, not an error."""
    data = learning_curve_png([], title="M1")
    assert _png_size(data) == (800, 450)


@pytest.mark.parametrize("size", [2, 10, MAX_MATRIX_LABELS])
def test_confusion_matrix_is_a_png(size: int) -> None:
    """2, 10 and 30 labels each give a PNG between 500 and 1,300 pixels a side."""
    data = confusion_matrix_png(_labels(size), _matrix(size), title="Confusion matrix of M1")
    assert data is not None
    width, height = _png_size(data)
    assert 500 <= height <= width <= 1_300
    assert len(data) > 5_000


def test_confusion_matrix_grows_with_labels() -> None:
    """More labels make a bigger picture."""
    small = confusion_matrix_png(_labels(4), _matrix(4), title="M1")
    large = confusion_matrix_png(_labels(12), _matrix(12), title="M1")
    assert small is not None
    assert large is not None
    assert _png_size(small)[0] < _png_size(large)[0]


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


async def test_async_wrappers_render_concurrently() -> None:
    """The async variants render in worker threads, side by side, without mixing figures up."""
    curves, matrices = await asyncio.gather(
        asyncio.gather(*(learning_curve_png_async(_points(5), title="M1") for _ in range(2))),
        asyncio.gather(
            *(confusion_matrix_png_async(_labels(3), _matrix(3), title="M1") for _ in range(2))
        ),
    )
    assert [_png_size(c) for c in curves] == [(800, 450)] * 2
    assert all(m is not None and _png_size(m)[0] >= 500 for m in matrices)
