"""The simulator's answers as JSON: the training, model and dataset objects of the API. Pure.

What the objects say is read from `training_state` at the moment asked; timestamps and
durations are written the way Einstein writes them.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any, Literal

from bot.fakes.einstein.training import Dataset, TrainingPlan, TrainingState, training_state

__all__ = [
    "TrainParamsAs",
    "format_duration",
    "format_time",
    "render_api_usage",
    "render_dataset",
    "render_model",
    "render_training",
]

TrainParamsAs = Literal["string", "object"]


def render_training(
    plan: TrainingPlan,
    now: float,
    *,
    train_params_as: TrainParamsAs = "string",
    train_stats_as: TrainParamsAs = "object",
) -> dict[str, Any]:
    """The training object of train, retrain and training status.

    `trainParams` and `trainStats` are written as JSON strings (the spec's type) or objects.
    """
    state = training_state(plan, now)
    queued = state.status == "QUEUED"
    body: dict[str, Any] = {
        "datasetId": plan.dataset_id,
        "datasetVersionId": 0 if queued else plan.dataset_version_id,
        "name": plan.name,
        "status": state.status,
        "progress": state.progress,
        "createdAt": format_time(plan.created_at),
        "updatedAt": format_time(state.updated_at),
        "learningRate": 0.0,  # documented N/A for language; observed as 0
        "epochs": (plan.requested_epochs or 0) if queued else plan.epochs,
        "object": "training",
        "modelId": plan.model_id,
        "trainParams": _train_params(plan.train_params, train_params_as),
        "trainStats": _as(_train_stats(plan, state), train_stats_as),
        "modelType": plan.model_type,
        "language": plan.language,
    }
    if plan.algorithm is not None:
        body["algorithm"] = plan.algorithm
    if queued:
        body["queuePosition"] = state.queue_position
    if not state.active:
        body["earlyStopping"] = _early_stopping(plan, state)
        body["lastEpochDone"] = state.epochs_done
        # Spec and docs: `failureMsg` is "returned only if the training status is FAILED";
        # a KILLED or FAILED_WITH_RETRIES training says nothing more than its status.
        if plan.failure_msg is not None and state.status == "FAILED":
            body["failureMsg"] = plan.failure_msg
    return body


def _train_params(raw: str | None, as_: TrainParamsAs) -> Any:
    if raw is None or as_ == "string":
        return raw
    return json.loads(raw)


def _as(value: dict[str, Any] | None, as_: TrainParamsAs) -> Any:
    if value is None or as_ == "object":
        return value
    return json.dumps(value, separators=(",", ":"))


def _early_stopping(plan: TrainingPlan, state: TrainingState) -> bool:
    return state.status == "SUCCEEDED" and plan.last_epoch < plan.epochs


def _train_stats(plan: TrainingPlan, state: TrainingState) -> dict[str, Any] | None:
    # The spec returns statistics for SUCCEEDED and FAILED only; KILLED and
    # FAILED_WITH_RETRIES are left without, which a client must tolerate either way.
    if state.status not in ("SUCCEEDED", "FAILED"):
        return None
    save = plan.save_seconds if state.status == "SUCCEEDED" else 0.0
    total = plan.run_seconds
    test_size = sum(plan.test_counts)
    return {
        "labels": len(plan.labels),
        "examples": plan.examples,
        "totalTime": format_duration(total),
        "transforms": None,
        "trainingTime": format_duration(max(0.0, total - plan.load_seconds - save)),
        "earlyStopping": _early_stopping(plan, state),
        "lastEpochDone": state.epochs_done,
        "modelSaveTime": format_duration(save),
        "testSplitSize": test_size,
        "trainSplitSize": plan.examples - test_size,
        "datasetLoadTime": format_duration(plan.load_seconds),
        "preProcessStats": None,
        "postProcessStats": None,
    }


def render_model(plan: TrainingPlan, now: float, *, created_at: float) -> dict[str, Any]:
    """A model object of `GET /datasets/{id}/models`: the model as its latest training left it."""
    state = training_state(plan, now)
    body: dict[str, Any] = {
        "datasetId": plan.dataset_id,
        "datasetVersionId": 0 if state.status == "QUEUED" else plan.dataset_version_id,
        "name": plan.name,
        "status": state.status,
        "progress": state.progress,
        "createdAt": format_time(created_at),
        "updatedAt": format_time(state.updated_at),
        "object": "model",
        "modelId": plan.model_id,
        "modelType": plan.model_type,
        "language": plan.language,
    }
    if plan.algorithm is not None:
        body["algorithm"] = plan.algorithm
    if state.status == "FAILED" and plan.failure_msg is not None:
        body["failureMsg"] = plan.failure_msg
    return body


def render_dataset(dataset: Dataset, *, updated_at: float) -> dict[str, Any]:
    """The dataset object; its counts include the feedback examples added to it."""
    feedback = dataset.feedback_label_examples or (0,) * len(dataset.labels)
    counts = [n + f for n, f in zip(dataset.label_examples, feedback, strict=True)]
    labels = [
        {"id": dataset.id * 10 + i, "datasetId": dataset.id, "name": name, "numExamples": count}
        for i, (name, count) in enumerate(zip(dataset.labels, counts, strict=True))
    ]
    return {
        "id": dataset.id,
        "name": dataset.name,
        "createdAt": format_time(dataset.created_at),
        "updatedAt": format_time(updated_at),
        "labelSummary": {"labels": labels},
        "totalExamples": sum(counts),
        "totalLabels": len(dataset.labels),
        "available": dataset.available,
        "statusMsg": "SUCCEEDED" if dataset.available else "UPLOADING",
        "type": dataset.model_type,
        "language": dataset.language,
        "numOfDuplicates": 0,
        "object": "dataset",
    }


def format_time(seconds: float) -> str:
    """Einstein's timestamps: whole seconds, `.000` millis and a `+0000` offset without colon."""
    moment = datetime.fromtimestamp(math.floor(seconds), tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def format_duration(seconds: float) -> str:
    """trainStats durations: `HH:MM:SS:mmm`."""
    millis = round(max(0.0, seconds) * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}:{millis:03d}"


def render_api_usage(now: float) -> dict[str, Any]:
    """`GET v2/apiusage`: one month of the free plan (2,000 predictions), none used."""
    moment = datetime.fromtimestamp(math.floor(now), tz=UTC)
    start = moment.replace(day=1, hour=0, minute=0, second=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return {
        "object": "list",
        "data": [
            {
                "id": "1",
                "object": "apiusage",
                "organizationId": "108",
                "licenseId": "simulator",
                "startsAt": format_time(start.timestamp()),
                "endsAt": format_time(end.timestamp()),
                "planData": [{"plan": "STARTER", "amount": 1, "source": "HEROKU"}],
                "predictionsMax": 2000,
                "predictionsUsed": 0,
            }
        ],
    }
