"""The pure job rules: what a training report changes and which thread replies are owed."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.jobs import Job, LabelScore, Result
from bot.core.machine import observe
from bot.core.options import RetrainOptions
from bot.core.owed import due_replies
from bot.core.report import summarize_result
from bot.einstein.models import Metrics, Training

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _job(**changes: object) -> Job:
    job = Job(
        id="j",
        model_id="M1",
        options=RetrainOptions(),
        requester="U1",
        channel="C1",
        origin_channel="C1",
        created_at=NOW,
    )
    return job.with_changes(**changes)


def _training(status: str, **fields: object) -> Training:
    return Training.model_validate({"modelId": "M1", "status": status, **fields})


def test_queued_records_queue_position() -> None:
    """A QUEUED report sets the status and keeps the queue position."""
    job = observe(_job(), _training("QUEUED", queuePosition=3), now=NOW)
    assert (job.status, job.queue_position, job.progress) == ("QUEUED", 3, 0.0)


def test_running_clears_queue_and_starts_clock() -> None:
    """RUNNING drops the queue position, records progress and when training started."""
    job = observe(
        _job(status="QUEUED", queue_position=2),
        _training("RUNNING", progress=0.42, epochs=100),
        now=NOW,
    )
    assert (job.status, job.queue_position, job.progress, job.epochs) == (
        "RUNNING",
        None,
        0.42,
        100,
    )
    assert job.running_since == NOW
    later = observe(job, _training("RUNNING", progress=0.5), now=NOW + timedelta(minutes=1))
    assert later.running_since == NOW


def test_terminal_sets_finished_once() -> None:
    """SUCCEEDED sets progress to 1 and the finish time; FAILED keeps Einstein's reason."""
    done = observe(_job(status="RUNNING"), _training("SUCCEEDED", progress=0.99), now=NOW)
    assert (done.progress, done.finished_at, done.is_final) == (1.0, NOW, True)
    failed = observe(_job(status="RUNNING"), _training("FAILED", failureMsg="too few"), now=NOW)
    assert (failed.failure_msg, failed.is_failed) == ("too few", True)


def test_unknown_status_never_counts_as_success() -> None:
    """A status value Einstein never documented is treated as still running."""
    job = observe(_job(status="RUNNING"), _training("REBALANCING"), now=NOW)
    assert job.status == "RUNNING"
    assert not job.is_final


@pytest.mark.parametrize(
    ("status", "reported", "due"),
    [
        ("QUEUED", set(), ("QUEUED",)),
        ("QUEUED", {"QUEUED"}, ()),
        ("RUNNING", {"QUEUED"}, ("RUNNING",)),
        ("SUCCEEDED", {"QUEUED"}, ("SUCCEEDED",)),
        ("FAILED", {"FAILED"}, ()),
        ("SUCCEEDED", {"SUCCEEDED"}, ("PICTURES",)),
        ("SUCCEEDED", {"SUCCEEDED", "PICTURES"}, ()),
        ("FAILED", set(), ("FAILED",)),
        ("KILLED", {"RUNNING"}, ("KILLED",)),
        ("REJECTED", set(), ()),
    ],
)
def test_due_replies(status: str, reported: set[str], due: tuple[str, ...]) -> None:
    """Each state earns one reply; a reply once recorded is never owed again."""
    job = _job(status=status, parent_ts="1.1", reported=frozenset(reported), result=Result())
    assert due_replies(job) == due


def test_no_reply_before_the_card_exists() -> None:
    """Replies need a parent: nothing is owed while the card has not been posted."""
    assert due_replies(_job(status="QUEUED")) == ()


def test_summarize_result_picks_weakest_labels() -> None:
    """The success summary has accuracy, macro F1, the three weakest labels and split sizes."""
    training = _training(
        "SUCCEEDED",
        epochs=100,
        trainStats={
            "lastEpochDone": 40,
            "earlyStopping": True,
            "trainSplitSize": 80,
            "testSplitSize": 20,
            "trainingTime": "00:02:25:646",
        },
    )
    metrics = Metrics.model_validate(
        {
            "id": "M1",
            "metricsData": {
                "labels": ["a", "b", "c", "d"],
                "f1": [0.9, 0.5, 0.7, 0.6],
                "testAccuracy": 0.8,
            },
        }
    )
    result = summarize_result(training, metrics)
    assert [s.label for s in result.weakest] == ["b", "d", "c"]
    assert result.macro_f1 == pytest.approx(0.675)
    assert (result.epochs_done, result.early_stopping, result.train_split_size) == (40, True, 80)


def test_a_result_is_stored_as_it_was_and_reads_back_the_same() -> None:
    """The stored form of a result with everything set (its scores, comparison and regressed
    metrics) is what `dataclasses.asdict` gives, and reads back as the same result."""
    result = Result(
        test_accuracy=0.91,
        macro_f1=0.84,
        weakest=(LabelScore("returns", 0.61), LabelScore("other", 0.7)),
        labels=4,
        comparison={"before": {"testAccuracy": 0.93, "f1": [0.9, 0.8]}, "labels": ["a", "b"]},
        regressed=(("test accuracy", 2.0),),
    )
    stored = json.dumps(result.to_dict())
    assert stored == json.dumps(dataclasses.asdict(result))
    assert Result.from_dict(json.loads(stored)) == result
