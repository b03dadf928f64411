"""The simulated Einstein Language service, without HTTP: datasets, models and their trainings.

Each operation takes what the request carried (form fields, path values, query) and returns
the JSON body to answer, or raises `ApiError`. The HTTP front in `simulator` stays a few lines
per route, and the rules here (one training per dataset, the word cap, 404s) are stated once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.fakes.einstein.datasets import DEFAULT_LABELS
from bot.fakes.einstein.metrics import learning_curve, render_metrics
from bot.fakes.einstein.models import Model, ModelStore, model_not_found
from bot.fakes.einstein.objects import TrainParamsAs, render_model, render_training
from bot.fakes.einstein.requests import (
    ApiError,
    parse_dataset_id,
    parse_model_id,
    parse_page,
    parse_train_request,
)
from bot.fakes.einstein.training import Dataset, TrainingPlan, training_state

__all__ = ["DEFAULT_LABELS", "LanguageService"]

_MAX_WORDS = 3_000_000
_LC_PAGE_MAX = 25
_MODELS_PAGE_MAX = 100


class LanguageService(ModelStore):
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
        self._train_params_as: TrainParamsAs = train_params_as
        self._train_stats_as: TrainParamsAs = train_stats_as
        self._untrained_status = untrained_status
        super().__init__(now=now, queue_seconds=queue_seconds, run_seconds=run_seconds, seed=seed)

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
        self._models[model_id] = Model(model_id, dataset.id, plan.created_at, [plan])
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
            raise ApiError(404, model_not_found(model.model_id))
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


def _algorithm(dataset: Dataset, requested: str | None, *, default: str | None) -> str | None:
    if dataset.model_type != "text-intent":
        if requested is not None:
            raise ApiError(400, "algorithm applies to text-intent datasets only")
        return None
    return requested or default or "intent"


def _untrained_message(model_id: str) -> str:
    return f"Model {model_id} has no metrics yet: none of its trainings has succeeded"
