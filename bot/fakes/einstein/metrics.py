"""Model metrics and learning curves for the simulator, derived from a seed.

The numbers are invented but consistent with each other, so a client can cross-check them:
precision, recall and F1 come from a confusion matrix whose rows add up to each label's test
split, `testAccuracy` is its trace over its total, `macroF1` is the mean F1, and the
`precisionRecallCurve` starts from the test accuracy at threshold 0. A model's quality
drifts with each successful training, usually upwards, the way a retrain on more data does.
"""

from __future__ import annotations

import math
import random
from typing import Any

from bot.fakes.einstein.objects import format_time
from bot.fakes.einstein.training import TrainingPlan

__all__ = [
    "learning_curve",
    "metrics_data",
    "model_quality",
    "precision_recall_curve",
    "render_metrics",
]

_BASE_QUALITY = (0.72, 0.86)
_QUALITY_STEP = (-0.01, 0.04)  # per successful retrain: usually a bit better, sometimes worse
_MAX_QUALITY = 0.985
_LABEL_NOISE = 0.06


def model_quality(*, seed: int, model_id: str, generation: int) -> float:
    """Expected test accuracy of a model after its `generation`-th successful training."""
    quality = random.Random(f"{seed}:{model_id}:quality").uniform(*_BASE_QUALITY)
    for step in range(2, generation + 1):
        quality += random.Random(f"{seed}:{model_id}:quality:{step}").uniform(*_QUALITY_STEP)
    return min(quality, _MAX_QUALITY)


def metrics_data(
    *, labels: tuple[str, ...], test_counts: tuple[int, ...], quality: float, rng: random.Random
) -> dict[str, Any]:
    matrix = _confusion_matrix(test_counts, quality=quality, rng=rng)
    size = len(labels)
    predicted = [sum(matrix[row][col] for row in range(size)) for col in range(size)]
    precision = [_ratio(matrix[i][i], predicted[i]) for i in range(size)]
    recall = [_ratio(matrix[i][i], test_counts[i]) for i in range(size)]
    f1 = [_ratio(2 * p * r, p + r) for p, r in zip(precision, recall, strict=True)]
    total = sum(test_counts)
    accuracy = _ratio(sum(matrix[i][i] for i in range(size)), total)
    training_accuracy = min(0.999, accuracy + rng.uniform(0.03, 0.1))
    return {
        "labels": list(labels),
        "f1": _rounded(f1),
        "precision": _rounded(precision),
        "recall": _rounded(recall),
        "macroF1": round(sum(f1) / size, 4) if size else 0.0,
        "confusionMatrix": matrix,
        "testAccuracy": round(accuracy, 4),
        "testLoss": round(-math.log(max(accuracy, 0.05)) + rng.uniform(0.02, 0.1), 4),
        "trainingAccuracy": round(training_accuracy, 4),
        "trainingLoss": round(-math.log(training_accuracy) + rng.uniform(0.0, 0.03), 4),
        "precisionRecallCurve": precision_recall_curve(accuracy),
    }


def precision_recall_curve(accuracy: float) -> dict[str, list[float]]:
    """The label-independent curve: precision, recall and F1 when only predictions at or above
    each probability threshold count. A higher threshold is surer (precision rises) and
    answers less often (recall falls); at threshold 0 both are the test accuracy."""
    thresholds = [step / 10 for step in range(10)]
    precision = [accuracy + (1 - accuracy) * 0.9 * t for t in thresholds]
    recall = [accuracy * (1 - 0.8 * t * t) for t in thresholds]
    f1 = [_ratio(2 * p * r, p + r) for p, r in zip(precision, recall, strict=True)]
    return {
        "threshold": thresholds,
        "precision": _rounded(precision),
        "recall": _rounded(recall),
        "f1": _rounded(f1),
    }


def _confusion_matrix(
    test_counts: tuple[int, ...], *, quality: float, rng: random.Random
) -> list[list[int]]:
    """Rows are the expected label, columns the predicted one."""
    size = len(test_counts)
    matrix = [[0] * size for _ in range(size)]
    for row, count in enumerate(test_counts):
        hit_rate = min(1.0, max(0.0, quality + rng.uniform(-_LABEL_NOISE, _LABEL_NOISE)))
        correct = count if size == 1 else round(count * hit_rate)
        matrix[row][row] = correct
        others = [col for col in range(size) if col != row]
        for _ in range(count - correct):
            matrix[row][rng.choice(others)] += 1
    return matrix


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def _rounded(values: list[float]) -> list[float]:
    return [round(v, 4) for v in values]


def _quality(plan: TrainingPlan, *, seed: int, generation: int) -> float:
    """The scripted test accuracy of the training, else the model's drifting quality."""
    if plan.accuracy is not None:
        return plan.accuracy
    return model_quality(seed=seed, model_id=plan.model_id, generation=generation)


def _final(plan: TrainingPlan, *, seed: int, generation: int) -> dict[str, Any]:
    quality = _quality(plan, seed=seed, generation=generation)
    rng = random.Random(f"{seed}:{plan.model_id}:{generation}:final")
    return metrics_data(labels=plan.labels, test_counts=plan.test_counts, quality=quality, rng=rng)


def render_metrics(plan: TrainingPlan, *, seed: int, generation: int) -> dict[str, Any]:
    """`GET /models/{id}`: the metrics of the model's `generation`-th successful training."""
    body: dict[str, Any] = {
        "id": plan.model_id,
        "object": "metrics",
        "createdAt": format_time(plan.ended_at),
        "language": plan.language,
        "metricsData": _final(plan, seed=seed, generation=generation),
    }
    if plan.algorithm is not None:
        body["algorithm"] = plan.algorithm
    return body


def learning_curve(
    plan: TrainingPlan, *, seed: int, generation: int, epochs_done: int, offset: int, count: int
) -> list[dict[str, Any]]:
    """One learningcurve object per epoch done, paged; the last epoch matches the metrics.

    `epochResults` is left out: it is documented as N/A for language models.
    """
    final_quality = _quality(plan, seed=seed, generation=generation)
    chance = 1 / max(1, len(plan.labels))
    points = []
    for epoch in range(offset + 1, min(epochs_done, offset + count) + 1):
        if epoch >= plan.last_epoch:
            data = _final(plan, seed=seed, generation=generation)
        else:
            # Accuracy climbs fast, then flattens toward the final value.
            climb = 1 - math.exp(-4 * epoch / plan.last_epoch)
            quality = chance + (final_quality - chance) * climb
            rng = random.Random(f"{seed}:{plan.model_id}:{generation}:{epoch}")
            data = metrics_data(
                labels=plan.labels, test_counts=plan.test_counts, quality=quality, rng=rng
            )
        points.append({"epoch": epoch, "metricsData": data, "object": "learningcurve"})
    return points
