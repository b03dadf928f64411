"""The simulator's datasets and their examples: set up by tests, served as the API shows them.

`ModelStore` (`bot.fakes.einstein.models`) builds on this store with the models and their
trainings, and `LanguageService` on that with the API's calls.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.fakes.einstein.feedback import DatasetExamples
from bot.fakes.einstein.objects import render_dataset
from bot.fakes.einstein.requests import ApiError, parse_dataset_id, parse_page
from bot.fakes.einstein.training import Dataset, spread

__all__ = ["DEFAULT_LABELS", "DatasetStore"]

DEFAULT_LABELS = ("billing", "shipping", "returns", "other")
_WORDS_PER_EXAMPLE = 12
_EXAMPLES_PAGE_MAX = 100


class DatasetStore:
    """Datasets by id, each with its examples (`feedback.DatasetExamples`)."""

    def __init__(self, *, now: Callable[[], float], ids: random.Random) -> None:
        self._now = now
        self._ids = ids
        self._datasets: dict[int, Dataset] = {}
        self._examples: dict[int, DatasetExamples] = {}
        self._next_dataset_id = 1_040_000 + self._ids.randrange(10_000)

    def now(self) -> float:
        """Simulated time, in epoch seconds."""
        return self._now()

    def add_dataset(
        self,
        dataset_id: int | None = None,
        *,
        name: str = "Support requests",
        labels: Sequence[str] = DEFAULT_LABELS,
        examples: int = 150,
        words: int | None = None,
        feedback_examples: int = 0,
        model_type: str = "text-intent",
        language: str = "en_US",
        available: bool = True,
    ) -> int:
        """A dataset ready to train (unless `available=False`); returns its id.

        `feedback_examples` are added as feedback, spread over the labels like the examples.
        """
        if dataset_id is None:
            dataset_id = self._new_dataset_id()
        elif dataset_id in self._datasets:
            raise ValueError(f"dataset {dataset_id} exists already")
        if not labels or examples < len(labels):
            raise ValueError("a dataset needs labels and at least one example per label")
        # Uneven label sizes, as real datasets have, with at least one example each.
        weights = [self._ids.randint(8, 12) for _ in labels]
        counts = [n + 1 for n in spread(examples - len(labels), weights)]
        dataset = self._datasets[dataset_id] = Dataset(
            id=dataset_id,
            name=name,
            labels=tuple(labels),
            label_examples=tuple(counts),
            words=words if words is not None else examples * _WORDS_PER_EXAMPLE,
            feedback_examples=0,  # counted from the feedback examples added below
            model_type=model_type,
            language=language,
            available=available,
            created_at=self.now() - 86_400,
        )
        store = self._examples[dataset_id] = DatasetExamples(dataset)
        for label, n in zip(labels, spread(feedback_examples, counts), strict=True):
            for _ in range(n):
                store.add(label=label, document=f"a {label} request", name=None, now=self.now())
        return dataset_id

    def feedback_count(self, dataset_id: int) -> int:
        """How many feedback examples the dataset has."""
        return len(self._examples[dataset_id].feedback)

    # -- operations ---------------------------------------------------------------------------

    def dataset(self, dataset_id: str) -> dict[str, Any]:
        """`GET /v2/language/datasets/{datasetId}`."""
        dataset = self._dataset_or_404(parse_dataset_id(dataset_id))
        store = self._examples[dataset.id]
        updated = max([dataset.created_at] + [e.created_at for e in store.feedback])
        return render_dataset(dataset, updated_at=updated)

    def examples(self, dataset_id: str, query: Mapping[str, str]) -> dict[str, Any]:
        """`GET /v2/language/datasets/{datasetId}/examples`, `source` all, feedback or upload."""
        dataset = self._dataset_or_404(parse_dataset_id(dataset_id))
        offset, count = parse_page(query, max_count=_EXAMPLES_PAGE_MAX)
        data = self._examples[dataset.id].page(query, offset=offset, count=count)
        return {"object": "list", "data": data}

    # -- helpers ------------------------------------------------------------------------------

    def _dataset_or_404(self, dataset_id: int) -> Dataset:
        dataset = self._datasets.get(dataset_id)
        if dataset is None:
            raise ApiError(404, f"Dataset not found: {dataset_id}")
        # With the feedback examples added so far.
        counts = self._examples[dataset_id].label_counts()
        return dataclasses.replace(
            dataset, feedback_examples=sum(counts), feedback_label_examples=counts
        )

    def _new_dataset_id(self) -> int:
        while self._next_dataset_id in self._datasets:
            self._next_dataset_id += 1
        self._next_dataset_id += 1
        return self._next_dataset_id - 1
