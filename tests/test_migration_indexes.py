"""Revision 0003 (two job indexes fewer) on SQLite and PostgreSQL: rows stay, the two indexes
go (and come back with the downgrade), and the reads they served still find their rows by an
index (SQLite's query plans)."""

from __future__ import annotations

import sqlalchemy as sa

from bot.store.jobs import SqlJobStore
from bot.store.migrate import head, schema_status
from bot.store.reads import _newest
from bot.store.rows import to_row
from bot.store.schema import ACTIVE, jobs_table, metadata
from tests.test_migration_workspaces import JOB, _differences, _to
from tests.test_migrations import _run

DROPPED = {"ix_retrain_jobs_model_id", "ix_retrain_jobs_status"}


def _job_indexes(connection: sa.Connection) -> set[str]:
    return {index["name"] or "" for index in sa.inspect(connection).get_indexes("retrain_jobs")}


async def test_a_database_at_0002_keeps_its_jobs_without_the_two_indexes(
    database_url: str,
) -> None:
    await _run(database_url, _to("0002"))
    await _run(database_url, lambda conn: conn.execute(jobs_table.insert(), [to_row(JOB)]))
    assert await _run(database_url, _job_indexes) >= DROPPED
    assert await schema_status(database_url) == ("0002", head())
    store = SqlJobStore(database_url)  # opening upgrades to the head
    await store.open()
    try:
        assert await store.get(JOB.id) == JOB
        assert await store.active_for_model(JOB.model_id) == JOB
        assert await store.of_model(JOB.model_id, limit=5, team_id="T1") == [JOB]
    finally:
        await store.close()
    assert await schema_status(database_url) == (head(), head())
    indexes = await _run(database_url, _job_indexes)
    assert not DROPPED & indexes
    assert {"retrain_jobs_model_created", "retrain_jobs_requester_created"} <= indexes
    assert await _run(database_url, _differences(metadata)) == []

    await _run(database_url, _to("0002", down=True))
    assert await _run(database_url, _job_indexes) >= DROPPED


async def test_the_reads_of_a_model_and_of_a_person_still_use_an_index(sqlite_url: str) -> None:
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
