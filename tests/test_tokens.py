"""Each workspace's token from the installation store in the bot's own database.

`Installations` is slack_sdk's SQLAlchemy installation store on the job store's engine, with
each workspace's bot kept a minute; `InstalledTokens` finds a workspace's token (or its org's,
for an org-wide install) and says once when a workspace has none. Both backends.
"""

from __future__ import annotations

import logging

import pytest
from slack_sdk.oauth.installation_store.models.installation import Installation

from bot.slack.installs import Installations
from bot.slack.tokens import InstalledTokens, NotInstalled, Team
from bot.store.jobs import SqlJobStore


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


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> _Clock:
    return _Clock()


@pytest.fixture
def installations(store: SqlJobStore, clock: _Clock) -> Installations:
    return Installations(client_id="111.222", engine=lambda: store.engine, clock=clock)


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
    store: SqlJobStore, installations: Installations, clock: _Clock
) -> None:
    await installations.async_save(_installation("xoxb-one", team_id="T0001"))
    elsewhere = Installations(client_id="111.222", engine=lambda: store.engine, clock=clock)
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
