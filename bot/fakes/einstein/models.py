"""The simulator's models and the plans of their trainings, with the scripts of trainings to come.

`LanguageService` builds on this store and answers the API's calls; the datasets the models
are trained on are `DatasetStore`'s.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.fakes.einstein.datasets import DEFAULT_LABELS, DatasetStore
from bot.fakes.einstein.requests import MODEL_ID_PATTERN, ApiError, TrainRequest
from bot.fakes.einstein.training import (
    OUTCOMES,
    Dataset,
    Script,
    TrainingPlan,
    plan_training,
)

__all__ = ["Model", "ModelStore", "model_not_found"]

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@dataclass(slots=True)
class Model:
    """One model: the dataset it is trained on and the plan of each training, oldest first."""

    model_id: str
    dataset_id: int
    created_at: float
    plans: list[TrainingPlan]
    # 404s already served per training index, for scripted `metrics_not_found`.
    misses: dict[int, int] = field(default_factory=dict)


class ModelStore(DatasetStore):
    """Models by id, each with the plans of its trainings, and the setup calls tests use."""

    def __init__(
        self,
        *,
        now: Callable[[], float],
        queue_seconds: float,
        run_seconds: float,
        seed: int,
    ) -> None:
        self._queue_seconds = queue_seconds
        self._run_seconds = run_seconds
        self._seed = seed
        super().__init__(now=now, ids=random.Random(f"{seed}:ids"))
        self._models: dict[str, Model] = {}
        self._scripts: dict[str | None, deque[Script]] = {}
        self._next_version_id = 20_000 + self._ids.randrange(10_000)

    # -- setup --------------------------------------------------------------------------------

    def add_feedback(
        self,
        model_id: str,
        label: str | None = None,
        *,
        count: int = 1,
        document: str = "a message the model misclassified",
    ) -> None:
        """Add `count` feedback examples to the dataset of `model_id`, as `POST /feedback` would;
        `label=None` takes the dataset's labels in turn."""
        store = self._examples[self._model_or_404(model_id).dataset_id]
        labels = store.dataset.labels
        for i in range(count):
            chosen = label if label is not None else labels[i % len(labels)]
            store.add(label=chosen, document=document, name=None, now=self.now())

    def add_model(
        self,
        model_id: str | None = None,
        *,
        dataset_id: int | None = None,
        name: str | None = None,
        labels: Sequence[str] = DEFAULT_LABELS,
        examples: int = 150,
        words: int | None = None,
        algorithm: str = "intent",
        trained: bool = True,
    ) -> str:
        """A model of `dataset_id` (created with `labels`/`examples`/`words` if unknown).

        `trained=True`: its first training succeeded an hour ago, so it has metrics.
        `trained=False`: its first training starts now, as `POST /train` would start it.
        """
        model_id = self._claim_model_id(model_id)
        if dataset_id is None or dataset_id not in self._datasets:
            dataset_id = self.add_dataset(dataset_id, labels=labels, examples=examples, words=words)
        dataset = self._datasets[dataset_id]
        if trained:
            script = Script()
            created_at = self.now() - 3600 - self._queue_seconds - self._run_seconds
        else:
            script = self._next_script(model_id)
            created_at = self.now()
        plan = self._plan(
            model_id,
            dataset,
            TrainRequest(),
            name=name or f"{dataset.name} model",
            algorithm=algorithm if dataset.model_type == "text-intent" else None,
            script=script,
            created_at=created_at,
        )
        self._models[model_id] = Model(model_id, dataset_id, created_at, [plan])
        return model_id

    def script(
        self,
        model_id: str | None,
        *,
        outcome: str = "SUCCEEDED",
        failure_msg: str | None = None,
        queue_seconds: float | None = None,
        run_seconds: float | None = None,
        epochs: int | None = None,
        early_stop_at: int | None = None,
        stall: bool = False,
        metrics_not_found: int = 0,
        accuracy: float | None = None,
    ) -> None:
        """Decide how the next training of `model_id` goes (`None`: of any unscripted model).

        Scripts queue up: a second call scripts the training after that. `epochs` is what the
        service reports it resolved to (run in full), `early_stop_at` the last epoch run (else
        a training stops early once its model stops improving, at epoch 30 to 80), `stall` keeps the
        training RUNNING forever, `metrics_not_found` answers 404 to that many metrics calls
        right after the training succeeded, as the live service sometimes does; `accuracy`
        is the test accuracy its metrics aim at (0 to 1), to script a better or worse model.
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        if accuracy is not None and not 0 <= accuracy <= 1:
            raise ValueError("accuracy must be between 0 and 1")
        if failure_msg is not None and outcome != "FAILED":
            # Einstein returns failureMsg only with FAILED (spec and docs).
            raise ValueError("failure_msg goes with outcome FAILED only")
        scripted = Script(
            outcome=outcome,
            failure_msg=failure_msg,
            queue_seconds=queue_seconds,
            run_seconds=run_seconds,
            epochs=epochs,
            early_stop_at=early_stop_at,
            stall=stall,
            metrics_not_found=metrics_not_found,
            accuracy=accuracy,
        )
        self._scripts.setdefault(model_id, deque()).append(scripted)

    def new_model_id(self) -> str:
        """A model ID no model has yet, to script a model before it is added."""
        return self._claim_model_id(None)

    def forget(self, model_id: str) -> None:
        """Delete a model: every later call about it answers 404."""
        if self._models.pop(model_id, None) is None:
            raise KeyError(model_id)

    # -- helpers ------------------------------------------------------------------------------

    def _model_or_404(self, model_id: str) -> Model:
        model = self._models.get(model_id)
        if model is None:
            raise ApiError(404, model_not_found(model_id))
        return model

    def _plan(
        self,
        model_id: str,
        dataset: Dataset,
        params: TrainRequest,
        *,
        name: str,
        algorithm: str | None,
        script: Script,
        created_at: float,
    ) -> TrainingPlan:
        version_id = self._next_version_id
        self._next_version_id += 1
        existing = self._models.get(model_id)
        # One generator per (model, training): one model's activity never shifts another's.
        index = len(existing.plans) if existing else 0
        return plan_training(
            model_id=model_id,
            dataset=dataset,
            name=name,
            algorithm=algorithm,
            requested_epochs=params.epochs,
            train_params=params.train_params,
            split_ratio=params.split_ratio,
            with_feedback=params.with_feedback,
            script=script,
            queue_seconds=self._queue_seconds,
            run_seconds=self._run_seconds,
            created_at=created_at,
            version_id=version_id,
            rng=random.Random(f"{self._seed}:{model_id}:{index}"),
        )

    def _next_script(self, model_id: str) -> Script:
        for key in (model_id, None):
            queue = self._scripts.get(key)
            if queue:
                return queue.popleft()
        return Script()

    def _claim_model_id(self, model_id: str | None) -> str:
        if model_id is None:
            while model_id is None or model_id in self._models:
                model_id = "".join(self._ids.choices(_ID_ALPHABET, k=26))
            return model_id
        if not MODEL_ID_PATTERN.fullmatch(model_id):
            raise ValueError(f"model id {model_id!r} is not 26 characters from A-Z and 2-7")
        if model_id in self._models:
            raise ValueError(f"model {model_id} exists already")
        return model_id


def model_not_found(model_id: str) -> str:
    return f"Model not found: {model_id}"
