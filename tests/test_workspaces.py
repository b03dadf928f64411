"""Several workspaces on one bot, end to end: each sees its own trainings, schedules and
choices, a retrain of a model training for another workspace names nothing of it, and jobs
and audit lines carry their team and enterprise.

Commands arrive signed at the served bot with the `team_id` (and `enterprise_id`) Slack sends.
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlencode

import pytest

from bot.core.jobs import Job
from bot.core.owed import DM_NONE
from bot.fakes.slack import Channel, sign_slack_request, slash_command_fields
from bot.store.audit import AuditKind, AuditLog
from tests.conftest import CHANNEL, SIGNING_SECRET, USER, Stack
from tests.test_interactions import wait_job

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
HOME_TEAM = "T0001"
OTHER_TEAM = "T0002"
OTHER_CHANNEL = "C0002"
OTHER = "U0OTHER003"
DM = "D0REQUEST1"  # the fake's DM between the bot and USER

pytestmark = pytest.mark.slack(
    channels=[Channel(id=CHANNEL, name="general"), Channel(id=OTHER_CHANNEL, name="elsewhere")]
)


async def _ask(stack: Stack, text: str, *, team: str, user: str = OTHER) -> str:
    """The private answer to `text` typed in `team` (in its channel), blocks included."""
    channel = CHANNEL if team == HOME_TEAM else OTHER_CHANNEL
    _, url = await stack.command(text, user=user, channel=channel, team_id=team)
    await stack.wait_private(url)
    post = stack.slack.responses[url][-1]
    return f"{post.text}\n{json.dumps(post.blocks or [])}"


async def _training(stack: Stack, *, enterprise_id: str | None = None) -> Job:
    """A training that goes on, asked for in the home team's #general (of an Enterprise Grid
    org, with `enterprise_id`); its card is posted."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, stall=True)
    fields = slash_command_fields(
        text=MODEL,
        user_id=USER,
        channel_id=CHANNEL,
        team_id=HOME_TEAM,
        response_url=stack.slack.response_url(),
    )
    if enterprise_id is not None:  # Slack adds these for a workspace of an org
        fields |= {"enterprise_id": enterprise_id, "enterprise_name": "Example Org"}
    body = urlencode(fields).encode()
    headers = sign_slack_request(
        signing_secret=SIGNING_SECRET, body=body, timestamp=int(time.time())
    )
    form = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    async with stack.session.post(stack.url, data=body, headers=form) as response:
        assert response.status == 200
    return await wait_job(stack, lambda j: j.parent_ts is not None)


async def _open_home(stack: Stack, *, team: str) -> str:
    """The Home tab USER gets when opening it in `team`."""
    before = len(stack.slack.views)
    body = json.dumps(
        {
            "token": "fake-verification-token",
            "team_id": team,
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": f"Ev{time.time_ns()}",
            "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": USER, "tab": "home"},
        }
    ).encode()
    headers = sign_slack_request(
        signing_secret=SIGNING_SECRET, body=body, timestamp=int(time.time())
    )
    async with stack.session.post(
        stack.url, data=body, headers={**headers, "Content-Type": "application/json"}
    ) as response:
        assert response.status == 200
    views = await stack.slack.wait_for(
        lambda: stack.slack.views[before:], timeout=3, what="a published Home tab"
    )
    return json.dumps(views[-1].view["blocks"])


def _names_home(answer: str) -> bool:
    return CHANNEL in answer or "archives/" in answer


async def test_a_retrain_of_a_model_training_elsewhere_names_no_channel(stack: Stack) -> None:
    """Another workspace asking for the model hears it trains for another workspace, and
    nothing of where; nothing new starts."""
    job = await _training(stack)
    answer = await _ask(stack, MODEL, team=OTHER_TEAM)
    assert "already being followed for another workspace" in answer
    assert not _names_home(answer)
    assert [j.id for j in await stack.bot.store.recent(limit=10)] == [job.id]


async def test_a_training_of_another_workspace_is_not_theirs_to_stop(stack: Stack) -> None:
    """`/retrain cancel` in another workspace stops nothing and names nothing of the home one;
    in the home workspace it stops the training."""
    job = await _training(stack)
    answer = await _ask(stack, f"cancel {MODEL}", team=OTHER_TEAM)
    assert "followed for another workspace" in answer
    assert not _names_home(answer)
    stored = await stack.bot.store.get(job.id)
    assert stored is not None
    assert not stored.is_final
    assert "Stopped following" in await _ask(stack, f"cancel {MODEL}", team=HOME_TEAM, user=USER)


async def test_the_read_commands_show_a_workspace_its_own_trainings(stack: Stack) -> None:
    """`list` and `history` in another workspace leave the training out; `status` says only
    that the model trains for another workspace; the home workspace sees it all."""
    await _training(stack)
    assert MODEL in await _ask(stack, "list", team=HOME_TEAM)
    for text in ("list", "history", f"history {MODEL}"):
        answer = await _ask(stack, text, team=OTHER_TEAM)
        assert MODEL not in answer
        assert not _names_home(answer)
    status = await _ask(stack, f"status {MODEL}", team=OTHER_TEAM)
    assert "No retrain of" in status
    assert "training now for another workspace" in status
    assert not _names_home(status)
    assert f"archives/{CHANNEL}/" in await _ask(stack, f"status {MODEL}", team=HOME_TEAM)


async def test_the_home_tab_shows_the_trainings_of_its_workspace(stack: Stack) -> None:
    """The same person opening Home in another workspace does not see this one's trainings."""
    await _training(stack)
    assert MODEL in await _open_home(stack, team=HOME_TEAM)
    elsewhere = await _open_home(stack, team=OTHER_TEAM)
    assert MODEL not in elsewhere
    assert "not retrained a model" in elsewhere


async def test_jobs_and_audit_lines_carry_team_and_enterprise(stack: Stack) -> None:
    """A command from an Enterprise Grid workspace: its job and its trail lines name both."""
    job = await _training(stack, enterprise_id="E0001")
    assert (job.team_id, job.enterprise_id) == (HOME_TEAM, "E0001")
    events = await AuditLog(stack.bot.store).events()  # type: ignore[arg-type]
    [command] = [e for e in events if e.kind == AuditKind.COMMAND]
    assert (command.team_id, command.enterprise_id) == (HOME_TEAM, "E0001")
    submitted = [e for e in events if e.kind == AuditKind.SUBMITTED]
    assert [(e.team_id, e.enterprise_id) for e in submitted] == [(HOME_TEAM, "E0001")]


async def test_schedules_are_listed_and_removed_in_their_workspace(stack: Stack) -> None:
    """`schedules` in another workspace does not list this one's; `unschedule` there does
    not know it."""
    stack.simulator.add_model(MODEL)
    made = await _ask(stack, f'schedule {MODEL} cron="0 6 * * MON"', team=HOME_TEAM, user=USER)
    auto_id = made.split("`")[1]
    assert auto_id.startswith("sch-")
    assert auto_id in await _ask(stack, "schedules", team=HOME_TEAM, user=USER)
    assert auto_id not in await _ask(stack, "schedules", team=OTHER_TEAM, user=USER)
    assert "removed" not in await _ask(stack, f"unschedule {auto_id}", team=OTHER_TEAM, user=USER)
    assert "removed" in await _ask(stack, f"unschedule {auto_id}", team=HOME_TEAM, user=USER)


async def test_a_dm_choice_holds_in_its_own_workspace(stack: Stack) -> None:
    """`notify dm` made in another workspace sends no DM for a training of this one."""
    await _ask(stack, "notify dm", team=OTHER_TEAM, user=USER)
    assert "direct message" in await _ask(stack, "notify", team=OTHER_TEAM, user=USER)
    assert "threads only" in await _ask(stack, "notify", team=HOME_TEAM, user=USER)
    stack.simulator.add_model(MODEL)
    await stack.command(MODEL, team_id=HOME_TEAM)
    [job] = await stack.wait_final()
    async with asyncio.timeout(10):
        while DM_NONE not in job.reported:
            await asyncio.sleep(0.02)
            stored = await stack.bot.store.get(job.id)
            assert stored is not None
            job = stored
    assert stack.slack.messages(DM) == []
