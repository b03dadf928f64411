"""Examples of the simulator's datasets: the uploaded ones, and feedback added later.

Uploaded examples are not stored: example `i` of a dataset is derived from its index, so a
dataset of a million examples costs nothing until a page of them is asked for. Feedback
examples (`POST /v2/language/feedback`, or `add_feedback` in tests) are stored in the order
added, after the uploaded ones. `GET /datasets/{id}/examples` pages through both, or through
one `source`; a retrain with `withFeedback` trains on the feedback examples too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.fakes.einstein.objects import format_time
from bot.fakes.einstein.requests import ApiError
from bot.fakes.einstein.training import Dataset

__all__ = ["EXAMPLE_SOURCES", "MAX_EXAMPLE_NAME", "DatasetExamples", "FeedbackExample"]

EXAMPLE_SOURCES = ("all", "feedback", "upload")
MAX_EXAMPLE_NAME = 180
# Example ids: uploaded ones from dataset id x 10^7, feedback from halfway up that range.
_IDS_PER_DATASET = 10_000_000


@dataclass(frozen=True, slots=True)
class FeedbackExample:
    id: int
    name: str
    label: str
    document: str
    created_at: float


@dataclass(slots=True)
class DatasetExamples:
    """One dataset's feedback examples, and the pages of its examples the API shows."""

    dataset: Dataset
    feedback: list[FeedbackExample] = field(default_factory=list)

    def label_counts(self) -> tuple[int, ...]:
        """Feedback examples per label, in the dataset's label order."""
        counts = dict.fromkeys(self.dataset.labels, 0)
        for example in self.feedback:
            counts[example.label] += 1
        return tuple(counts.values())

    def add(self, *, label: str, document: str, name: str | None, now: float) -> FeedbackExample:
        """A feedback example, checked as Einstein checks one."""
        if not document.strip():
            raise ApiError(400, "document is required")
        if not label.strip():
            raise ApiError(400, "expectedLabel is required")
        if label not in self.dataset.labels:
            raise ApiError(
                400,
                f"Invalid expectedLabel '{label}': the label does not exist in dataset "
                f"{self.dataset.id}. Valid labels are: {', '.join(self.dataset.labels)}",
            )
        if name is not None and len(name) > MAX_EXAMPLE_NAME:
            raise ApiError(400, f"name must be at most {MAX_EXAMPLE_NAME} characters")
        example_id = self._first_feedback_id() + len(self.feedback)
        example = FeedbackExample(
            id=example_id,
            name=name or f"feedback-{len(self.feedback) + 1}",
            label=label,
            document=document,
            created_at=now,
        )
        self.feedback.append(example)
        return example

    def page(self, query: Mapping[str, str], *, offset: int, count: int) -> list[dict[str, Any]]:
        """A page of `GET /datasets/{id}/examples`: uploaded examples first, then feedback."""
        source = query.get("source") or "all"
        if source not in EXAMPLE_SOURCES:
            raise ApiError(
                400, f"Invalid source '{source}'. Valid values are: {', '.join(EXAMPLE_SOURCES)}"
            )
        uploaded = 0 if source == "feedback" else self.dataset.examples
        feedback = 0 if source == "upload" else len(self.feedback)
        shown = range(offset, min(offset + count, uploaded + feedback))
        return [
            self._uploaded(i) if i < uploaded else self.render(self.feedback[i - uploaded])
            for i in shown
        ]

    def render(self, example: FeedbackExample) -> dict[str, Any]:
        """The example object (the spec's `Example`) of a feedback example."""
        return {
            "id": example.id,
            "name": example.name,
            "createdAt": format_time(example.created_at),
            "label": self._label(self.dataset.labels.index(example.label)),
            "object": "example",
        }

    def _uploaded(self, index: int) -> dict[str, Any]:
        # Label i holds the next label_examples[i] examples, in label order.
        label, first = 0, 0
        while index >= first + self.dataset.label_examples[label]:
            first += self.dataset.label_examples[label]
            label += 1
        return {
            "id": self.dataset.id * _IDS_PER_DATASET + index,
            "name": f"example-{index + 1}",
            "createdAt": format_time(self.dataset.created_at),
            "label": self._label(label),
            "object": "example",
        }

    def _label(self, index: int) -> dict[str, Any]:
        feedback = self.label_counts()[index]
        return {
            "id": self.dataset.id * 10 + index,
            "datasetId": self.dataset.id,
            "name": self.dataset.labels[index],
            "numExamples": self.dataset.label_examples[index] + feedback,
        }

    def _first_feedback_id(self) -> int:
        return self.dataset.id * _IDS_PER_DATASET + _IDS_PER_DATASET // 2
