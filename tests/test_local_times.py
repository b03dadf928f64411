"""Times in each reader's zone, end to end: Slack's date formatting in blocks, UTC in plain text.

Slack reads `<!date^…>` only in mrkdwn text of blocks; a message's plain `text` (notifications,
screen readers) keeps the time readable in UTC.
"""

from __future__ import annotations

import json
import re

import pytest

from bot.core.mrkdwn import local_time, utc_time
from tests.conftest import Stack
from tests.test_access import POLICY, _approval_card
from tests.test_interactions import send_event

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
DATE = re.compile(r"<!date\^\d+\^\{date_short_pretty\} \{time\}\|\d{4}-\d\d-\d\d \d\d:\d\d UTC>")


async def test_the_card_says_when_it_was_updated_in_local_time(stack: Stack) -> None:
    """The card's "Updated" line is a Slack date; its plain text has no date token."""
    stack.simulator.add_model(MODEL)
    await stack.command(MODEL)
    await stack.wait_final()
    [card] = stack.cards()
    assert card.blocks is not None
    [context] = [b for b in card.blocks if b["type"] == "context"]
    assert DATE.search(context["elements"][0]["text"])
    assert "<!date" not in card.text


@pytest.mark.settings(retrain_policy_file=str(POLICY))
async def test_the_approval_deadline_is_local_in_blocks_and_utc_in_text(stack: Stack) -> None:
    """The approval reply says until when in each reader's zone, and in UTC in its text."""
    job = await _approval_card(stack)
    assert job.approval_expires_at is not None
    [reply] = [r for r in stack.replies() if "protected" in r.text]
    assert reply.text.endswith(f"Approval is possible until {utc_time(job.approval_expires_at)}.")
    assert local_time(job.approval_expires_at) in json.dumps(reply.blocks)
    [card] = stack.cards()
    assert f"until {local_time(job.approval_expires_at)}" in json.dumps(card.blocks)


async def test_history_shows_when_each_training_ended(stack: Stack) -> None:
    """`history` gives each training's end as a Slack date in blocks and in UTC in its text."""
    stack.simulator.add_model(MODEL)
    await stack.command(MODEL)
    [job] = await stack.wait_final()
    assert job.finished_at is not None
    _, url = await stack.command("history")
    text = await stack.wait_private(url)
    [post] = stack.slack.responses[url]
    assert f"ended {utc_time(job.finished_at)}" in text
    assert "<!date" not in text
    assert f"ended {local_time(job.finished_at)}" in json.dumps(post.blocks)


async def test_the_home_tab_says_when_it_was_drawn_in_local_time(stack: Stack) -> None:
    """The Home tab's "Updated" line is a Slack date."""
    assert await send_event(stack, {"type": "app_home_opened", "user": "U1", "tab": "home"}) == 200
    [view] = await stack.slack.wait_for(lambda: stack.slack.views, timeout=5, what="Home")
    [context] = [b for b in view.view["blocks"] if b["type"] == "context"]
    assert DATE.search(context["elements"][0]["text"])
