"""CPU time of storing new jobs: the insert a `/retrain` answer waits for, per row.

New jobs go through the store's own `SqlJobStore.add`, which turns each into its row and
inserts the rows handed in together in one transaction (`bot.store.inserts`). Fifty commands
over loopback arrive in groups of about nine to twenty, so the batch sizes below bracket what
`bench_ack.py` sees. Each batch size gets a fresh database; the event loop's CPU time is divided
by the number of rows (on SQLite the insert runs on the loop's own thread, so this is all of it).
Each round also gives its longest batch, wall clock: what one insert can hold the loop up.

    python scripts/bench_insert.py [--rows 2000] [--batch 1 9 20 50] [--rounds 3]
                                   [--database-url postgresql://postgres@127.0.0.1:5432/test]

Without `--database-url`, SQLite in a temporary directory. With a PostgreSQL URL the rows go
to that database's `retrain_jobs` table and are deleted afterwards; the time is the bot's
side only (building, sending and awaiting the statement).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy.ext.asyncio import create_async_engine

from bot.core.jobs import Job
from bot.core.options import RetrainOptions
from bot.store.database import async_database_url
from bot.store.jobs import SqlJobStore
from bot.store.rows import utc_now
from bot.store.schema import jobs_table


def _jobs(count: int, prefix: str) -> list[Job]:
    return [
        Job(
            id=secrets.token_hex(8),
            model_id=f"{prefix}{n:08d}",
            options=RetrainOptions(train_split_ratio=0.7),
            requester="U0BENCH",
            channel="C0001",
            origin_channel="C0001",
            team_id="T0001",
            response_url="https://hooks.slack.com/commands/T0001/1/abc",
            created_at=utc_now(),
        )
        for n in range(count)
    ]


async def _round(url: str, rows: int, batch: int, prefix: str) -> tuple[float, float]:
    """CPU µs a row, adding `rows` new jobs `batch` at a time to a freshly opened store, and
    the longest wait for one batch in ms (wall clock): on SQLite the insert blocks the event
    loop, so this is how long requests in flight could be held up by one."""
    store = SqlJobStore(url)
    await store.open()
    try:
        jobs = _jobs(rows, prefix)
        await asyncio.gather(*(store.add(job, lease_seconds=30) for job in jobs[:batch]))
        longest = 0.0
        started = time.thread_time()
        for first in range(batch, rows, batch):
            chunk = jobs[first : first + batch]
            waited = time.perf_counter()
            await asyncio.gather(*(store.add(job, lease_seconds=30) for job in chunk))
            longest = max(longest, time.perf_counter() - waited)
        return (time.thread_time() - started) / (rows - batch) * 1e6, longest * 1000
    finally:
        await store.close()


async def _clean(url: str, prefix: str) -> None:
    if url.startswith("sqlite"):
        return  # the temporary directory goes, and its database with it
    engine = create_async_engine(async_database_url(url))
    async with engine.begin() as conn:
        await conn.execute(jobs_table.delete().where(jobs_table.c.model_id.startswith(prefix)))
    await engine.dispose()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 9, 20, 50])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    print(f"CPU time a new job's row, {args.rows} rows a round, {args.rounds} rounds:")
    for batch in args.batch:
        values, longest = [], []
        for _ in range(args.rounds):
            prefix = f"INSERTBENCH{secrets.token_hex(3).upper()}"
            with tempfile.TemporaryDirectory() as workdir:
                url = args.database_url or f"sqlite:///{Path(workdir) / 'bench.sqlite3'}"
                try:
                    cpu, wait = await _round(url, args.rows, batch, prefix)
                finally:
                    await _clean(url, prefix)
            values.append(cpu)
            longest.append(wait)
        runs = " ".join(f"{v:5.1f}" for v in values)
        median = statistics.median(values)
        waits = " ".join(f"{w:.1f}" for w in longest)
        print(
            f"  {batch:3} a transaction: {runs} µs  (min {min(values):.1f}, median {median:.1f});"
            f" longest batch {waits} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
