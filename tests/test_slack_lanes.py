"""Calls that name no channel (modals, the Home tab, user groups) go through the outbox.

End to end against the served bot: Slack's 429 with `Retry-After` on `views.open`,
`views.publish` and `usergroups.users.list` is waited out and the call made again, except where
the trigger_id of a modal would expire first. The gatekeeper's fallbacks for a group Slack will
not list are checked against the real user-group lookup and outbox.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.access import AccessPolicy
from bot.access.gatekeeper import Gatekeeper
from bot.core.grammar import RetrainOptions
from bot.core.requester import Requester
from bot.fakes.slack import FakeSlack
from bot.slack.groups import UserGroups
from bot.slack.ids import ActionId, CallbackId
from bot.slack.outbox import Outbox
from bot.store.jobs import SqlJobStore
from tests.conftest import CHANNEL, USER, Stack
from tests.test_access import APPROVER, POLICY, _approval_card
from tests.test_interactions import click, send_event

GROUP = "S0TEAM0001"
GROUP_MODEL = "GRPAAAAAAAAAAAAAAAAAAAAAAA"
TRIGGER = "1700000000.4242.0123456789abcdef0123456789abcdef"


def statuses(stack: Stack, method: str) -> list[int]:
    return [call.status for call in stack.slack.calls_to(method)]


def waited(stack: Stack, method: str) -> float:
    """Seconds between the first (refused) call of `method` and the next."""
    first, second = stack.slack.calls_to(method)[:2]
    return second.time - first.time


# -- 429 on views.open, views.publish, usergroups.users.list ---------------------------------


async def test_form_opens_after_a_ratelimited_views_open(stack: Stack) -> None:
    """A 429 on views.open is retried after Retry-After and the retrain form opens."""
    stack.slack.fail_next("views.open", status=429, retry_after=1)
    _, url = await stack.command("", trigger_id=TRIGGER)
    [view] = await stack.slack.wait_for(lambda: stack.slack.views, timeout=3, what="views.open")
    assert view.trigger_id == TRIGGER
    assert view.view["callback_id"] == CallbackId.RETRAIN_MODAL
    assert statuses(stack, "views.open") == [429, 200]
    assert waited(stack, "views.open") >= 1.0
    assert stack.private(url) == [], "no help instead of the form"


@pytest.mark.settings(retrain_policy_file=str(POLICY))
async def test_reason_form_opens_after_a_ratelimited_views_open(stack: Stack) -> None:
    """A 429 on the reason form's views.open is retried and the form opens; nothing is declined."""
    job = await _approval_card(stack)
    stack.slack.fail_next("views.open", status=429, retry_after=1)
    await click(stack, ActionId.REJECT, job, user=APPROVER)
    [view] = await stack.slack.wait_for(lambda: stack.slack.views, timeout=3, what="views.open")
    assert view.view["callback_id"] == CallbackId.REJECT_MODAL
    assert statuses(stack, "views.open") == [429, 200]
    stored = await stack.bot.store.get(job.id)
    assert stored is not None
    assert stored.status == "AWAITING_APPROVAL"


async def test_form_gives_up_when_retry_after_outlasts_the_trigger(stack: Stack) -> None:
    """A Retry-After longer than the trigger_id lives: help privately, and no second views.open."""
    stack.slack.fail_next("views.open", status=429, retry_after=4)
    _, url = await stack.command("", trigger_id=TRIGGER)
    text = await stack.wait_private(url, timeout=6)
    assert "split" in text
    # The outbox drops the withdrawn call once the hold is over, and its lane with it.
    await stack.slack.wait_for(
        lambda: stack.bot.outbox.active_channels == 0, timeout=8, what="an idle outbox"
    )
    assert statuses(stack, "views.open") == [429]
    assert stack.slack.views == []


async def test_home_is_published_after_a_ratelimited_views_publish(stack: Stack) -> None:
    """A 429 on views.publish is retried after Retry-After and the Home tab is published."""
    stack.slack.fail_next("views.publish", status=429, retry_after=1)
    assert await send_event(stack, {"type": "app_home_opened", "user": USER, "tab": "home"}) == 200
    [view] = await stack.slack.wait_for(lambda: stack.slack.views, timeout=5, what="publish")
    assert view.action == "publish"
    assert view.user_id == USER
    assert "not retrained a model" in json.dumps(view.view["blocks"])
    assert statuses(stack, "views.publish") == [429, 200]
    assert waited(stack, "views.publish") >= 1.0


@pytest.mark.settings(retrain_policy_file=str(POLICY))
async def test_group_member_is_allowed_after_a_ratelimited_lookup(stack: Stack) -> None:
    """A 429 on usergroups.users.list is retried after Retry-After and the member may retrain."""
    stack.simulator.add_model(GROUP_MODEL)
    stack.usergroups[GROUP] = [USER]
    stack.slack.fail_next("usergroups.users.list", status=429, retry_after=1)
    _, url = await stack.command(GROUP_MODEL)
    [job] = await stack.wait_final()
    assert job.requester == USER
    assert job.status == "SUCCEEDED"
    assert statuses(stack, "usergroups.users.list") == [429, 200]
    assert waited(stack, "usergroups.users.list") >= 1.0
    assert not [t for t in stack.private(url) if "not started" in t]
    assert stack.slack.calls_to("usergroups.users.list")[0].args.get("channel") is None


# -- a group Slack will not list -------------------------------------------------------------


class Clock:
    """Time the test moves on by hand, past the membership cache's lifetime."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(usergroups={GROUP: [USER]}) as server:
        yield server


@pytest.fixture
async def gate_parts(slack: FakeSlack, tmp_path: Path) -> AsyncIterator[tuple[Gatekeeper, Clock]]:
    """A gatekeeper asking the fake Slack through a real user-group lookup and outbox."""
    clock = Clock()
    store = SqlJobStore(f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    await store.open()
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url, session=session)
        outbox = Outbox(client=client)
        groups = UserGroups(outbox=outbox)
        policy = AccessPolicy.from_config(allowed_groups=GROUP)
        yield Gatekeeper(policy=policy, store=store, groups=groups, clock=clock), clock
        await outbox.close()
    await store.close()


async def allowed(gate: Gatekeeper) -> bool:
    decision = await gate.check_retrain(
        Requester(user=USER, channel=CHANNEL, team_id="T0001"),
        model_id=GROUP_MODEL,
        options=RetrainOptions(),
    )
    return decision.allowed


async def test_group_slack_will_not_list_counts_as_empty(
    slack: FakeSlack, gate_parts: tuple[Gatekeeper, Clock]
) -> None:
    """A group Slack refuses to list (missing_scope) counts as empty: its member is refused."""
    gate, _ = gate_parts
    slack.fail_next("usergroups.users.list", error="missing_scope")
    assert not await allowed(gate)
    assert [c.error for c in slack.calls_to("usergroups.users.list")] == ["missing_scope"]


async def test_refused_lookup_keeps_the_last_answer(
    slack: FakeSlack, gate_parts: tuple[Gatekeeper, Clock]
) -> None:
    """Once the cached membership is stale, a refused lookup falls back to it, not to empty."""
    gate, clock = gate_parts
    assert await allowed(gate)
    clock.now += 301.0
    slack.fail_next("usergroups.users.list", error="missing_scope")
    assert await allowed(gate)
    assert [c.ok for c in slack.calls_to("usergroups.users.list")] == [True, False]
