"""A retrain that makes the model worse: the success reply warns, names the loss, is broadcast."""

from __future__ import annotations

import pytest

from tests.conftest import Stack

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"


def _success(stack: Stack) -> str:
    (reply,) = [m for m in stack.replies() if "succeeded" in (m.text or "")]
    return reply.text or ""


async def test_a_worse_model_is_flagged_and_broadcast(stack: Stack) -> None:
    """Accuracy far below the model's before: warning, the loss in points, what to do, broadcast."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, accuracy=0.40)
    await stack.command(MODEL)
    (job,) = await stack.wait_final()
    assert job.result is not None
    assert job.result.regressed
    name, points = job.result.regressed[0]
    assert name == "test accuracy"
    assert points < -2.0
    (reply,) = [m for m in stack.replies() if "succeeded" in (m.text or "")]
    assert (reply.text or "").startswith(f"<@{job.requester}> :warning:")
    assert f"test accuracy by {-points:.1f} points" in (reply.text or "")
    blocks = str(reply.blocks)
    assert "replaces the model in place" in blocks
    assert f"/retrain {MODEL}" in blocks
    assert reply.reply_broadcast  # the channel sees it, not only the thread


@pytest.mark.settings(retrain_regression_alert=100.0)
async def test_the_alert_threshold_is_configurable(stack: Stack) -> None:
    """With RETRAIN_REGRESSION_ALERT at 100 points the same drop is reported plainly."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, accuracy=0.40)
    await stack.command(MODEL)
    (job,) = await stack.wait_final()
    assert job.result is not None
    assert job.result.regressed == ()
    assert ":warning:" not in _success(stack)
    assert not [m for m in stack.replies() if m.reply_broadcast]
