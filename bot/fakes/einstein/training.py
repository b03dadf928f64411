"""The simulator's pure core: a training's plan and what the API reports about it at any moment.

A training is planned once, when the simulator accepts it. Status, progress, queue position,
epochs and statistics are then a function of (plan, simulated time), with no clock and no I/O,
so the state machine is tested directly and the server stays a thin layer around it (`objects`
writes what it reports as the API's JSON):

    QUEUED --queue_seconds--> RUNNING --run_seconds--> SUCCEEDED
                                 |                  `-> FAILED | KILLED | FAILED_WITH_RETRIES
                                 `- stall: stays RUNNING halfway, progress frozen
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ACTIVE_STATUSES",
    "OUTCOMES",
    "Dataset",
    "Script",
    "TrainingPlan",
    "TrainingState",
    "plan_training",
    "spread",
    "training_state",
]

OUTCOMES = ("SUCCEEDED", "FAILED", "KILLED", "FAILED_WITH_RETRIES")
ACTIVE_STATUSES = frozenset({"QUEUED", "RUNNING"})
# A failing training gets halfway before it fails; its progress and lastEpochDone say so.
_FAILURE_REACH = 0.5
# A stalled training stops advancing halfway through its run and never finishes.
_STALL_AT = 0.5
_SECONDS_PER_QUEUE_PLACE = 10.0
# Without `epochs` the service picked 1000 and stopped early around epoch 50 (observed samples);
# with more requested epochs than the model needs, it stops early too (documented).
_SERVICE_EPOCHS = 1000
_EARLY_STOP_RANGE = (30, 80)


@dataclass(frozen=True, slots=True)
class Dataset:
    id: int
    name: str
    labels: tuple[str, ...]
    label_examples: tuple[int, ...]
    words: int
    feedback_examples: int
    model_type: str
    language: str
    available: bool
    created_at: float
    # Feedback examples per label; when empty, `feedback_examples` is spread over the labels.
    feedback_label_examples: tuple[int, ...] = ()

    @property
    def examples(self) -> int:
        return sum(self.label_examples)


@dataclass(frozen=True, slots=True)
class Script:
    """How a coming training goes; the defaults describe a plain success."""

    outcome: str = "SUCCEEDED"
    failure_msg: str | None = None
    queue_seconds: float | None = None
    run_seconds: float | None = None
    epochs: int | None = None
    early_stop_at: int | None = None
    stall: bool = False
    metrics_not_found: int = 0
    accuracy: float | None = None


@dataclass(frozen=True, slots=True)
class TrainingPlan:
    """Everything about one training, fixed when it is accepted."""

    model_id: str
    dataset_id: int
    dataset_version_id: int
    name: str
    model_type: str
    language: str
    algorithm: str | None
    requested_epochs: int | None
    epochs: int
    last_epoch: int
    train_params: str | None
    created_at: float
    queue_seconds: float
    run_seconds: float
    queue_position: int
    outcome: str
    failure_msg: str | None
    stall: bool
    labels: tuple[str, ...]
    test_counts: tuple[int, ...]
    examples: int
    load_seconds: float
    save_seconds: float
    metrics_not_found: int = 0
    accuracy: float | None = None  # the test accuracy its metrics aim at, if scripted

    @property
    def started_at(self) -> float:
        return self.created_at + self.queue_seconds

    @property
    def ended_at(self) -> float:
        return self.started_at + self.run_seconds

    @property
    def reach(self) -> float:
        """The share of the planned epochs this training gets through before it ends."""
        return 1.0 if self.outcome == "SUCCEEDED" else _FAILURE_REACH


@dataclass(frozen=True, slots=True)
class TrainingState:
    status: str
    progress: float
    queue_position: int | None
    epochs_done: int
    updated_at: float

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


def plan_training(
    *,
    model_id: str,
    dataset: Dataset,
    name: str,
    algorithm: str | None,
    requested_epochs: int | None,
    train_params: str | None,
    split_ratio: float,
    with_feedback: bool,
    script: Script,
    queue_seconds: float,
    run_seconds: float,
    created_at: float,
    version_id: int,
    rng: random.Random,
) -> TrainingPlan:
    """Fix a training's course; `rng` makes the service-chosen numbers reproducible."""
    epochs = script.epochs or requested_epochs or _SERVICE_EPOCHS
    # The epoch after which the model stops improving: Einstein stops there (earlyStopping,
    # lastEpochDone) whether it chose the epochs or was asked for more.
    plateau = rng.randint(*_EARLY_STOP_RANGE)
    if script.early_stop_at is not None:
        last_epoch = max(1, min(script.early_stop_at, epochs))
    elif script.epochs is not None:
        last_epoch = epochs  # a scripted epoch count runs in full
    else:
        last_epoch = min(epochs, plateau)
    if not with_feedback:
        extra = [0] * len(dataset.labels)
    elif dataset.feedback_label_examples:
        extra = list(dataset.feedback_label_examples)
    else:
        extra = spread(dataset.feedback_examples, dataset.label_examples)
    counts = [n + f for n, f in zip(dataset.label_examples, extra, strict=True)]
    queue = max(0.0, script.queue_seconds if script.queue_seconds is not None else queue_seconds)
    run = max(0.0, script.run_seconds if script.run_seconds is not None else run_seconds)
    return TrainingPlan(
        model_id=model_id,
        dataset_id=dataset.id,
        dataset_version_id=version_id,
        name=name,
        model_type=dataset.model_type,
        language=dataset.language,
        algorithm=algorithm,
        requested_epochs=requested_epochs,
        epochs=epochs,
        last_epoch=last_epoch,
        train_params=train_params,
        created_at=created_at,
        queue_seconds=queue,
        run_seconds=run,
        queue_position=max(1, math.ceil(queue / _SECONDS_PER_QUEUE_PLACE)),
        outcome=script.outcome,
        failure_msg=script.failure_msg or _default_failure_msg(script.outcome, model_id),
        stall=script.stall,
        labels=dataset.labels,
        # Stratified split: each label keeps floor(n * ratio) for training, the rest for test.
        test_counts=tuple(n - math.floor(n * split_ratio) for n in counts),
        examples=sum(counts),
        load_seconds=run * rng.uniform(0.01, 0.03),
        save_seconds=run * rng.uniform(0.002, 0.006),
        metrics_not_found=script.metrics_not_found,
        accuracy=script.accuracy,
    )


def _default_failure_msg(outcome: str, model_id: str) -> str | None:
    if outcome == "FAILED":
        # Wording reported by a user of the live service (heroku/einstein-vision-node#3).
        return f"System error, training failed to complete on model {model_id}"
    return None


def training_state(plan: TrainingPlan, now: float) -> TrainingState:
    """Where the training stands at simulated time `now`."""
    # At the moment of acceptance a training is always QUEUED, even with no queue time, as the
    # train and retrain answers are documented to be.
    if now < plan.started_at or now <= plan.created_at:
        return TrainingState(
            status="QUEUED",
            progress=0.0,
            queue_position=_queue_position(plan, now),
            epochs_done=0,
            updated_at=plan.created_at,
        )
    elapsed = now - plan.started_at
    share = elapsed / plan.run_seconds if plan.run_seconds > 0 else 1.0
    if plan.stall:
        share = min(share, _STALL_AT)
    if share < 1.0:
        done = plan.reach * share
        return TrainingState(
            status="RUNNING",
            progress=min(0.99, max(0.01, round(done, 2))),
            queue_position=None,
            epochs_done=math.floor(plan.last_epoch * done),
            updated_at=plan.started_at + share * plan.run_seconds,
        )
    return TrainingState(
        status=plan.outcome,
        progress=round(plan.reach, 2),
        queue_position=None,
        epochs_done=max(1, math.floor(plan.last_epoch * plan.reach)),
        updated_at=plan.ended_at,
    )


def _queue_position(plan: TrainingPlan, now: float) -> int:
    if plan.queue_seconds <= 0:
        return plan.queue_position
    remaining = max(0.0, plan.started_at - now) / plan.queue_seconds
    return max(1, math.ceil(plan.queue_position * remaining))


def spread(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` in proportion to `weights` (largest remainder), so the parts sum exactly."""
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        return [0] * len(weights)
    shares = [total * w / weight_sum for w in weights]
    parts = [math.floor(s) for s in shares]
    by_remainder = sorted(range(len(weights)), key=lambda i: parts[i] - shares[i])
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts
