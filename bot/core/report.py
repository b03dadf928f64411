"""The success report: Einstein's final training object and the model's metrics, condensed."""

from __future__ import annotations

from typing import Any

from bot.core.jobs import LabelScore, Result
from bot.einstein.models import Metrics, Training

__all__ = ["summarize_result"]


def summarize_result(
    training: Training,
    metrics: Metrics | None,
    *,
    metrics_error: str | None = None,
    comparison: dict[str, Any] | None = None,
) -> Result:
    """Condense the final training object and the model's metrics into the success report."""
    stats = training.train_stats
    data = metrics.metrics_data if metrics else None
    weakest: tuple[LabelScore, ...] = ()
    if data is not None:
        scores = sorted(data.label_f1().items(), key=lambda item: (item[1], item[0]))
        weakest = tuple(LabelScore(label, f1) for label, f1 in scores[:3])
    return Result(
        test_accuracy=data.test_accuracy if data else None,
        macro_f1=data.effective_macro_f1 if data else None,
        weakest=weakest,
        labels=stats.labels if stats else None,
        examples=stats.examples if stats else None,
        train_split_size=stats.train_split_size if stats else None,
        test_split_size=stats.test_split_size if stats else None,
        epochs_done=training.epochs_done,
        epochs=training.epochs,
        early_stopping=(
            training.early_stopping
            if training.early_stopping is not None
            else (stats.early_stopping if stats else None)
        ),
        training_time=(stats.training_time or stats.total_time) if stats else None,
        metrics_error=metrics_error,
        comparison=comparison,
    )
