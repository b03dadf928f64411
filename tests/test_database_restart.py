"""PostgreSQL goes away under running bots and comes back: nothing is lost or said twice.

The test runs its own PostgreSQL cluster (tests/pgcluster.py), never the shared server, and
stops it with `pg_ctl -m fast`, which cuts every connection as a restart or a failover does.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.fakes.loopback import model_ids
from bot.fakes.slack import FakeSlack
from tests.conftest import ACCOUNT, CHANNEL
from tests.pgcluster import pg_cluster
from tests.processes import BotProcess, bot_env
from tests.test_instances import assert_exactly_once, finished, thread_states, world

# What a user must never be shown: a traceback, or the database layer's own words.
INTERNALS = ("Traceback", "asyncpg", "sqlalchemy", "StoreError", "OperationalError")


def has_card(slack: FakeSlack, model: str) -> bool:
    """Whether a card (and so a thread) was posted for `model`."""
    return any(
        message.thread_ts is None
        and message.versions[0].metadata is not None
        and message.versions[0].metadata.event_payload.get("model_id") == model
        for message in slack.messages(CHANNEL)
    )


async def test_postgres_restart_mid_run_loses_and_repeats_nothing(
    tmp_path: Path, key_pair: tuple[str, str]
) -> None:
    """PostgreSQL down, then back mid-run: jobs end once; a command meanwhile is answered in 3 s."""
    models = model_ids(8, prefix="PGDOWN")
    late = model_ids(1, prefix="PGLATE")[0]  # asked for while the database is down
    async with (
        pg_cluster() as cluster,
        world(key_pair, [*models, late]) as (simulator, slack, session),
    ):
        env = bot_env(
            slack_url=slack.api_url,
            einstein_url=simulator.base_url,
            database_url=cluster.url,
            account=ACCOUNT,
            private_key=key_pair[0],
            RETRAIN_LEASE_SECONDS="2",
        )
        bots = [BotProcess(env, tmp_path / f"bot{i}.log") for i in range(2)]
        try:
            await asyncio.gather(*(bot.start(session) for bot in bots))
            for n, model in enumerate(models):
                answer = await bots[n % 2].command(
                    session, model, response_url=slack.response_url()
                )
                assert answer.status == 200
            await slack.wait_for(
                lambda: len(thread_states(slack)) >= len(models) // 2,
                timeout=10,
                what="trainings in flight",
            )
            assert not finished(slack, len(models)), "trainings are in flight"
            await cluster.stop()
            response_url = slack.response_url()
            answer = await bots[0].command(session, late, response_url=response_url)
            assert answer.status == 200
            assert answer.elapsed < 3.0, "Slack gives a slash command 3 seconds"
            # Down longer than the lease: every lease has run out when the database is back.
            await asyncio.sleep(3.0)
            await cluster.start()
            # The late command may be refused or followed, never half done.
            await slack.wait_for(
                lambda: finished(slack, len(models) + has_card(slack, late)),
                timeout=40,
                what="every thread finished",
            )
            await asyncio.sleep(0.5)  # room for a duplicate to show up, if there were one
            for bot in bots:
                assert bot.process is not None
                assert bot.process.poll() is None, f"the bot died: {bot.log.read_text()[-3000:]}"
        finally:
            for bot in bots:
                bot.close()
        followed = [*models, late] if has_card(slack, late) else models
        assert_exactly_once(slack, followed, simulator)
        told = [answer.body] + [post.text or "" for post in slack.responses[response_url]]
        for text in told:
            for word in INTERNALS:
                assert word not in text, text
