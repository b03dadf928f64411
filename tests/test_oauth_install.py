"""Installed with Slack's OAuth flow in two workspaces, through the bot's real endpoints.

The served bot has SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_STATE_SECRET instead of a
bot token. Each test installs it the way a person does: the bot's `/slack/install` page, the
fake Slack's "Allow" (its `team` argument says in which workspace), the bot's
`/slack/oauth_redirect` with the state cookie. Then trainings run in both workspaces at once,
each workspace's posts carry its own token, and an uninstall quiets one workspace only.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re

import aiohttp
import pytest

from bot.core.jobs import Job, JobStatus
from bot.core.machine import UNINSTALLED
from bot.fakes.slack import Channel
from bot.slack.bolt import NOT_INSTALLED_HERE
from bot.slack.installs import INSTALL_PATH
from tests.conftest import CHANNEL, USER, Stack

pytestmark = pytest.mark.oauth()

FIRST, SECOND = "T0001", "T0002"
THERE = "C0201"  # #general of the second workspace
ORG, ORG_TEAM, ORG_CHANNEL = "E0001", "T0005", "C0501"
MODEL_HERE, MODEL_THERE = "MODELHEREAAAAAAAAAAAAAAAAA", "MODELTHEREAAAAAAAAAAAAAAAA"
STATE_COOKIE = "slack-app-oauth-state"
BACKENDS = [
    pytest.param("sqlite"),
    pytest.param("postgresql", marks=pytest.mark.database("postgresql")),
]


def _second_workspace(stack: Stack) -> None:
    stack.slack.add_workspace(team_id=SECOND, name="Second", channels=[Channel(THERE, "general")])


def _org_workspace(stack: Stack) -> None:
    """A workspace of the Enterprise Grid org `ORG`."""
    stack.slack.add_workspace(
        team_id=ORG_TEAM,
        name="Org team",
        channels=[Channel(ORG_CHANNEL, "ml")],
        enterprise_id=ORG,
        enterprise_name="Org",
    )


async def install(stack: Stack, team: str, *, org: bool = False) -> None:
    """Open the served bot's install page, click "Allow" in `team`, come back."""
    await install_at(stack.session, stack.url.removesuffix("/slack/events"), team=team, org=org)


async def install_at(
    session: aiohttp.ClientSession, root: str, *, team: str, org: bool = False
) -> None:
    """Open the install page of the bot at `root`, click "Allow" in `team`, come back to its
    redirect."""
    async with session.get(f"{root}{INSTALL_PATH}") as page:
        assert page.status == 200, await page.text()
        body = await page.text()
        state = page.cookies[STATE_COOKIE].value
    found = re.search(r'href="([^"]+/oauth/v2/authorize[^"]*)"', body)
    assert found is not None, body
    allow = html.unescape(found.group(1)) + f"&team={team}&user=U0ADMIN" + ("&org=1" if org else "")
    async with session.get(allow, allow_redirects=False) as allowed:
        assert allowed.status == 302, await allowed.text()
        back = allowed.headers["Location"]
    # The browser sends back the cookie the install page set (Secure: the test carries it).
    async with session.get(back, headers={"Cookie": f"{STATE_COOKIE}={state}"}) as done:
        assert done.status == 200, await done.text()
        assert "Thank you" in await done.text() or "success" in (await done.text()).lower()


async def _final(stack: Stack, model_id: str, *, timeout: float = 15.0) -> Job:
    async def final() -> Job | None:
        job = next(iter(await stack.bot.store.of_model(model_id, limit=1)), None)
        return job if job is not None and job.is_final else None

    for _ in range(int(timeout / 0.02)):
        job = await final()
        if job is not None:
            return job
        await asyncio.sleep(0.02)
    raise TimeoutError(f"the training of {model_id} did not end")


def _posts_in(stack: Stack, channel: str) -> list[str | None]:
    """The workspace each post or edit in `channel` was served in (from its token)."""
    methods = ("chat.postMessage", "chat.update")
    return [
        c.team
        for c in stack.slack.calls
        if c.method in methods and c.args.get("channel") == channel
    ]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_installed_in_two_workspaces_each_retrains_with_its_own_token(
    stack: Stack, backend: str
) -> None:
    """Both workspaces install the bot through its pages, train at once, and each card and
    reply goes out with its own workspace's token; the store names each job's workspace."""
    _second_workspace(stack)
    await install(stack, FIRST)
    await install(stack, SECOND)
    assert [i.team_id for i in stack.slack.installs] == [FIRST, SECOND]
    stack.simulator.add_model(MODEL_HERE)
    stack.simulator.add_model(MODEL_THERE)
    (here, _), (there, _) = await asyncio.gather(
        stack.command(MODEL_HERE, team_id=FIRST),
        stack.command(MODEL_THERE, channel=THERE, team_id=SECOND),
    )
    assert here.status == there.status == 200
    assert "Submitting the retrain" in here.body + there.body
    done_here, done_there = await asyncio.gather(
        _final(stack, MODEL_HERE), _final(stack, MODEL_THERE)
    )
    assert done_here.status == done_there.status == JobStatus.SUCCEEDED
    assert (done_here.team_id, done_there.team_id) == (FIRST, SECOND)
    await stack.wait_final(count=2)
    assert set(_posts_in(stack, CHANNEL)) == {FIRST}
    assert set(_posts_in(stack, THERE)) == {SECOND}
    [card_there] = stack.cards(THERE)
    assert card_there.user == stack.slack.team(SECOND).bot.user_id
    assert stack.cards(CHANNEL)[0].user == stack.slack.team(FIRST).bot.user_id


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_uninstalled_workspace_goes_quiet_and_the_other_goes_on(
    stack: Stack, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Uninstalled mid-training: that workspace's job stops being followed and nothing more is
    posted there, said once in the log; the other workspace's training ends as usual and its
    next command works, while the uninstalled workspace's is answered with Bolt's install hint."""
    _second_workspace(stack)
    await install(stack, FIRST)
    await install(stack, SECOND)
    stack.simulator.add_model(MODEL_HERE)
    stack.simulator.add_model(MODEL_THERE)
    stack.simulator.script(MODEL_THERE, queue_seconds=30, run_seconds=30_000)
    stack.simulator.script(MODEL_HERE, queue_seconds=30, run_seconds=600)
    await stack.command(MODEL_THERE, channel=THERE, team_id=SECOND)
    await stack.command(MODEL_HERE, team_id=FIRST)
    await stack.slack.wait_for(lambda: stack.cards(THERE), what="the card there", timeout=5)
    with caplog.at_level(logging.WARNING):
        answers = await stack.slack.uninstall(team_id=SECOND)
        assert [answer.status for answer in answers] == [200, 200]
        there = await stack.bot.store.get(
            (await stack.bot.store.of_model(MODEL_THERE, limit=1))[0].id
        )
        assert there is not None
        assert there.status == JobStatus.CANCELLED
        assert UNINSTALLED in there.reported
        posts_there = len(_posts_in(stack, THERE))
        done_here = await _final(stack, MODEL_HERE)
    assert done_here.status == JobStatus.SUCCEEDED
    assert len(_posts_in(stack, THERE)) == posts_there  # nothing more went there
    said = [r.getMessage() for r in caplog.records if "uninstalled the app" in r.getMessage()]
    assert said == [
        f"workspace {SECOND} uninstalled the app: 1 followed training(s) there are no longer "
        "followed or reported"
    ]
    # The first workspace goes on; the second is asked to install the app again.
    stack.simulator.script(MODEL_HERE, queue_seconds=30, run_seconds=150)
    answer, _ = await stack.command(MODEL_HERE, team_id=FIRST)
    assert "Submitting the retrain" in answer.body
    answer, url = await stack.command(MODEL_THERE, channel=THERE, team_id=SECOND)
    assert answer.status == 200
    assert await stack.wait_private(url) == NOT_INSTALLED_HERE


async def test_an_org_wide_install_serves_a_workspace_of_the_org(stack: Stack) -> None:
    """Installed once for an Enterprise Grid org: a command in one of its workspaces trains
    and posts with the org's token, and the job names the workspace and the org."""
    _org_workspace(stack)
    await install(stack, ORG_TEAM, org=True)
    assert [
        (i.team_id, i.enterprise_id, i.is_enterprise_install) for i in stack.slack.installs
    ] == [(None, ORG, True)]
    stack.simulator.add_model(MODEL_HERE)
    answer, _ = await stack.command(
        MODEL_HERE,
        channel=ORG_CHANNEL,
        team_id=ORG_TEAM,
        enterprise_id=ORG,
        is_enterprise_install="true",
    )
    assert "Submitting the retrain" in answer.body, answer.body
    job = await _final(stack, MODEL_HERE)
    assert (job.team_id, job.enterprise_id, job.status) == (ORG_TEAM, ORG, JobStatus.SUCCEEDED)
    assert set(_posts_in(stack, ORG_CHANNEL)) == {ORG_TEAM}


async def test_a_command_from_a_workspace_that_never_installed_is_not_started(
    stack: Stack,
) -> None:
    """No installation: Bolt answers with its install hint and nothing is stored or trained."""
    _second_workspace(stack)
    await install(stack, FIRST)
    stack.simulator.add_model(MODEL_THERE)
    answer, url = await stack.command(MODEL_THERE, channel=THERE, team_id=SECOND, user=USER)
    assert answer.status == 200
    assert await stack.wait_private(url) == NOT_INSTALLED_HERE
    assert await stack.bot.store.of_model(MODEL_THERE, limit=1) == []
    assert stack.simulator.calls("retrain") == []


async def test_an_org_wide_uninstall_quiets_every_workspace_of_the_org(stack: Stack) -> None:
    """Uninstalled from the whole org: the training in one of its workspaces is no longer
    followed, and the bot's own workspace outside the org goes on."""
    _org_workspace(stack)
    await install(stack, FIRST)
    await install(stack, ORG_TEAM, org=True)
    stack.simulator.add_model(MODEL_THERE)
    stack.simulator.script(MODEL_THERE, queue_seconds=30, run_seconds=30_000)
    await stack.command(
        MODEL_THERE,
        channel=ORG_CHANNEL,
        team_id=ORG_TEAM,
        enterprise_id=ORG,
        is_enterprise_install="true",
    )
    await stack.slack.wait_for(lambda: stack.cards(ORG_CHANNEL), what="the org's card")
    answers = await stack.slack.uninstall(enterprise_id=ORG)
    assert [answer.status for answer in answers] == [200, 200]
    [job] = await stack.bot.store.of_model(MODEL_THERE, limit=1)
    assert job.status == JobStatus.CANCELLED
    assert UNINSTALLED in job.reported
    stack.simulator.add_model(MODEL_HERE)
    answer, _ = await stack.command(MODEL_HERE, team_id=FIRST)
    assert "Submitting the retrain" in answer.body
    assert (await _final(stack, MODEL_HERE)).status == JobStatus.SUCCEEDED


@pytest.mark.timing(uninstalled_grace=0.3)
async def test_a_token_revoked_without_an_event_quiets_that_workspace_only(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack revokes the workspace's token and no event reaches the bot (its events URL is
    gone): the next post is refused, the token is looked up once more and found refused, and
    after the grace the job stops; said once in the log. The other workspace goes on."""
    _second_workspace(stack)
    await install(stack, FIRST)
    await install(stack, SECOND)
    stack.simulator.add_model(MODEL_THERE)
    stack.simulator.script(MODEL_THERE, queue_seconds=30, run_seconds=300)
    await stack.command(MODEL_THERE, channel=THERE, team_id=SECOND)
    await stack.slack.wait_for(lambda: stack.cards(THERE), what="the card there", timeout=5)
    stack.slack.set_events_url(None)
    with caplog.at_level(logging.WARNING):
        assert await stack.slack.uninstall(team_id=SECOND) == []
        [there] = await stack.bot.store.of_model(MODEL_THERE, limit=1)
        job = await _final(stack, MODEL_THERE)
    assert job.id == there.id
    assert job.status == JobStatus.CANCELLED
    assert UNINSTALLED in job.reported
    said = [
        r.getMessage() for r in caplog.records if f"workspace {SECOND} has no" in r.getMessage()
    ]
    assert len(said) == 1
    stack.simulator.add_model(MODEL_HERE)
    answer, _ = await stack.command(MODEL_HERE, team_id=FIRST)
    assert "Submitting the retrain" in answer.body
    assert (await _final(stack, MODEL_HERE)).status == JobStatus.SUCCEEDED
