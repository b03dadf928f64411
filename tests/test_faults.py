"""Both edges under faults at once: every training still ends with exactly one terminal reply.

Einstein: 20% of calls answer 5xx, some hang past the client's timeout, 429 bursts with
Retry-After, access tokens that live two seconds and are revoked besides. Slack: a burst of 30
commands in one channel against a per-channel posting limit (429 with Retry-After), and 5xx.
Afterwards: no message lost or repeated, every model retrained once, no secret in any log line.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import pytest

from bot.fakes.einstein.simulator import EinsteinSimulator
from bot.fakes.loopback import model_ids
from tests.conftest import CHANNEL, SIGNING_SECRET, Stack
from tests.test_instances import TERMINAL, thread_states

JOBS = 30


@pytest.fixture
def simulator() -> EinsteinSimulator:
    """Short trainings, and tokens that expire every two seconds."""
    return EinsteinSimulator(
        time_scale=100.0, queue_seconds=30.0, run_seconds=150.0, token_ttl=2.0, seed=7
    )


@pytest.mark.slack(post_rate_per_channel=25.0, post_burst=5)
@pytest.mark.settings(einstein_timeout=0.5)
@pytest.mark.timing(unreachable_after=3600, max_backoff=0.5)
async def test_everything_fails_a_little(
    stack: Stack, key_pair: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """30 retrains through Einstein and Slack faults: each ends once, nothing is lost."""
    caplog.set_level(logging.DEBUG)
    models = model_ids(JOBS, prefix="FAULT")
    for model in models:
        stack.simulator.add_model(model)
    sim = stack.simulator
    sim.fault_rate(0.2, statuses=(500, 502, 503), seed=11)
    sim.fail_next("getTrainStatusAndProgress", status=None, delay=0.8, times=4)  # time-outs
    sim.fail_next("*", status=429, retry_after=1, times=6)
    stack.slack.fault_rate(
        0.1, methods={"chat.postMessage", "chat.update"}, statuses=(500, 503), seed=5
    )

    async def revoke_tokens() -> None:
        while True:
            await asyncio.sleep(1.5)
            sim.revoke_tokens()

    revoker = asyncio.ensure_future(revoke_tokens())
    try:
        answers = await asyncio.gather(*(stack.command(model) for model in models))
        assert all(answer.status == 200 for answer, _ in answers)
        await stack.slack.wait_for(
            lambda: (
                sum(1 for c in thread_states(stack.slack).values() if sum(c[s] for s in TERMINAL))
                == JOBS
            ),
            timeout=120,
            what="every thread's terminal reply",
        )
        await asyncio.sleep(0.5)
    finally:
        revoker.cancel()

    states = thread_states(stack.slack)
    assert len(states) == JOBS
    for job_id, counts in states.items():
        assert counts["CARD"] == 1, (job_id, counts)
        assert sum(counts[s] for s in TERMINAL) == 1, (job_id, counts)
        assert all(n == 1 for n in counts.values()), (job_id, counts)
    accepted = Counter(
        c.form["modelId"] for c in sim.calls("retrain") if c.status == 200 and c.form
    )
    assert accepted == Counter(models), "each model retrained exactly once"
    assert any(c.status == 429 for c in stack.slack.calls), "Slack's limit was hit"
    assert any(c.status and c.status >= 500 for c in sim.requests), "Einstein failed too"
    assert len(sim.calls("generateTokenV2")) > 2, "tokens were minted again and again"

    secrets = {SIGNING_SECRET, "xoxb-test-token", *key_pair[0].splitlines()[1:-1]}
    secrets |= {
        r.headers.get("Authorization", "").removeprefix("Bearer ")
        for r in sim.requests
        if r.headers.get("Authorization")
    }
    secrets.discard("")
    lines = [record.getMessage() for record in caplog.records]
    lines += [caplog.text]
    leaked = {s for s in secrets if any(s in line for line in lines)}
    assert not leaked, f"{len(leaked)} secret(s) found in the logs"
    assert CHANNEL
