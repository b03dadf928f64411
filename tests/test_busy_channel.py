"""Ten trainings in one channel at Slack's pace: Einstein is still polled on schedule."""

from __future__ import annotations

import itertools

import pytest

from bot.core.jobs import JobStatus
from tests.conftest import Stack

STATUS = "getTrainStatusAndProgress"


@pytest.mark.settings(slack_post_interval=0.15)
async def test_ten_trainings_in_one_channel(stack: Stack) -> None:
    """Paced posts never hold polls; each state replies once, in order; cards end final."""
    models = [stack.simulator.add_model() for _ in range(10)]
    for model in models:
        await stack.command(model)
    jobs = await stack.wait_final(count=10, timeout=60.0)
    assert {j.status for j in jobs} == {JobStatus.SUCCEEDED}
    by_card = {m.ts: m for m in stack.cards()}
    for job in jobs:
        assert job.parent_ts in by_card
        states = [
            str((m.metadata.event_payload if m.metadata else {}).get("state"))
            for m in stack.replies()
            if m.thread_ts == job.parent_ts and m.metadata is not None
        ]
        # Every state seen is announced once, in the order it happened.
        assert states == [s for s in ("QUEUED", "RUNNING", "SUCCEEDED") if s in states]
        assert states[-1] == "SUCCEEDED"
        assert len(states) == len(set(states))
        card = by_card[job.parent_ts]
        assert card.metadata is not None
        assert "Succeeded" in card.text or "succeeded" in card.text
    # Thirty-odd posts at 0.15 s each take several seconds; meanwhile every training was polled
    # about every 50 ms: no gap between two status calls of one model near the posting backlog.
    for model in models:
        times = [r.time for r in stack.simulator.calls(STATUS) if r.model_id == model]
        assert len(times) >= 3
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert max(gaps) < 1.0, f"{model} went {max(gaps):.2f} s unpolled"
