"""Each workspace's token from the installation store in the bot's own database.

`Installations` is slack_sdk's SQLAlchemy installation store on the job store's engine, with
each workspace's bot kept a minute; `InstalledTokens` finds a workspace's token (or its org's,
for an org-wide install) and says once when a workspace has none. Both backends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import pytest
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakes.slack import OAUTH_ACCESS, FakeSlack, OAuthApp
from bot.slack.installs import Installations
from bot.slack.tokens import InstalledTokens, NotInstalled, Team
from bot.store.jobs import SqlJobStore
from tests.test_fakeslack_oauth import CLIENT_ID, CLIENT_SECRET, REDIRECT, Clock, install


def _installation(
    token: str, *, team_id: str | None, enterprise_id: str | None = None, org: bool = False
) -> Installation:
    return Installation(
        app_id="A0001",
        enterprise_id=enterprise_id,
        team_id=team_id,
        bot_token=token,
        bot_id="B0001",
        bot_user_id="U0BOT",
        bot_scopes="chat:write,commands",
        user_id="U0INSTALLER",
        is_enterprise_install=org,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def installations(store: SqlJobStore, clock: Clock) -> Installations:
    return Installations(client_id=CLIENT_ID, engine=lambda: store.engine, clock=clock)


async def test_each_workspace_has_its_own_token(installations: Installations) -> None:
    await installations.async_save(_installation("xoxb-one", team_id="T0001"))
    await installations.async_save(_installation("xoxb-two", team_id="T0002"))
    tokens = InstalledTokens(installations=installations, rotator=None)
    assert await tokens.token(Team("T0001")) == "xoxb-one"
    assert await tokens.token(Team("T0002")) == "xoxb-two"


async def test_an_org_wide_install_serves_each_workspace_of_the_org(
    installations: Installations,
) -> None:
    await installations.async_save(
        _installation("xoxb-org", team_id=None, enterprise_id="E0001", org=True)
    )
    tokens = InstalledTokens(installations=installations, rotator=None)
    assert await tokens.token(Team("T0005", enterprise_id="E0001")) == "xoxb-org"
    assert await tokens.token(Team("T0006", enterprise_id="E0001")) == "xoxb-org"
    with pytest.raises(NotInstalled):
        await tokens.token(Team("T0007", enterprise_id="E0002"))


async def test_a_workspace_without_installation_is_said_once(
    installations: Installations, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = InstalledTokens(installations=installations, rotator=None)
    with caplog.at_level(logging.WARNING, logger="bot.slack.tokens"):
        for _ in range(3):
            with pytest.raises(NotInstalled) as refused:
                await tokens.token(Team("T0009"))
            assert refused.value.code == "not_installed"
    assert len([r for r in caplog.records if "T0009" in r.getMessage()]) == 1
    with pytest.raises(NotInstalled):
        await tokens.token(None)  # a call that names no workspace is not sent anywhere


async def test_an_uninstall_is_seen_at_once_here_and_within_a_minute_elsewhere(
    store: SqlJobStore, installations: Installations, clock: Clock
) -> None:
    await installations.async_save(_installation("xoxb-one", team_id="T0001"))
    elsewhere = Installations(client_id=CLIENT_ID, engine=lambda: store.engine, clock=clock)
    here_tokens = InstalledTokens(installations=installations, rotator=None)
    there_tokens = InstalledTokens(installations=elsewhere, rotator=None)
    assert await there_tokens.token(Team("T0001")) == "xoxb-one"
    await installations.async_delete_all(enterprise_id=None, team_id="T0001")
    with pytest.raises(NotInstalled):
        await here_tokens.token(Team("T0001"))
    assert await there_tokens.token(Team("T0001")) == "xoxb-one"  # kept for a minute
    clock.now += 61
    with pytest.raises(NotInstalled):
        await there_tokens.token(Team("T0001"))


# --- token rotation ---------------------------------------------------------------------------

APP = OAuthApp(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=REDIRECT)


@pytest.fixture
async def rotating() -> AsyncIterator[FakeSlack]:
    """Slack with token rotation on: tokens live an hour, so each is due for renewal at once."""
    async with FakeSlack(oauth=replace(APP, token_rotation=True, token_lifetime=3600)) as fake:
        yield fake


def _rotator(fake: FakeSlack) -> AsyncTokenRotator:
    return AsyncTokenRotator(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        client=AsyncWebClient(base_url=fake.api_url),
    )


async def _installed(fake: FakeSlack, installations: Installations) -> Installation:
    async with aiohttp.ClientSession() as session:
        answer = await install(session, fake, team="T0001")
    installation = Installation(
        app_id=answer["app_id"],
        team_id=answer["team"]["id"],
        bot_token=answer["access_token"],
        bot_refresh_token=answer["refresh_token"],
        bot_token_expires_in=answer["expires_in"],
        bot_user_id=answer["bot_user_id"],
        bot_scopes=answer["scope"],
        user_id=answer["authed_user"]["id"],
    )
    await installations.async_save(installation)
    return installation


def _refreshes(fake: FakeSlack) -> int:
    return len(
        [c for c in fake.calls_to(OAUTH_ACCESS) if c.args.get("grant_type") == "refresh_token"]
    )


async def test_a_token_near_its_expiry_is_renewed_and_stored(
    rotating: FakeSlack, installations: Installations
) -> None:
    """The renewed token is saved and used; the next call finds it fresh and renews nothing."""
    old = await _installed(rotating, installations)
    tokens = InstalledTokens(installations=installations, rotator=_rotator(rotating))
    rotating.set_oauth(replace(APP, token_rotation=True))  # renewed tokens live 12 hours
    new = await tokens.token(Team("T0001"))
    assert new is not None
    assert new != old.bot_token
    assert _refreshes(rotating) == 1
    assert await tokens.token(Team("T0001")) == new
    assert _refreshes(rotating) == 1
    stored = await installations.async_find_bot(enterprise_id=None, team_id="T0001")
    assert stored is not None
    assert stored.bot_token == new
    reply = await AsyncWebClient(token=new, base_url=rotating.api_url).chat_postMessage(
        channel="C0001", text="renewed"
    )
    assert reply["ok"] is True


async def test_two_instances_renewing_at_once_both_end_with_a_working_token(
    rotating: FakeSlack, store: SqlJobStore, clock: Clock
) -> None:
    """A refresh token works once: the instance that loses the race uses the token the other
    one saved, and neither fails its call."""
    here = Installations(client_id=CLIENT_ID, engine=lambda: store.engine, clock=clock)
    there = Installations(client_id=CLIENT_ID, engine=lambda: store.engine, clock=clock)
    await _installed(rotating, here)
    rotating.set_oauth(replace(APP, token_rotation=True))
    first, second = await asyncio.gather(
        InstalledTokens(installations=here, rotator=_rotator(rotating)).token(Team("T0001")),
        InstalledTokens(installations=there, rotator=_rotator(rotating)).token(Team("T0001")),
    )
    for token in (first, second):
        reply = await AsyncWebClient(token=token, base_url=rotating.api_url).chat_postMessage(
            channel="C0001", text="still here"
        )
        assert reply["ok"] is True
