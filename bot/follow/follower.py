"""The follower: submits accepted jobs, polls their trainings and keeps the thread current.

Each job runs in its own task. The order of writes is what makes restarts safe: the job is
stored before Einstein is called, the card's ts is stored right after it is posted, and a
reply is recorded in `reported` right after it is posted, so a new process knows what is owed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from bot.core.compare import compare_metrics
from bot.core.jobs import (
    AWAITING_APPROVAL,
    CANCELLED,
    DECLINED,
    EXPIRED,
    FAILURE_TEXT,
    LOST,
    PICTURES,
    REJECTED,
    SUBMITTING,
    Job,
    Result,
    assess,
    due_replies,
    observe,
    summarize_result,
    utcnow,
)
from bot.core.schedule import Timing, poll_delay, slot_end
from bot.einstein.client import KNOWN_STATUSES, EinsteinClient
from bot.einstein.explain import explain
from bot.einstein.models import Metrics, MetricsData, Training
from bot.errors import (
    EinsteinAuthError,
    EinsteinError,
    EinsteinNotFound,
    EinsteinRejected,
    EinsteinUnavailable,
    StoreError,
)
from bot.follow.pictures import draw_pictures
from bot.logs import job_context
from bot.slack.blocks import look
from bot.slack.notify import Notifier, SlackError, SlackRefused
from bot.store.audit import AuditEvent, AuditKind, AuditLog
from bot.store.jobs import JobStore, LeaseLost

__all__ = ["Follower"]

log = logging.getLogger(__name__)

# A training created this long before our job was stored still counts as ours when we adopt an
# answer that never arrived: Einstein's and our clocks differ a little.
_CLOCK_SKEW = timedelta(seconds=60)
_SUBMIT_ATTEMPTS = 5
_METRICS_ATTEMPTS = 3
# Refusals about the channel itself: nothing can be posted there until people act, so the job
# is kept and Slack tried again later. Other refusals concern one message, which is dropped.
_CHANNEL_PROBLEMS = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "restricted_action",
        "team_access_not_granted",
    }
)
_CARD_GONE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
INVITE_ASKED = "INVITE_ASKED"  # the requester was told to invite the bot (once per job)
# Errors that reading the thread back will not outgrow; the bot goes on without it.
_PERMANENT_READ_ERRORS = frozenset(
    {
        "missing_scope",
        "not_in_channel",
        "channel_not_found",
        "thread_not_found",
        "not_allowed_token_type",
    }
)


class Follower:
    """Owns every job task of this process and the leases that entitle it to them."""

    def __init__(
        self,
        *,
        store: JobStore,
        einstein: EinsteinClient,
        notifier: Notifier,
        timing: Timing,
        audit: AuditLog | None = None,
        max_jobs: int = 10_000,
        now: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._einstein = einstein
        self._notifier = notifier
        self._timing = timing
        self._audit_log = audit
        self._max_jobs = max_jobs
        self._now = now
        self._sleep = sleep
        self._jobs: dict[str, asyncio.Task[None]] = {}
        self._chores: set[asyncio.Task[None]] = set()
        # When each held lease runs out (monotonic); nothing is posted on a lease about to end.
        self._held_until: dict[str, float] = {}
        self._busy: set[str] = set()
        self._draining = False
        self._lease_task: asyncio.Task[None] | None = None
        # What each card last showed and when, to throttle progress-only edits.
        self._card_shown: dict[str, tuple[tuple[object, ...], float]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._card_frozen: set[str] = set()  # cards Slack will not let us edit any more
        self._saved_at: dict[str, float] = {}
        self._drawing = asyncio.Semaphore(1)
        self._slack_paused: dict[str, float] = {}  # job -> monotonic time to try Slack again

    @property
    def running(self) -> int:
        return len(self._jobs)

    @property
    def timing(self) -> Timing:
        return self._timing

    def spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> None:
        """Run a short chore as a tracked task: asyncio keeps only weak references to tasks."""
        task = asyncio.ensure_future(coro)
        self._chores.add(task)
        task.add_done_callback(self._chore_done)

    def _chore_done(self, task: asyncio.Task[None]) -> None:
        self._chores.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    def _job_done(self, job_id: str, task: asyncio.Task[None]) -> None:
        if self._jobs.get(job_id) is task:
            del self._jobs[job_id]
            self._card_shown.pop(job_id, None)
            self._wake.pop(job_id, None)
            self._card_frozen.discard(job_id)
            self._saved_at.pop(job_id, None)
            self._slack_paused.pop(job_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("job %s stopped on an unexpected error", job_id, exc_info=task.exception())

    def follow(self, job: Job, *, resumed: bool = False) -> None:
        """Follow `job` to its end; `resumed` jobs first reconcile with what Slack shows."""
        if job.id in self._jobs or self._draining:
            return
        task = asyncio.ensure_future(self._run(job, resumed=resumed))
        self._jobs[job.id] = task
        task.add_done_callback(lambda t: self._job_done(job.id, t))

    def poke(self, job_id: str) -> bool:
        """Poll the job now instead of at its next turn; False if another process follows it."""
        event = self._wake.get(job_id)
        if event is None:
            return False
        self._card_shown.pop(job_id, None)  # a refresh shows the card as it is now
        event.set()
        return True

    async def _nap(self, job_id: str, seconds: float) -> None:
        """Sleep until the next poll, or until someone asks for a refresh."""
        event = self._wake.setdefault(job_id, asyncio.Event())
        if self._sleep is not asyncio.sleep:  # an injected clock drives the tests
            await self._sleep(seconds)
            return
        # Rounded up to the next slot, so naps ending close together end in one loop pass.
        now = asyncio.get_running_loop().time()
        wake_at = slot_end(now, seconds, slot=self._timing.poll_slot)
        # asyncio.timeout_at, not wait_for: no extra task per nap, for a thousand jobs napping.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(wake_at):
                await event.wait()
        event.clear()

    async def start_job(self, job: Job) -> None:
        """Store a new job leased to this process and follow it (DuplicateJob if followed)."""
        await self._store.add(job, lease_seconds=self._timing.lease_seconds)
        self._held_until[job.id] = time.monotonic() + self._timing.lease_seconds
        self.follow(job)

    async def _take(self, job: Job, kind: AuditKind, *, by: str, outcome: str | None = None) -> Job:
        """Write a decision about `job` and follow it here, whichever process held it."""
        task = self._jobs.pop(job.id, None)
        if task is not None:
            task.cancel()
        await self._store.take_over(job, lease_seconds=self._timing.lease_seconds)
        self._held_until[job.id] = time.monotonic() + self._timing.lease_seconds
        # The decision enters the trail before what follows from it (submission, replies), so
        # the trail keeps their order and whoever sees the thread change finds it recorded.
        await self._audit(kind, job, actor=by, outcome=outcome)
        self.follow(job)  # updates the card and posts what the decision owes the thread
        return job

    async def stop_following(self, job: Job, *, by: str) -> Job:
        """Cancel: Einstein has no cancel call, so the bot stops following and says so."""
        now = self._now()
        note = f"stopped by <@{by}>"
        job = job.with_changes(status=CANCELLED, finished_at=now, updated_at=now, failure_msg=note)
        return await self._take(job, AuditKind.CANCELLED, by=by)

    async def approve(self, job: Job, *, by: str) -> Job:
        """A second person approved a protected model's retrain: submit it now."""
        job = job.with_changes(status=SUBMITTING, approver=by, updated_at=self._now())
        return await self._take(job, AuditKind.APPROVED, by=by)

    async def decline(self, job: Job, *, by: str, reason: str | None) -> Job:
        """The approver said no: nothing is submitted."""
        now = self._now()
        job = job.with_changes(
            status=DECLINED, approver=by, decision_note=reason, finished_at=now, updated_at=now
        )
        return await self._take(job, AuditKind.APPROVAL_REJECTED, by=by, outcome=reason)

    async def _audit(
        self,
        kind: AuditKind,
        job: Job,
        *,
        actor: str | None = None,
        outcome: str | None = None,
        **detail: Any,
    ) -> None:
        """One line of the audit trail; a failing write is logged, never fatal to the job."""
        if self._audit_log is None:
            return
        event = AuditEvent(
            kind=kind,
            actor=actor or job.requester,
            channel=job.channel,
            model_id=job.model_id,
            job_id=job.id,
            options=job.options.describe(),
            outcome=outcome or job.status,
            detail={k: v for k, v in detail.items() if v is not None},
        )
        try:
            await self._audit_log.record(event)
        except StoreError as exc:
            log.error("audit trail write failed for job %s: %s", job.id, exc)

    async def start(self) -> int:
        """Claim the unfinished jobs nobody follows, then keep claiming and renewing."""
        claimed = await self._claim()
        self._lease_task = asyncio.ensure_future(self._lease_loop())
        return claimed

    async def _claim(self) -> int:
        room = self._max_jobs - len(self._jobs)
        if room <= 0 or self._draining:
            return 0
        jobs = await self._store.claim(
            limit=min(room, 500), lease_seconds=self._timing.lease_seconds
        )
        until = time.monotonic() + self._timing.lease_seconds
        for job in jobs:
            self._held_until[job.id] = until
            self.follow(job, resumed=True)
        if jobs:
            log.info("following %d unfinished job(s) taken from the store", len(jobs))
        return len(jobs)

    async def _lease_loop(self) -> None:
        while True:
            await self._sleep(self._timing.claim_interval * random.uniform(0.8, 1.2))
            try:
                await self._renew()
                await self._claim()
            except StoreError as exc:
                log.warning("lease upkeep failed: %s", exc)

    async def _renew(self) -> None:
        ids = list(self._jobs)
        renewed_at = time.monotonic()
        held = await self._store.renew(ids, lease_seconds=self._timing.lease_seconds)
        for job_id in ids:
            if job_id in held:
                self._held_until[job_id] = renewed_at + self._timing.lease_seconds
                continue
            log.warning("job %s was taken over by another instance; letting it go", job_id)
            self._held_until.pop(job_id, None)
            task = self._jobs.pop(job_id, None)
            if task is not None:
                task.cancel()

    def _may_post(self, job_id: str) -> bool:
        # Post only with a lease that outlives the post by a margin, so a process that lost its
        # lease while paused never posts beside the one that took the job over.
        margin = min(10.0, self._timing.lease_seconds / 3)
        return not self._draining and self._held_until.get(job_id, 0.0) - time.monotonic() > margin

    async def stop(self, *, grace: float = 5.0) -> None:
        """Stop taking work, let posts in flight finish, give the leases back."""
        self._draining = True
        if self._lease_task is not None:
            self._lease_task.cancel()
        deadline = time.monotonic() + grace
        while self._busy and time.monotonic() < deadline:  # noqa: ASYNC110 - a bounded wait on a set
            await asyncio.sleep(0.01)
        tasks = [*self._jobs.values(), *self._chores]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._lease_task is not None:
            await asyncio.gather(self._lease_task, return_exceptions=True)
        try:
            await self._store.release()
        except StoreError as exc:
            log.warning("could not release leases (they expire by themselves): %s", exc)

    async def wait_idle(self) -> None:
        """Wait until no job task runs (the demo and tests use it)."""
        while self._jobs:
            await asyncio.gather(*list(self._jobs.values()), return_exceptions=True)

    async def _run(self, job: Job, *, resumed: bool) -> None:
        job_context.set(job.id)  # each task has its own context: log lines name their job
        try:
            await self._follow(job, resumed=resumed)
        except LeaseLost:
            log.info("job %s is followed by another instance now", job.id)

    async def _follow(self, job: Job, *, resumed: bool) -> None:
        if job.status == SUBMITTING:
            job = await self._submit(job, resumed=resumed)
        reconciled = not resumed
        errors = 0
        if resumed and not job.is_final:
            # Spread jobs resumed together over one interval so they never poll in step.
            await self._sleep(random.uniform(0, self._timing.poll_interval))
        while job.status != REJECTED:
            if not reconciled and self._may_post(job.id):
                job, reconciled = await self._reconcile(job)
            if reconciled and self._may_post(job.id):
                job = await self._sync_slack(job)
            if job.is_final and not due_replies(job) and job.parent_ts is not None:
                return
            await self._nap(
                job.id, poll_delay(job, timing=self._timing, errors=errors, now=self._now())
            )
            if job.status == AWAITING_APPROVAL:
                job = await self._expire(job)
            elif not job.is_final:
                job, ok = await self._poll(job)
                errors = 0 if ok else errors + 1

    async def _reconcile(self, job: Job) -> tuple[Job, bool]:
        """After a restart: adopt posts the last process made but did not live to record.

        A crash between a Slack post and the store write would otherwise repeat that post.
        Returns the job and whether it is safe to post now.
        """
        try:
            if job.parent_ts is None and job.status not in (SUBMITTING, REJECTED):
                ts = await self._notifier.find_card(job)
                if ts is not None:
                    job = job.with_changes(parent_ts=ts)
            if job.parent_ts is not None:
                posted = await self._notifier.posted_states(job)
                job = job.with_changes(reported=job.reported | posted)
        except SlackError as exc:
            if exc.code not in _PERMANENT_READ_ERRORS:
                log.warning("cannot read job %s back from Slack yet (%s)", job.id, exc.code)
                return job, False
            log.warning(
                "cannot read job %s back from Slack (%s; the bot needs the "
                "channels:history scope); a reply may repeat after this restart",
                job.id,
                exc.code,
            )
        await self._save(job)
        return job, True

    async def _expire(self, job: Job) -> Job:
        """An approval nobody gave in time ends the job; nothing was submitted."""
        now = self._now()
        if job.approval_expires_at is None or now < job.approval_expires_at:
            return job
        job = job.with_changes(status=EXPIRED, finished_at=now, updated_at=now)
        await self._save(job)
        await self._audit(AuditKind.APPROVAL_EXPIRED, job)
        return job

    async def _baseline(self, job: Job) -> Job:
        """The model's metrics before the retrain, for the comparison once it succeeds."""
        try:
            metrics = await self._einstein.metrics(job.model_id)
        except EinsteinNotFound:
            return job  # never trained successfully: the reply shows the new metrics only
        except EinsteinError as exc:
            log.info("no baseline metrics for %s: %s", job.model_id, exc.message)
            return job
        job = job.with_changes(baseline=metrics.metrics_data.model_dump_json(by_alias=True))
        await self._save(job)
        return job

    async def _submit(self, job: Job, *, resumed: bool) -> Job:
        if not resumed and job.baseline is None:
            job = await self._baseline(job)
        last: EinsteinError | None = None
        for attempt in range(_SUBMIT_ATTEMPTS):
            # A resumed or retried submit may have reached Einstein before: look first.
            adopted = await self._adoptable(job) if attempt or resumed else None
            try:
                training = adopted or await self._einstein.retrain(job.model_id, job.options)
            except (EinsteinRejected, EinsteinAuthError) as exc:
                if isinstance(exc, EinsteinAuthError):
                    log.error("Einstein refused the bot's credentials: %s", exc.message)
                return await self._reject(job, explain(exc, model_id=job.model_id))
            except EinsteinError as exc:
                last = exc
                log.warning(
                    "retrain of %s not confirmed (%s); attempt %d",
                    job.model_id,
                    exc.message,
                    attempt + 1,
                )
                backoff = min(60.0, 2.0 * 2**attempt) * random.uniform(0.8, 1.2)
                retry_after = getattr(exc, "retry_after", None)
                await self._sleep(max(backoff, retry_after or 0.0))
                continue
            job = observe(job, training, now=self._now())
            await self._save(job)
            await self._audit(AuditKind.SUBMITTED, job, approver=job.approver)
            return job
        assert last is not None
        return await self._reject(job, explain(last, model_id=job.model_id))

    async def _adoptable(self, job: Job) -> Training | None:
        """After an unanswered retrain: the training Einstein started for it, if it did."""
        try:
            training = await self._einstein.training_status(job.model_id)
        except EinsteinError:
            return None
        if training.created_at is not None and training.created_at >= job.created_at - _CLOCK_SKEW:
            log.info("retrain of %s reached Einstein after all; following it", job.model_id)
            return training
        return None

    async def _reject(self, job: Job, reason: str) -> Job:
        job = job.with_changes(status=REJECTED, failure_msg=reason, finished_at=self._now())
        await self._save(job)
        await self._audit(AuditKind.REFUSED, job, outcome=reason)
        await self._notifier.tell(
            response_url=job.response_url,
            channel=job.origin_channel,
            user=job.requester,
            message=f":no_entry: The retrain of `{job.model_id}` was not started. {reason}",
        )
        return job

    async def _poll(self, job: Job) -> tuple[Job, bool]:
        """Ask Einstein once; returns the job and whether Einstein answered."""
        now = self._now()
        try:
            training = await self._einstein.training_status(job.model_id)
        except EinsteinNotFound:
            job = job.with_changes(status=LOST, finished_at=now, updated_at=now)
            await self._save(job)
            await self._audit(AuditKind.OUTCOME, job)
            return job, True
        except EinsteinError as exc:
            log.warning("status of %s unavailable: %s", job.model_id, exc.message)
            if job.last_contact_at is None:
                job = job.with_changes(last_contact_at=now)
            job = self._assess(job.with_changes(last_error=exc.message), now=now)
            await self._save(job)
            return job, False
        before = job
        if training.status not in KNOWN_STATUSES:
            log.warning(
                "Einstein reports status %r for %s, which the bot does not know; "
                "treating it as still running",
                training.status[:40],
                job.model_id,
            )
        job = self._assess(observe(job, training, now=now), now=now)
        if job.status == "SUCCEEDED" and job.result is None:
            job = job.with_changes(result=await self._result(job, training))
        await self._save(job, unless_only_progress_since=before)
        if job.status != before.status:
            await self._audit(
                AuditKind.OUTCOME if job.is_final else AuditKind.STATE,
                job,
                failure=job.failure_msg,
                accuracy=job.result.test_accuracy if job.result else None,
                macro_f1=job.result.macro_f1 if job.result else None,
            )
        return job, True

    def _assess(self, job: Job, *, now: datetime) -> Job:
        return assess(
            job,
            now=now,
            stall_after=self._timing.stall_after,
            unreachable_after=self._timing.unreachable_after,
        )

    async def _result(self, job: Job, training: Training) -> Result:
        metrics: Metrics | None = None
        error: str | None = None
        for attempt in range(_METRICS_ATTEMPTS):
            try:
                metrics = await self._einstein.metrics(training.model_id)
                break
            except (EinsteinNotFound, EinsteinUnavailable) as exc:
                # Right after training the metrics call sometimes answers 404 for a while.
                error = exc.message
                await self._sleep(min(self._timing.poll_interval, 2.0) * (attempt + 1))
            except EinsteinError as exc:
                error = exc.message
                break
        comparison = None
        if metrics is not None:
            before = MetricsData.model_validate_json(job.baseline) if job.baseline else None
            comparison = compare_metrics(before, metrics.metrics_data).to_dict()
        return summarize_result(
            training, metrics, metrics_error=None if metrics else error, comparison=comparison
        )

    async def _sync_slack(self, job: Job) -> Job:
        """Bring Slack up to the job: the card exists and is current, owed replies are posted."""
        if time.monotonic() < self._slack_paused.get(job.id, 0.0):
            return job
        self._busy.add(job.id)
        try:
            if job.parent_ts is None and job.status != REJECTED:
                ts = await self._notifier.post_card(job)
                job = job.with_changes(parent_ts=ts)
                await self._save(job)
                await self._link_elsewhere(job)
                self._card_shown[job.id] = (_card_state(job), time.monotonic())
            elif job.parent_ts is not None and self._card_due(job):
                try:
                    await self._notifier.update_card(job)
                except SlackRefused as exc:
                    if exc.code not in _CARD_GONE:
                        raise
                    log.warning(
                        "the card of job %s cannot be edited (%s); replies go on", job.id, exc.code
                    )
                    self._card_frozen.add(job.id)
                self._card_shown[job.id] = (_card_state(job), time.monotonic())
            for status in due_replies(job):
                try:
                    await self._post(job, status)
                except SlackRefused as exc:
                    if exc.code in _CHANNEL_PROBLEMS:
                        raise
                    # This one message can never be posted; the rest of the thread goes on.
                    log.error(
                        "dropped the %s reply of job %s: Slack refused it (%s)",
                        status,
                        job.id,
                        exc.code,
                    )
                job = job.with_changes(reported=job.reported | {status})
                await self._save(job)
        except SlackRefused as exc:
            job = await self._channel_problem(job, exc)
        except SlackError as exc:
            # The derived state still owes the post; the next cycle tries again.
            log.warning("Slack update for job %s failed: %s", job.id, exc.code)
        finally:
            self._busy.discard(job.id)
        return job

    async def _post(self, job: Job, status: str) -> None:
        if status == PICTURES:
            await self._post_pictures(job)
        elif status == FAILURE_TEXT:
            await self._notifier.upload_failure_text(job)
        else:
            await self._notifier.post_reply(job, status, now=self._now())

    async def _channel_problem(self, job: Job, exc: SlackRefused) -> Job:
        """The bot cannot post in the job's channel: fix what it can, say so, keep the job."""
        if exc.code == "not_in_channel" and await self._notifier.join(job.channel):
            return job  # joined a public channel: the next cycle posts
        self._slack_paused[job.id] = time.monotonic() + self._timing.slack_pause
        if exc.code in ("not_in_channel", "channel_not_found") and INVITE_ASKED not in job.reported:
            await self._notifier.tell(
                response_url=job.response_url,
                channel=job.origin_channel,
                user=job.requester,
                message=f":warning: I cannot post about the retrain of `{job.model_id}` in "
                f"<#{job.channel}>: I am not a member there. Invite me with `/invite` and the "
                "training's thread will catch up; the training itself is still followed.",
            )
            job = job.with_changes(reported=job.reported | {INVITE_ASKED})
            await self._save(job)
        log.error(
            "cannot post for job %s in %s (%s); the job is kept and Slack is tried again in %d s",
            job.id,
            job.channel,
            exc.code,
            self._timing.slack_pause,
        )
        return job

    async def _post_pictures(self, job: Job) -> None:
        """Learning curve and confusion matrix in the thread; a missing one is only logged."""
        # One training's pictures at a time: a learning curve holds every epoch's metrics and
        # drawing is CPU work; a thousand trainings ending together must not hold a thousand
        # curves in memory, nor starve the event loop that answers Slack.
        async with self._drawing:
            pictures = await draw_pictures(self._einstein, job)
        if not pictures:
            return
        comment = "How the training went:"
        try:
            await self._notifier.upload_pictures(job, pictures, comment=comment)
        except SlackError as exc:
            # Files need channel membership, unlike chat:write.public posts.
            if exc.code != "not_in_channel" or not await self._notifier.join(job.channel):
                if exc.code in _PERMANENT_READ_ERRORS or exc.code == "not_in_channel":
                    log.warning("pictures for job %s not posted: %s", job.id, exc.code)
                    return
                raise
            await self._notifier.upload_pictures(job, pictures, comment=comment)

    def _card_due(self, job: Job) -> bool:
        """Edit at once when the state changes; progress alone waits its turn.

        Its turn comes every `card_interval` seconds, or less often when many trainings run:
        `chat.update` is a Tier 3 method (about 50 calls a minute per workspace), so the
        progress edits of all cards share that budget.
        """
        if job.id in self._card_frozen:
            return False
        shown = self._card_shown.get(job.id)
        if shown is None:
            return True
        state, at = shown
        current = _card_state(job)
        if state == current:
            return False
        if _without_progress(state) != _without_progress(current):
            return True
        budget = len(self._jobs) * 60.0 / self._timing.card_edits_per_minute
        return time.monotonic() - at >= max(self._timing.card_interval, budget)

    async def _link_elsewhere(self, job: Job) -> None:
        if job.channel == job.origin_channel or job.parent_ts is None:
            return
        link = await self._notifier.permalink(job.channel, job.parent_ts)
        where = f"<{link}|the thread in <#{job.channel}>>" if link else f"<#{job.channel}>"
        await self._notifier.tell(
            response_url=job.response_url,
            channel=job.origin_channel,
            user=job.requester,
            message=f"{look(job.status)[0]} Retrain of `{job.model_id}` submitted; "
            f"follow it in {where}.",
        )

    async def _save(self, job: Job, *, unless_only_progress_since: Job | None = None) -> None:
        """Write the job. A poll that only moved progress is written at most every five minutes:
        progress is redrawn from Einstein's next answer anyway (a restart loses nothing), and a
        thousand trainings would otherwise cost a hundred writes a second."""
        if (
            unless_only_progress_since is not None
            and _essentials(job) == _essentials(unless_only_progress_since)
            and time.monotonic() - self._saved_at.get(job.id, 0.0) < _PROGRESS_SAVE_INTERVAL
        ):
            return
        try:
            await self._store.save(job)
        except LeaseLost:
            raise
        except StoreError as exc:
            log.error("could not record job %s: %s", job.id, exc)
            return
        self._saved_at[job.id] = time.monotonic()


_PROGRESS_SAVE_INTERVAL = 300.0


def _essentials(job: Job) -> tuple[object, ...]:
    """What a restart must not lose; progress, epochs and contact times may lag five minutes."""
    return (
        job.status,
        job.queue_position,
        job.condition,
        job.condition_seq,
        job.reported,
        job.parent_ts,
        job.result is not None,
        job.failure_msg,
        job.epochs,
        job.last_error,
    )


def _without_progress(state: tuple[object, ...]) -> tuple[object, ...]:
    status, _progress, queue_position, _epochs_done, has_result = state
    return (status, queue_position, has_result)


def _card_state(job: Job) -> tuple[object, ...]:
    return (
        job.status,
        round(job.progress, 2),
        job.queue_position,
        job.epochs_done,
        job.result is not None,
    )
