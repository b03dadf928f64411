"""The job store, the same tests against SQLite and the real PostgreSQL server."""

from __future__ import annotations

import asyncio
import sqlite3
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.core.jobs import Job, LabelScore, Result
from bot.core.options import RetrainOptions
from bot.errors import ConfigError, StoreError
from bot.fakes.loopback import free_port
from bot.store.jobs import DuplicateJob, LeaseLost, SqlJobStore, async_database_url
from bot.store.prefs import NotifyMode, Preferences
from bot.store.schema import jobs_table
from tests.conftest import postgres_database


def _job(job_id: str = "j1", **changes: object) -> Job:
    job = Job(
        id=job_id,
        model_id="7JXCXTRXTMNLJCEF2DR5CJ46QU",
        options=RetrainOptions(train_split_ratio=0.7, with_feedback=True),
        requester="U1",
        channel="C1",
        origin_channel="C1",
        created_at=datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
        response_url="http://127.0.0.1/commands/x",
    )
    return job.with_changes(**changes)


async def test_round_trip_keeps_every_field(store: SqlJobStore) -> None:
    """A job saved and read back is equal to the original, options and result included."""
    job = _job(
        status="SUCCEEDED",
        progress=1.0,
        epochs=100,
        epochs_done=40,
        parent_ts="1700000000.000100",
        reported=frozenset({"QUEUED", "SUCCEEDED"}),
        running_since=datetime(2026, 1, 1, 12, 1, tzinfo=UTC),
        finished_at=datetime(2026, 1, 1, 12, 5, tzinfo=UTC),
        result=Result(test_accuracy=0.9, macro_f1=0.8, weakest=(LabelScore("a", 0.5),)),
        refusals=2,
    )
    await store.add(job, lease_seconds=30)
    assert await store.get("j1") == job
    await store.save(job.with_changes(condition="STALLED", condition_seq=2, last_error="x"))
    stored = await store.get("j1")
    assert stored is not None
    assert (stored.condition, stored.condition_seq, stored.last_error) == ("STALLED", 2, "x")


async def test_unfinished_lists_active_and_owed_jobs(store: SqlJobStore) -> None:
    """Unfinished: active jobs, and final ones still owing Slack (a reply, the pictures, the
    attached failure message, the requester's refusal notice, the result by DM or the note
    that none is wanted); jobs with all said are not."""
    await store.add(_job("active", status="RUNNING", parent_ts="1.1"), lease_seconds=30)
    await store.add(
        _job("owed", status="FAILED", parent_ts="1.2", reported=frozenset({"QUEUED"})),
        lease_seconds=30,
    )
    await store.add(
        _job(
            "owed-retries",
            status="FAILED_WITH_RETRIES",
            parent_ts="1.4",
            reported=frozenset({"FAILED"}),
        ),
        lease_seconds=30,
    )
    await store.add(
        _job(
            "done",
            status="SUCCEEDED",
            parent_ts="1.3",
            reported=frozenset({"SUCCEEDED", "PICTURES", "DM_NONE"}),
        ),
        lease_seconds=30,
    )
    await store.add(
        _job("rejected", status="REJECTED", model_id="M2", reported=frozenset({"REJECTED"})),
        lease_seconds=30,
    )
    await store.add(_job("untold", status="REJECTED", model_id="M4"), lease_seconds=30)
    await store.add(
        _job(
            "long-failure",
            status="FAILED",
            parent_ts="1.6",
            failure_msg="x" * 3000,
            reported=frozenset({"FAILED"}),
            model_id="M5",
        ),
        lease_seconds=30,
    )
    await store.add(
        _job(
            "pictures",
            status="SUCCEEDED",
            parent_ts="1.5",
            reported=frozenset({"SUCCEEDED"}),
            model_id="M3",
        ),
        lease_seconds=30,
    )
    await store.add(
        _job(
            "dm",
            status="SUCCEEDED",
            parent_ts="1.7",
            reported=frozenset({"SUCCEEDED", "PICTURES"}),
            model_id="M6",
        ),
        lease_seconds=30,
    )
    ids = {job.id for job in await store.unfinished()}
    assert ids == {"active", "owed", "owed-retries", "pictures", "untold", "long-failure", "dm"}


async def test_save_updates_in_place(store: SqlJobStore) -> None:
    """save() replaces the stored fields of the same job."""
    await store.add(_job(), lease_seconds=30)
    await store.save(_job(status="RUNNING", progress=0.5))
    stored = await store.get("j1")
    assert stored is not None
    assert (stored.status, stored.progress) == ("RUNNING", 0.5)


async def test_active_for_model_and_recent(store: SqlJobStore) -> None:
    """active_for_model finds only a running job of that model; recent lists newest first."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    await store.add(_job("old", status="SUCCEEDED", created_at=start), lease_seconds=30)
    await store.add(
        _job("new", status="QUEUED", created_at=start + timedelta(hours=1)), lease_seconds=30
    )
    active = await store.active_for_model("7JXCXTRXTMNLJCEF2DR5CJ46QU")
    assert active is not None
    assert active.id == "new"
    assert await store.active_for_model("OTHER") is None
    assert [j.id for j in await store.recent(limit=5)] == ["new", "old"]


async def test_an_old_training_is_found_behind_many_newer_jobs(store: SqlJobStore) -> None:
    """A model's and a person's trainings are found by index, behind 600 newer jobs of others."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    await store.add(_job("old", status="SUCCEEDED", created_at=start), lease_seconds=30)
    await asyncio.gather(
        *(
            store.add(
                _job(
                    f"n{i}",
                    model_id=f"OTHER{i}",
                    requester="U2",
                    status="SUCCEEDED",
                    created_at=start + timedelta(minutes=i + 1),
                ),
                lease_seconds=30,
            )
            for i in range(600)
        )
    )
    await store.add(
        _job("running", status="RUNNING", created_at=start + timedelta(days=1)), lease_seconds=30
    )
    assert [j.id for j in await store.of_model("7JXCXTRXTMNLJCEF2DR5CJ46QU", limit=10)] == [
        "running",
        "old",
    ]
    assert [j.id for j in await store.of_requester("U1", limit=20)] == ["running", "old"]
    assert [j.id for j in await store.of_requester("U1", limit=20, active=True)] == ["running"]
    assert "old" not in {j.id for j in await store.recent(limit=500)}
    async with store.connect() as conn:
        names = await conn.run_sync(
            lambda sync: {i["name"] for i in sa.inspect(sync).get_indexes("retrain_jobs")}
        )
    assert {"retrain_jobs_model_created", "retrain_jobs_requester_created"} <= names


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_database_url_forms(url: str, expected: str) -> None:
    """DATABASE_URL's SQLite, PostgreSQL and Heroku forms map to asyncio drivers."""
    assert async_database_url(url) == expected


@pytest.mark.parametrize("url", ["mysql://h/db", "not a url"])
def test_database_url_refused(url: str) -> None:
    """Unsupported DATABASE_URLs stop start-up with a message naming the variable."""
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        async_database_url(url)


async def test_one_active_job_per_model(store: SqlJobStore) -> None:
    """A second active job of the same model is refused by the database; a finished one is not."""
    await store.add(_job("a", status="QUEUED"), lease_seconds=30)
    with pytest.raises(DuplicateJob):
        await store.add(_job("b", status="SUBMITTING"), lease_seconds=30)
    await store.save(_job("a", status="SUCCEEDED"))
    await store.add(_job("c", status="SUBMITTING"), lease_seconds=30)


async def test_inserts_at_once_share_transactions_and_keep_one_job_per_model(
    store: SqlJobStore,
) -> None:
    """Thirty adds at once, two of them for one model: that one gets DuplicateJob, all the
    others are stored (a batch with a duplicate falls back to one insert each)."""
    jobs = [_job(f"j{n}", model_id=f"MODEL{n:04d}") for n in range(29)]
    jobs.append(_job("again", model_id="MODEL0007"))
    outcomes = await asyncio.gather(
        *(store.add(job, lease_seconds=30) for job in jobs), return_exceptions=True
    )
    assert [type(o).__name__ for o in outcomes].count("DuplicateJob") == 1
    assert isinstance(outcomes[-1], DuplicateJob)
    assert "MODEL0007" in str(outcomes[-1])
    stored = {job.id for job in await store.unfinished()}
    assert stored == {f"j{n}" for n in range(29)}


async def test_saves_at_once_share_transactions(sqlite_url: str) -> None:
    """SQLite: thirty job writes at once cost a few transactions, not thirty (each one alone
    was three trips to the one connection's thread), and every write is stored."""
    store = SqlJobStore(sqlite_url)
    await store.open()
    commits: list[object] = []
    try:
        jobs = [_job(f"j{n}", model_id=f"MODEL{n:04d}") for n in range(30)]
        await asyncio.gather(*(store.add(job, lease_seconds=30) for job in jobs))
        sa.event.listen(store.engine.sync_engine, "commit", commits.append)
        await asyncio.gather(*(store.save(job.with_changes(status="RUNNING")) for job in jobs))
        assert 1 <= len(commits) <= 3
        assert {job.status for job in await store.unfinished()} == {"RUNNING"}
    finally:
        await store.close()


async def test_a_failing_batch_of_writes_fails_each_and_changes_nothing(sqlite_url: str) -> None:
    """SQLite: the database fails the transaction of writes made together: each of them gets
    StoreError (which the caller retries), none is half-written, and the next ones land."""
    store = SqlJobStore(sqlite_url)
    await store.open()
    broken = True

    def fail_updates(*args: object) -> None:
        statement = str(args[2])
        if broken and statement.startswith("UPDATE"):
            raise sqlite3.OperationalError("disk I/O error")

    try:
        jobs = [_job(f"j{n}", model_id=f"MODEL{n}", status="QUEUED") for n in range(5)]
        await asyncio.gather(*(store.add(job, lease_seconds=30) for job in jobs))
        sa.event.listen(store.engine.sync_engine, "before_cursor_execute", fail_updates)
        running = [job.with_changes(status="RUNNING") for job in jobs]
        outcomes = await asyncio.gather(*(store.save(j) for j in running), return_exceptions=True)
        assert all(type(o) is StoreError for o in outcomes), outcomes
        assert {job.status for job in await store.unfinished()} == {"QUEUED"}
        broken = False
        await asyncio.gather(*(store.save(j) for j in running))
        assert {job.status for job in await store.unfinished()} == {"RUNNING"}
    finally:
        await store.close()


async def test_a_lost_lease_fails_only_its_own_write(database_url: str) -> None:
    """Writes at once, one of them for a job another instance took over: that write gets
    LeaseLost and changes nothing; the others are stored."""
    first = SqlJobStore(database_url, owner="first")
    second = SqlJobStore(database_url, owner="second")
    await first.open()
    await second.open()
    try:
        jobs = [_job(f"j{n}", model_id=f"MODEL{n}", status="QUEUED") for n in range(5)]
        await asyncio.gather(*(first.add(job, lease_seconds=30) for job in jobs))
        await second.take_over(jobs[2].with_changes(status="CANCELLED"), lease_seconds=30)
        commits: list[object] = []
        sa.event.listen(first.engine.sync_engine, "commit", commits.append)
        outcomes = await asyncio.gather(
            *(first.save(job.with_changes(status="RUNNING")) for job in jobs),
            return_exceptions=True,
        )
        assert [type(o).__name__ for o in outcomes] == ["NoneType"] * 2 + ["LeaseLost"] + [
            "NoneType"
        ] * 2
        assert "j2" in str(outcomes[2])
        if first.dialect == "sqlite":
            assert len(commits) == 1, "one batch, the lost lease found inside it"
        stored = {job.id: job.status for job in await second.recent(limit=10)}
        assert stored == {"j0": "RUNNING", "j1": "RUNNING", "j2": "CANCELLED"} | {
            "j3": "RUNNING",
            "j4": "RUNNING",
        }
    finally:
        await first.close()
        await second.close()


async def test_leases_between_two_instances(database_url: str) -> None:
    """A leased job is not claimed by another instance until released or expired; the
    instance that lost a lease can no longer write the job."""
    first = SqlJobStore(database_url, owner="first")
    second = SqlJobStore(database_url, owner="second")
    await first.open()
    await second.open()
    try:
        await first.add(_job("a", status="RUNNING"), lease_seconds=30)
        await first.add(_job("b", status="QUEUED", model_id="OTHER"), lease_seconds=-1)
        claimed = await second.claim(limit=10, lease_seconds=30)
        assert [j.id for j in claimed] == ["b"], "only the expired lease is free"
        with pytest.raises(LeaseLost):
            await first.save(_job("b", status="RUNNING", model_id="OTHER"))
        assert await first.renew(["a", "b"], lease_seconds=30) == {"a"}
        await first.release()
        assert [j.id for j in await second.claim(limit=10, lease_seconds=30)] == ["a"]
        assert await second.claim(limit=10, lease_seconds=30) == []
    finally:
        await first.close()
        await second.close()


async def test_take_over_fences_the_old_owner(database_url: str) -> None:
    """take_over moves the lease to the caller; the old owner's next write fails."""
    first = SqlJobStore(database_url, owner="first")
    second = SqlJobStore(database_url, owner="second")
    await first.open()
    await second.open()
    try:
        await first.add(_job("a", status="RUNNING"), lease_seconds=30)
        await second.take_over(_job("a", status="CANCELLED"), lease_seconds=30)
        with pytest.raises(LeaseLost):
            await first.save(_job("a", status="RUNNING"))
        stored = await second.get("a")
        assert stored is not None
        assert stored.status == "CANCELLED"
    finally:
        await first.close()
        await second.close()


async def test_schema_creation_races(database_url: str) -> None:
    """Several instances opening the same empty database at once all succeed."""
    stores = [SqlJobStore(database_url, owner=f"s{i}") for i in range(4)]
    try:
        await asyncio.gather(*(s.open() for s in stores))
        await stores[0].add(_job(), lease_seconds=30)
        assert await stores[3].get("j1") is not None
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_a_refused_connection_is_a_store_error() -> None:
    """PostgreSQL not listening: the store raises StoreError, never the driver's OSError."""
    store = SqlJobStore(f"postgresql://postgres@127.0.0.1:{free_port()}/none", owner="s")
    try:
        with pytest.raises(StoreError, match="Connect call failed"):
            await store.open()
    finally:
        await store.close()


async def test_notify_choice_is_stored_and_changed(store: SqlJobStore) -> None:
    """`/retrain notify` choices: none means off; dm then off is stored, per person."""
    prefs = Preferences(store)
    assert await prefs.notify("U1") == NotifyMode.OFF
    await prefs.set_notify("U1", NotifyMode.DM)
    await prefs.set_notify("U2", NotifyMode.OFF)
    assert await prefs.notify("U1") == NotifyMode.DM
    await prefs.set_notify("U1", NotifyMode.OFF)
    assert (await prefs.notify("U1"), await prefs.notify("U2")) == (NotifyMode.OFF,) * 2


def _wal_state(url: str) -> tuple[int, int]:
    """The SQLite file's WAL: how many frames it holds and its checkpoint sequence number,
    which goes up each time the WAL starts again after a checkpoint (from its header)."""
    wal = Path(url.removeprefix("sqlite:///") + "-wal").read_bytes()
    page_size, sequence = struct.unpack(">II", wal[8:16])
    return (len(wal) - 32) // (24 + page_size), sequence


async def test_new_jobs_never_checkpoint_on_the_event_loop(sqlite_url: str) -> None:
    """On SQLite new jobs are inserted on the event loop's thread (a command's answer waits
    for them), so that connection never copies the WAL back into the database, which would
    hold up every request in flight for milliseconds. The usual connections, on their own
    thread, checkpoint when they next write."""
    store = SqlJobStore(sqlite_url)
    await store.open()
    try:
        frames, sequence = _wal_state(sqlite_url)
        added = 0
        # With SQLite's default, a commit past a thousand frames checkpoints and the WAL
        # starts again, so it never holds much more than that.
        while frames < 2_500 and added < 20_000:
            batch = [_job(f"n{added + n}", model_id=f"M{added + n:06d}") for n in range(50)]
            await asyncio.gather(*(store.add(job, lease_seconds=30) for job in batch))
            added += len(batch)
            frames, now = _wal_state(sqlite_url)
            assert now == sequence  # never started again: nothing was checkpointed
        assert frames >= 2_500, f"{frames} frames after {added} new jobs"

        await store.save(_job("n0", model_id="M000000", status="QUEUED"))  # a usual write
        await store.add(_job("after", model_id="AFTER"), lease_seconds=30)
        assert _wal_state(sqlite_url)[1] > sequence  # checkpointed, so the WAL started again
    finally:
        await store.close()


async def test_a_frozen_transaction_does_not_keep_its_jobs() -> None:
    """PostgreSQL: an instance frozen inside a transaction (SIGSTOP between two statements)
    holds row locks that the claims of other instances skip. The server ends its session
    once it has been idle in the transaction for `stuck_transaction` seconds, and the job is
    taken over; the frozen instance, woken, finds its transaction gone."""
    async with postgres_database() as url:
        frozen = SqlJobStore(url, owner="frozen", stuck_transaction=0.5)
        other = SqlJobStore(url, owner="other")
        await frozen.open()
        await other.open()
        try:
            job = _job("held", status="RUNNING")
            await frozen.add(job, lease_seconds=0.2)
            locked, wake = asyncio.Event(), asyncio.Event()

            async def freeze() -> None:
                async with frozen.begin() as conn:
                    await conn.execute(
                        jobs_table.update().where(jobs_table.c.id == job.id).values(progress=0.5)
                    )
                    locked.set()
                    await wake.wait()  # stopped between two statements of its transaction

            frozen_write = asyncio.ensure_future(freeze())
            await locked.wait()
            claimed: list[Job] = []
            deadline = asyncio.get_running_loop().time() + 5
            while not claimed and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.1)
                claimed = await other.claim(limit=10, lease_seconds=30)
            assert [j.id for j in claimed] == [job.id]
            wake.set()
            with pytest.raises(sa.exc.DBAPIError):
                await frozen_write
            assert await frozen.renew([job.id], lease_seconds=30) == set()  # it holds nothing
        finally:
            await frozen.close()
            await other.close()
