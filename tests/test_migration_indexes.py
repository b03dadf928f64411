"""Revisions 0003 (two job indexes fewer) and 0004 (the lease index) on SQLite and PostgreSQL:
rows stay, the indexes go (and come back with the downgrade), and the reads they served still
find their rows by an index (the query plans)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from bot.store.jobs import SqlJobStore, _claimable
from bot.store.migrate import head, schema_status
from bot.store.reads import _newest
from bot.store.rows import to_row, utc_now
from bot.store.schema import ACTIVE, jobs_table, metadata
from tests.conftest import postgres_database
from tests.test_migration_workspaces import JOB, _differences, _to
from tests.test_migrations import _run

# Each revision that drops indexes, with the revision before it and what it drops.
DROPS = {
    "0003": ("0002", {"ix_retrain_jobs_model_id", "ix_retrain_jobs_status"}),
    "0004": ("0003", {"retrain_jobs_lease"}),
}


def _job_indexes(connection: sa.Connection) -> set[str]:
    return {index["name"] or "" for index in sa.inspect(connection).get_indexes("retrain_jobs")}


@pytest.mark.parametrize("revision", sorted(DROPS))
async def test_a_database_before_the_revision_keeps_its_jobs_without_the_indexes(
    database_url: str, revision: str
) -> None:
    before, dropped = DROPS[revision]
    await _run(database_url, _to(before))
    await _run(database_url, lambda conn: conn.execute(jobs_table.insert(), [to_row(JOB)]))
    assert await _run(database_url, _job_indexes) >= dropped
    assert await schema_status(database_url) == (before, head())
    store = SqlJobStore(database_url)  # opening upgrades to the head
    await store.open()
    try:
        assert await store.get(JOB.id) == JOB
        assert await store.active_for_model(JOB.model_id) == JOB
        assert await store.of_model(JOB.model_id, limit=5, team_id="T1") == [JOB]
        # The job's lease is still read and written without the lease index.
        assert [job.id for job in await store.claim(limit=5, lease_seconds=30)] == [JOB.id]
    finally:
        await store.close()
    assert await schema_status(database_url) == (head(), head())
    indexes = await _run(database_url, _job_indexes)
    assert not dropped & indexes
    assert {
        "retrain_jobs_model_created",
        "retrain_jobs_requester_created",
        "retrain_jobs_pending",
    } <= indexes
    assert await _run(database_url, _differences(metadata)) == []

    await _run(database_url, _to(before, down=True))
    assert await _run(database_url, _job_indexes) >= dropped


async def test_the_reads_and_the_claim_of_jobs_still_use_an_index(sqlite_url: str) -> None:
    store = SqlJobStore(sqlite_url)
    await store.open()
    await store.close()
    c = jobs_table.c
    queries = {
        "a model's active job": jobs_table.select()
        .where(c.model_id == JOB.model_id)
        .where(c.status.in_(ACTIVE))
        .order_by(c.created_at.desc())
        .limit(1),
        "a model's newest jobs": _newest(
            jobs_table.select().where(c.model_id == JOB.model_id), limit=5, team_id="T1"
        ),
        "a person's active jobs": _newest(
            jobs_table.select().where(c.requester == "U1").where(c.status.in_(ACTIVE)),
            limit=5,
            team_id=None,
        ),
        "the jobs to claim": _claimable(utc_now(), 5),
    }

    def plans(connection: sa.Connection) -> dict[str, str]:
        found = {}
        for name, query in queries.items():
            compiled = query.compile(connection, compile_kwargs={"literal_binds": True})
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
            found[name] = " / ".join(row[-1] for row in rows)
        return found

    for name, plan in (await _run(sqlite_url, plans)).items():
        assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, (name, plan)
        assert "SCAN retrain_jobs" not in plan, (name, plan)


async def test_postgresql_claims_jobs_by_the_pending_index() -> None:
    async with postgres_database() as url:
        store = SqlJobStore(url)
        await store.open()
        await store.close()

        def plan(connection: sa.Connection) -> str:
            # A new table is small enough to read whole; forbidding that shows which index
            # the planner would use on a large one.
            connection.exec_driver_sql("SET enable_seqscan = off")
            query = _claimable(utc_now(), 5).compile(
                connection, compile_kwargs={"literal_binds": True}
            )
            return "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {query}"))

        assert "retrain_jobs_pending" in await _run(url, plan)
