"""The state machine and what a job owes: transitions people cause, milestones, the report."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core import machine
from bot.core.jobs import Job, JobStatus, Result
from bot.core.owed import awaits_result, card_owed, due_private, due_replies, pending
from tests.test_jobs import NOW, _job, _training


def test_every_milestone_seen_is_owed_in_order_after_the_training_moved_on() -> None:
    """Seen queued, then running, then done before Slack caught up: all three replies, in order."""
    job = machine.submitted(_job(), _training("QUEUED", queuePosition=4), now=NOW)
    job = machine.observe(job, _training("RUNNING", progress=0.2), now=NOW)
    job = machine.observe(job, _training("SUCCEEDED"), now=NOW)
    job = machine.with_result(job, Result(test_accuracy=0.9)).with_changes(parent_ts="1.1")
    assert due_replies(job) == ("QUEUED", "RUNNING", "SUCCEEDED")
    assert job.first_queue_position == 4
    assert due_replies(machine.posted(job, "QUEUED", "RUNNING")) == ("SUCCEEDED",)


def test_a_skipped_milestone_is_not_owed() -> None:
    """A training first seen succeeded never announces a start nobody saw."""
    job = machine.submitted(_job(), _training("SUCCEEDED"), now=NOW)
    job = machine.with_result(job, Result()).with_changes(parent_ts="1.1")
    assert due_replies(job) == ("SUCCEEDED",)


def test_success_reply_waits_for_the_metrics() -> None:
    """A succeeded training without its report owes only its milestones, and stays pending."""
    job = machine.observe(
        _job(status=JobStatus.RUNNING, parent_ts="1.1", reported=frozenset({"RUNNING"})),
        _training("SUCCEEDED"),
        now=NOW,
    )
    assert awaits_result(job)
    assert due_replies(job) == ()
    assert pending(job)
    assert due_replies(machine.with_result(job, Result())) == ("SUCCEEDED",)


def test_refusal_is_owed_to_the_requester_until_told() -> None:
    """A refused retrain has no card or thread, but the requester is owed a private notice."""
    job = machine.reject(_job(), reason="dataset busy", now=NOW)
    assert (job.status, job.failure_msg, card_owed(job)) == (
        JobStatus.REJECTED,
        "dataset busy",
        False,
    )
    assert due_private(job) == ("REJECTED",)
    assert pending(job)
    told = machine.posted(job, "REJECTED")
    assert (due_private(told), pending(told)) == ((), False)


def test_approval_flow_transitions() -> None:
    """Awaiting → approved (submitting, approval announced) or declined; expiry only when due."""
    waiting = machine.await_approval(_job(), expires_at=NOW + timedelta(hours=1), note="ask A")
    assert machine.expire(waiting, now=NOW) is waiting
    assert machine.expire(waiting, now=NOW + timedelta(hours=2)).status == JobStatus.EXPIRED
    approved = machine.approve(waiting, by="U2", now=NOW).with_changes(parent_ts="1.1")
    assert (approved.status, approved.approver) == (JobStatus.SUBMITTING, "U2")
    assert due_replies(approved) == ("AWAITING_APPROVAL", "APPROVED")
    declined = machine.decline(waiting, by="U2", reason="not now", now=NOW)
    declined = machine.posted(declined.with_changes(parent_ts="1.1"), "AWAITING_APPROVAL")
    assert due_replies(declined) == ("DECLINED",)


def test_reminder_is_owed_once_half_way_and_only_while_awaiting() -> None:
    """Half-way to expiry the reminder is owed once; posted, or approved first, it is not."""
    waiting = machine.await_approval(_job(), expires_at=NOW + timedelta(hours=1), note="ask A")
    waiting = machine.posted(waiting.with_changes(parent_ts="1.1"), "AWAITING_APPROVAL")
    assert machine.remind(waiting, now=NOW + timedelta(minutes=29)) is waiting
    reminded = machine.remind(waiting, now=NOW + timedelta(minutes=30))
    assert due_replies(reminded) == (machine.REMINDER,)
    assert machine.reminder_at(reminded) is None
    told = machine.posted(reminded, machine.REMINDER)
    assert due_replies(told) == ()
    assert machine.remind(told, now=NOW + timedelta(minutes=50)) is told
    approved = machine.approve(reminded, by="U2", now=NOW)
    assert due_replies(approved) == ("APPROVED",)


@pytest.mark.parametrize(
    ("status", "transition"),
    [
        (JobStatus.RUNNING, lambda job: machine.approve(job, by="U2", now=NOW)),
        (JobStatus.SUCCEEDED, lambda job: machine.cancel(job, by="U2", now=NOW)),
        (JobStatus.QUEUED, lambda job: machine.reject(job, reason="x", now=NOW)),
        (JobStatus.CANCELLED, lambda job: machine.lose(job, now=NOW)),
        (JobStatus.RUNNING, lambda job: machine.with_result(job, Result())),
    ],
)
def test_transitions_refuse_statuses_they_do_not_apply_to(status: JobStatus, transition) -> None:  # type: ignore[no-untyped-def]
    """A decision that no longer applies raises instead of overwriting the job's state."""
    with pytest.raises(machine.TransitionError):
        transition(_job(status=status))


def test_cancel_notes_who_stopped_it() -> None:
    """Stopping a running job ends it with a note naming the person."""
    job = machine.cancel(_job(status=JobStatus.RUNNING), by="U9", now=NOW)
    assert (job.status, job.failure_msg, job.finished_at) == (
        JobStatus.CANCELLED,
        "stopped by <@U9>",
        NOW,
    )


def _assess(job: Job, minutes: float) -> Job:
    return machine.assess(
        job,
        now=NOW + timedelta(minutes=minutes),
        stall_after=1800,
        unreachable_after=10**6,  # contact times are not what is tested here
        queue_stall_after=1800,
    )


def test_queued_too_long_is_one_alert_that_no_recovery_follows() -> None:
    """Queued past queue_stall_after: one QUEUED_LONG alert; once said and started, no RECOVERED."""
    queued = machine.observe(_job(), _training("QUEUED", queuePosition=4), now=NOW)
    assert _assess(queued, 29).condition is None
    alerted = _assess(queued, 31)
    assert due_replies(machine.card_posted(alerted, ts="1.0"))[-1] == "QUEUED_LONG#1"
    said = machine.posted(machine.card_posted(alerted, ts="1.0"), "QUEUED", "QUEUED_LONG#1")
    assert _assess(said, 60) is said, "said once, however long it stays queued"
    running = machine.observe(
        said, _training("RUNNING", progress=0.1), now=NOW + timedelta(minutes=61)
    )
    started = _assess(running, 61)
    assert due_replies(started) == ("RUNNING",)


def test_queue_alert_not_yet_said_is_withdrawn_when_the_training_starts() -> None:
    """A QUEUED_LONG alert still unsaid when the training starts is dropped, not recovered."""
    alerted = _assess(machine.observe(_job(), _training("QUEUED"), now=NOW), 31)
    running = machine.observe(
        alerted, _training("RUNNING", progress=0.1), now=NOW + timedelta(minutes=32)
    )
    started = _assess(running, 32)
    assert (started.condition, started.condition_seq) == (None, 0)


def test_a_thread_moved_to_the_dm_owes_the_requester_one_note_once_its_card_is_there() -> None:
    """After `move`, the card is owed in the DM; once posted, MOVED is owed until recorded."""
    refused = machine.refused(machine.refused(_job(status=JobStatus.QUEUED, channel="D0PEOPLE")))
    moved = machine.move(refused.with_changes(parent_ts="1.0"), channel="D0BOT")
    assert (moved.channel, moved.origin_channel, moved.refusals) == ("D0BOT", "C1", 0)
    assert card_owed(moved)
    assert due_private(moved) == ()
    posted = machine.card_posted(moved, ts="2.0")
    assert due_private(posted) == ("MOVED",)
    assert due_private(machine.posted(posted, "MOVED")) == ()
