"""The simulated Einstein Language service, without HTTP: datasets, models and their trainings.

Each operation takes what the request carried (form fields, path values, query) and returns
the JSON body to answer, or raises `ApiError`. The HTTP front in `simulator` stays a few lines
per route, and the rules here (one training per dataset, the word cap, 404s) are stated once.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.fakes.einstein.datasets import DEFAULT_LABELS, DatasetStore
from bot.fakes.einstein.metrics import learning_curve, render_metrics
from bot.fakes.einstein.objects import TrainParamsAs, render_model, render_training
from bot.fakes.einstein.requests import (
    MODEL_ID_PATTERN,
    ApiError,
    TrainRequest,
    parse_dataset_id,
    parse_model_id,
    parse_page,
    parse_train_request,
)
from bot.fakes.einstein.training import (
    OUTCOMES,
    Dataset,
    Script,
    TrainingPlan,
    plan_training,
    training_state,
)

__all__ = ["DEFAULT_LABELS", "LanguageService"]

_MAX_WORDS = 3_000_000
_LC_PAGE_MAX = 25
_MODELS_PAGE_MAX = 100
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@dataclass(slots=True)
class _Model:
    model_id: str
    dataset_id: int
    created_at: float
    plans: list[TrainingPlan]
    # 404s already served per training index, for scripted `metrics_not_found`.
    misses: dict[int, int] = field(default_factory=dict)


class LanguageService(DatasetStore):
    """Datasets, models and trainings, with the setup calls tests and the demo use."""

    def __init__(
        self,
        *,
        now: Callable[[], float],
        queue_seconds: float = 30.0,
        run_seconds: float = 150.0,
        seed: int = 0,
        train_params_as: TrainParamsAs = "string",
        train_stats_as: TrainParamsAs = "object",
        untrained_status: int = 404,
    ) -> None:
        self._queue_seconds = queue_seconds
        self._run_seconds = run_seconds
        self._seed = seed
        self._train_params_as: TrainParamsAs = train_params_as
        self._train_stats_as: TrainParamsAs = train_stats_as
        self._untrained_status = untrained_status
        super().__init__(now=now, ids=random.Random(f"{seed}:ids"))
        self._models: dict[str, _Model] = {}
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
        self._models[model_id] = _Model(model_id, dataset_id, created_at, [plan])
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

    # -- operations ---------------------------------------------------------------------------

    def train(self, form: Mapping[str, str]) -> dict[str, Any]:
        """`POST /v2/language/train`: a new model and its first training."""
        params = parse_train_request(form, new_model=True)
        # new_model=True parses both or refuses the request.
        assert params.dataset_id is not None
        assert params.name is not None
        dataset = self._dataset_or_404(params.dataset_id)
        algorithm = _algorithm(dataset, params.algorithm, default="intent")
        self._check_trainable(dataset)
        model_id = self._claim_model_id(None)
        plan = self._plan(
            model_id,
            dataset,
            params,
            name=params.name,
            algorithm=algorithm,
            script=self._next_script(model_id),
            created_at=self.now(),
        )
        self._models[model_id] = _Model(model_id, dataset.id, plan.created_at, [plan])
        return self._render_training(plan, plan.created_at)

    def retrain(self, form: Mapping[str, str]) -> dict[str, Any]:
        """`POST /v2/language/retrain`: a new training of an existing model, same model id."""
        model = self._model_or_404(parse_model_id(form.get("modelId")))
        params = parse_train_request(form, new_model=False)
        dataset = self._dataset_or_404(model.dataset_id)
        latest = model.plans[-1]
        algorithm = _algorithm(dataset, params.algorithm, default=latest.algorithm)
        self._check_trainable(dataset)
        plan = self._plan(
            model.model_id,
            dataset,
            params,
            name=latest.name,
            algorithm=algorithm,
            script=self._next_script(model.model_id),
            created_at=self.now(),
        )
        model.plans.append(plan)
        return self._render_training(plan, plan.created_at)

    def training(self, model_id: str) -> dict[str, Any]:
        """`GET /v2/language/train/{modelId}`: the model's latest training."""
        model = self._model_or_404(parse_model_id(model_id))
        return self._render_training(model.plans[-1], self.now())

    def metrics(self, model_id: str) -> dict[str, Any]:
        """`GET /v2/language/models/{modelId}`: metrics of the last successful training."""
        model = self._model_or_404(parse_model_id(model_id))
        now = self.now()
        successes = [
            i
            for i, plan in enumerate(model.plans)
            if training_state(plan, now).status == "SUCCEEDED"
        ]
        if not successes:
            raise ApiError(self._untrained_status, _untrained_message(model.model_id))
        index = successes[-1]
        plan = model.plans[index]
        served = model.misses.get(index, 0)
        if served < plan.metrics_not_found:
            model.misses[index] = served + 1
            raise ApiError(404, _model_not_found(model.model_id))
        return render_metrics(plan, seed=self._seed, generation=len(successes))

    def learning_curve(self, model_id: str, query: Mapping[str, str]) -> dict[str, Any]:
        """`GET /v2/language/models/{modelId}/lc`: the running training's, or the last success's."""
        model = self._model_or_404(parse_model_id(model_id))
        offset, count = parse_page(query, max_count=_LC_PAGE_MAX)
        now = self.now()
        states = [training_state(plan, now) for plan in model.plans]
        shown = [i for i, s in enumerate(states) if s.status in ("RUNNING", "SUCCEEDED")]
        if not shown:
            raise ApiError(self._untrained_status, _untrained_message(model.model_id))
        index = shown[-1]
        generation = 1 + sum(1 for s in states[:index] if s.status == "SUCCEEDED")
        points = learning_curve(
            model.plans[index],
            seed=self._seed,
            generation=generation,
            epochs_done=states[index].epochs_done,
            offset=offset,
            count=count,
        )
        return {"object": "list", "data": points}

    def dataset_models(self, dataset_id: str, query: Mapping[str, str]) -> dict[str, Any]:
        """`GET /v2/language/datasets/{datasetId}/models`, oldest model first."""
        dataset = self._dataset_or_404(parse_dataset_id(dataset_id))
        offset, count = parse_page(query, max_count=_MODELS_PAGE_MAX)
        now = self.now()
        models = [m for m in self._models.values() if m.dataset_id == dataset.id]
        page = models[offset : offset + count]
        data = [render_model(m.plans[-1], now, created_at=m.created_at) for m in page]
        return {"object": "list", "data": data}

    def feedback(self, form: Mapping[str, str]) -> dict[str, Any]:
        """`POST /v2/language/feedback`: a feedback example in the model's dataset."""
        model = self._model_or_404(parse_model_id(form.get("modelId")))
        store = self._examples[self._dataset_or_404(model.dataset_id).id]
        example = store.add(
            label=form.get("expectedLabel") or "",
            document=form.get("document") or "",
            name=form.get("name"),
            now=self.now(),
        )
        return store.render(example)

    # -- helpers ------------------------------------------------------------------------------

    def _render_training(self, plan: TrainingPlan, now: float) -> dict[str, Any]:
        return render_training(
            plan, now, train_params_as=self._train_params_as, train_stats_as=self._train_stats_as
        )

    def _model_or_404(self, model_id: str) -> _Model:
        model = self._models.get(model_id)
        if model is None:
            raise ApiError(404, _model_not_found(model_id))
        return model

    def _check_trainable(self, dataset: Dataset) -> None:
        if not dataset.available:
            raise ApiError(
                400,
                "The dataset is not yet available for training, "
                "try again once the dataset is ready.",
            )
        if dataset.words > _MAX_WORDS:
            raise ApiError(
                400,
                f"The dataset has {dataset.words:,} words; training accepts at most "
                f"{_MAX_WORDS:,} words across all examples.",
            )
        now = self.now()
        for model in self._models.values():
            if model.dataset_id == dataset.id and training_state(model.plans[-1], now).active:
                raise ApiError(
                    400,
                    f"The dataset is currently being trained (model {model.model_id}). "
                    "Only one training per dataset can be queued or running at a time.",
                )

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


def _algorithm(dataset: Dataset, requested: str | None, *, default: str | None) -> str | None:
    if dataset.model_type != "text-intent":
        if requested is not None:
            raise ApiError(400, "algorithm applies to text-intent datasets only")
        return None
    return requested or default or "intent"


def _model_not_found(model_id: str) -> str:
    return f"Model not found: {model_id}"


def _untrained_message(model_id: str) -> str:
    return f"Model {model_id} has no metrics yet: none of its trainings has succeeded"
