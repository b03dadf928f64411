"""Pydantic models of the Einstein payloads the bot reads.

They are tolerant on purpose: the live service adds fields, omits documented ones, sends
`trainParams` and `trainStats` either as a JSON string (the spec's type) or as an object
(what the docs show) and writes timestamps as
`2017-08-18T21:39:53.000+0000`. Unknown fields are ignored, absent ones default to None.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "FAILED_STATUSES",
    "TERMINAL_STATUSES",
    "ApiUsage",
    "Dataset",
    "DatasetLabel",
    "EpochMetrics",
    "Example",
    "LearningCurvePoint",
    "Metrics",
    "MetricsData",
    "PrecisionRecallCurve",
    "TokenResponse",
    "TrainParams",
    "TrainStats",
    "Training",
    "parse_einstein_time",
]

FAILED_STATUSES = frozenset({"FAILED", "KILLED", "FAILED_WITH_RETRIES"})
TERMINAL_STATUSES = FAILED_STATUSES | {"SUCCEEDED"}


def parse_einstein_time(value: Any) -> Any:
    """Einstein writes `+0000` offsets without a colon, which pydantic's ISO parser refuses;
    Python's own ISO parser reads it (and is ~50x faster than strptime, on every poll)."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return value
        # A time without an offset is read as UTC, so it compares with the bot's own times.
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class TrainParams(_Wire):
    train_split_ratio: float | None = Field(default=None, alias="trainSplitRatio")
    with_feedback: bool | None = Field(default=None, alias="withFeedback")
    with_global_dataset_id: int | None = Field(default=None, alias="withGlobalDatasetId")


class TrainStats(_Wire):
    labels: int | None = None
    examples: int | None = None
    total_time: str | None = Field(default=None, alias="totalTime")
    training_time: str | None = Field(default=None, alias="trainingTime")
    dataset_load_time: str | None = Field(default=None, alias="datasetLoadTime")
    model_save_time: str | None = Field(default=None, alias="modelSaveTime")
    early_stopping: bool | None = Field(default=None, alias="earlyStopping")
    last_epoch_done: int | None = Field(default=None, alias="lastEpochDone")
    test_split_size: int | None = Field(default=None, alias="testSplitSize")
    train_split_size: int | None = Field(default=None, alias="trainSplitSize")


class Training(_Wire):
    """The training object returned by train, retrain and training status."""

    model_id: str = Field(alias="modelId")
    status: str
    progress: float = 0.0
    dataset_id: int | None = Field(default=None, alias="datasetId")
    dataset_version_id: int | None = Field(default=None, alias="datasetVersionId")
    name: str | None = None
    model_type: str | None = Field(default=None, alias="modelType")
    algorithm: str | None = None
    language: str | None = None
    epochs: int | None = None
    learning_rate: float | None = Field(default=None, alias="learningRate")
    queue_position: int | None = Field(default=None, alias="queuePosition")
    failure_msg: str | None = Field(default=None, alias="failureMsg")
    early_stopping: bool | None = Field(default=None, alias="earlyStopping")
    last_epoch_done: int | None = Field(default=None, alias="lastEpochDone")
    created_at: datetime | None = Field(default=None, alias="createdAt")
    updated_at: datetime | None = Field(default=None, alias="updatedAt")
    train_params: TrainParams | None = Field(default=None, alias="trainParams")
    train_stats: TrainStats | None = Field(default=None, alias="trainStats")

    _times = field_validator("created_at", "updated_at", mode="before")(parse_einstein_time)

    @field_validator("status", mode="before")
    @classmethod
    def _upper_status(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("progress", mode="before")
    @classmethod
    def _progress_or_zero(cls, value: Any) -> Any:
        return 0.0 if value is None else value

    @field_validator("train_params", "train_stats", mode="before")
    @classmethod
    def _object_from_string(cls, value: Any) -> Any:
        # The spec types both as strings holding JSON; the live service and the docs show
        # objects. Either is read; an unreadable string counts as absent, not as an error.
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return json.loads(value)
            except ValueError:
                return None
        return value

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def is_failed(self) -> bool:
        return self.status in FAILED_STATUSES

    @property
    def epochs_done(self) -> int | None:
        if self.last_epoch_done is not None:
            return self.last_epoch_done
        return self.train_stats.last_epoch_done if self.train_stats else None


class PrecisionRecallCurve(_Wire):
    """Precision, recall and F1 over all labels at each probability threshold.

    The docs name the object but not its keys; these are the simulator's, and any other shape
    is read as an empty curve rather than refused.
    """

    threshold: list[float] = Field(default_factory=list)
    precision: list[float] = Field(default_factory=list)
    recall: list[float] = Field(default_factory=list)
    f1: list[float] = Field(default_factory=list)


class MetricsData(_Wire):
    labels: list[str] = Field(default_factory=list)
    f1: list[float] = Field(default_factory=list)
    precision: list[float] = Field(default_factory=list)
    recall: list[float] = Field(default_factory=list)
    macro_f1: float | None = Field(default=None, alias="macroF1")
    test_accuracy: float | None = Field(default=None, alias="testAccuracy")
    test_loss: float | None = Field(default=None, alias="testLoss")
    training_accuracy: float | None = Field(default=None, alias="trainingAccuracy")
    training_loss: float | None = Field(default=None, alias="trainingLoss")
    confusion_matrix: list[list[int]] = Field(default_factory=list, alias="confusionMatrix")
    precision_recall_curve: PrecisionRecallCurve | None = Field(
        default=None, alias="precisionRecallCurve"
    )

    @field_validator("precision_recall_curve", mode="before")
    @classmethod
    def _curve_or_none(cls, value: Any) -> Any:
        # A field nothing in the bot depends on must not make a whole metrics answer unreadable.
        if not isinstance(value, dict):
            return None
        try:
            return PrecisionRecallCurve.model_validate(value)
        except ValueError:
            return None

    @property
    def effective_macro_f1(self) -> float | None:
        if self.macro_f1 is not None:
            return self.macro_f1
        return sum(self.f1) / len(self.f1) if self.f1 else None

    def label_f1(self) -> dict[str, float]:
        return dict(zip(self.labels, self.f1, strict=False))


class Metrics(_Wire):
    """`GET /v2/language/models/{modelId}`: the model's metrics at its last epoch."""

    id: str
    algorithm: str | None = None
    language: str | None = None
    created_at: datetime | None = Field(default=None, alias="createdAt")
    metrics_data: MetricsData = Field(default_factory=MetricsData, alias="metricsData")

    _times = field_validator("created_at", mode="before")(parse_einstein_time)


class EpochMetrics(_Wire):
    """What the bot reads of one epoch in a learning curve: accuracy and loss, test and training.

    Einstein sends each epoch's whole metrics (per-label scores, the confusion matrix, the
    precision-recall curve), dozens of epochs to a curve. Reading only what the picture draws
    takes a quarter of the time (55 epochs of four labels: 0.08 against 0.31 ms).
    """

    test_accuracy: float | None = Field(default=None, alias="testAccuracy")
    test_loss: float | None = Field(default=None, alias="testLoss")
    training_accuracy: float | None = Field(default=None, alias="trainingAccuracy")
    training_loss: float | None = Field(default=None, alias="trainingLoss")


class LearningCurvePoint(_Wire):
    epoch: int
    metrics_data: EpochMetrics = Field(default_factory=EpochMetrics, alias="metricsData")


class DatasetLabel(_Wire):
    id: int | None = None
    dataset_id: int | None = Field(default=None, alias="datasetId")
    name: str
    num_examples: int | None = Field(default=None, alias="numExamples")


class LabelSummary(_Wire):
    labels: list[DatasetLabel] = Field(default_factory=list)


class Dataset(_Wire):
    """`GET /v2/language/datasets/{datasetId}`: a dataset and its labels."""

    id: int
    name: str | None = None
    type: str | None = None
    language: str | None = None
    available: bool | None = None
    status_msg: str | None = Field(default=None, alias="statusMsg")
    total_examples: int | None = Field(default=None, alias="totalExamples")
    total_labels: int | None = Field(default=None, alias="totalLabels")
    label_summary: LabelSummary = Field(default_factory=LabelSummary, alias="labelSummary")
    created_at: datetime | None = Field(default=None, alias="createdAt")
    updated_at: datetime | None = Field(default=None, alias="updatedAt")

    _times = field_validator("created_at", "updated_at", mode="before")(parse_einstein_time)

    @property
    def labels(self) -> list[str]:
        """The label names, in Einstein's order."""
        return [label.name for label in self.label_summary.labels]


class Example(_Wire):
    """An example of a dataset, as `GET .../examples` and `POST /v2/language/feedback` give it."""

    id: int
    name: str | None = None
    label: DatasetLabel | None = None
    created_at: datetime | None = Field(default=None, alias="createdAt")

    _times = field_validator("created_at", mode="before")(parse_einstein_time)


class ApiUsage(_Wire):
    """One month of the account's plan (`GET v2/apiusage`): predictions allowed and used."""

    predictions_max: int | None = Field(default=None, alias="predictionsMax")
    predictions_used: int | None = Field(default=None, alias="predictionsUsed")


class TokenResponse(_Wire):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    # The docs type it as an integer, the spec's example is the string "120": accept both.
    expires_in: float = 60.0
