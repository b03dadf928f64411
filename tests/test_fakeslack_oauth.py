"""The fake Slack's workspaces, OAuth v2 install flow, token rotation and uninstall, over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakes.slack import (
    AUTHORIZE,
    OAUTH_ACCESS,
    Channel,
    FakeSlack,
    OAuthApp,
    block_actions_payload,
    send_event,
    slash_command_body,
    view_submission_payload,
)

SIGNING_SECRET = "events-s3cret"


@dataclass
class Receiver:
    """A small app at an Events Request URL: checks Slack's signature, keeps what it got."""

    url: str
    bodies: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0

    def events(self) -> list[str]:
        return [body["event"]["type"] for body in self.bodies]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    verifier = SignatureVerifier(SIGNING_SECRET)
    got = Receiver(url="")

    async def endpoint(request: web.Request) -> web.Response:
        raw = await request.read()
        if not verifier.is_valid_request(raw, dict(request.headers)):
            got.refused += 1
            return web.Response(status=401)
        got.bodies.append(await request.json())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/slack/events", endpoint)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    got.url = f"http://{host}:{port}/slack/events"
    try:
        yield got
    finally:
        await runner.cleanup()


# --- requests to the bot --------------------------------------------------------------------


def test_slash_command_of_an_org_workspace_names_the_org() -> None:
    """A command from an Enterprise org's workspace carries the org, in Slack's field order."""
    body = slash_command_body(
        text="status",
        user_id="W1",
        channel_id="C0201",
        response_url="http://x/r",
        team_id="T0201",
        team_domain="acme-sales",
        enterprise_id="E0200",
        enterprise_name="Acme",
    )
    fields = parse_qsl(body.decode(), keep_blank_values=True)
    names = [name for name, _ in fields]
    assert names[:5] == ["token", "team_id", "team_domain", "enterprise_id", "enterprise_name"]
    assert names[-1] == "is_enterprise_install"
    values = dict(fields)
    assert (values["team_id"], values["team_domain"]) == ("T0201", "acme-sales")
    assert (values["enterprise_id"], values["enterprise_name"]) == ("E0200", "Acme")
    assert values["is_enterprise_install"] == "false"


def test_slash_command_outside_an_org_keeps_its_fields() -> None:
    """Without an org the body has exactly the fields it always had."""
    body = slash_command_body(text="", user_id="U1", channel_id="C1", response_url="http://x/r")
    names = [name for name, _ in parse_qsl(body.decode(), keep_blank_values=True)]
    assert "enterprise_id" not in names
    assert "is_enterprise_install" not in names


def test_interactions_of_an_org_wide_install_name_the_org() -> None:
    """A button click in an org's workspace carries the org and says the install is org-wide,
    which is how Bolt finds an org-wide installation."""
    payload = block_actions_payload(
        action_id="stop",
        user_id="W1",
        channel_id="C0301",
        message_ts="1700000000.000100",
        response_url="http://x/r",
        team_id="T0301",
        enterprise_id="E0300",
        is_enterprise_install=True,
    )
    assert payload["enterprise"] == {"id": "E0300", "name": "E0300"}
    assert payload["is_enterprise_install"] is True
    assert payload["team"]["id"] == "T0301"
    plain = view_submission_payload(callback_id="c", user_id="U1", values={})
    assert (plain["enterprise"], plain["is_enterprise_install"]) == (None, False)


async def test_send_event_posts_a_signed_event_callback(receiver: Receiver) -> None:
    """An event arrives as signed JSON in its envelope, with the installation it is for."""
    async with aiohttp.ClientSession() as session:
        sent = await send_event(
            session,
            receiver.url,
            signing_secret=SIGNING_SECRET,
            team_id="T0201",
            enterprise_id="E0200",
            event={"type": "app_home_opened", "user": "W1"},
        )
    assert sent.status == 200
    [body] = receiver.bodies
    assert body["type"] == "event_callback"
    assert (body["team_id"], body["enterprise_id"]) == ("T0201", "E0200")
    assert body["event"] == {"type": "app_home_opened", "user": "W1"}
    assert body["event_id"].startswith("Ev")
    assert isinstance(body["event_time"], int)
    assert body["is_ext_shared_channel"] is False
    [authorization] = body["authorizations"]
    assert authorization["team_id"] == "T0201"
    assert authorization["is_enterprise_install"] is False


async def test_send_event_with_a_wrong_secret_is_refused(receiver: Receiver) -> None:
    """The receiver's signature check is real: another secret does not pass it."""
    async with aiohttp.ClientSession() as session:
        sent = await send_event(
            session,
            receiver.url,
            signing_secret="not-the-secret",
            team_id="T0001",
            event={"type": "app_uninstalled"},
        )
    assert (sent.status, receiver.refused) == (401, 1)


# --- workspaces, installs and tokens --------------------------------------------------------

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "client-s3cret"
REDIRECT = "https://bot.example/slack/oauth_redirect"
ORG = "E0300"


class Clock:
    """The fake's clock, moved by hand so expiry takes no waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def fake(clock: Clock) -> AsyncIterator[FakeSlack]:
    """The default workspace, a second one, and an org of two more."""
    app = OAuthApp(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=REDIRECT)
    async with FakeSlack(oauth=app, clock=clock) as server:
        server.add_workspace(
            team_id="T0002", name="Second", channels=[Channel(id="C0201", name="general")]
        )
        for team_id, channel_id in (("T0301", "C0301"), ("T0302", "C0302")):
            server.add_workspace(
                team_id=team_id,
                name=f"Acme {team_id}",
                channels=[Channel(id=channel_id, name="general")],
                enterprise_id=ORG,
                enterprise_name="Acme Corp",
            )
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def web_client(fake: FakeSlack, token: str | None = None) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=fake.api_url)


async def allow(session: aiohttp.ClientSession, fake: FakeSlack, **query: str) -> dict[str, str]:
    """Click "Allow": the query string of the redirect back to the app."""
    params = {"client_id": CLIENT_ID, "scope": "chat:write,commands", "state": "st4te"} | query
    async with session.get(fake.authorize_url(), params=params, allow_redirects=False) as answer:
        assert answer.status == 302, await answer.text()
        location = answer.headers["Location"]
    assert location.startswith(query.get("redirect_uri", REDIRECT) + "?")
    return dict(parse_qsl(location.split("?", 1)[1]))


async def install(session: aiohttp.ClientSession, fake: FakeSlack, **query: str) -> dict[str, Any]:
    """The whole install: authorize, redirect with a code, ``oauth.v2.access``."""
    redirected = await allow(session, fake, **query)
    answer = await web_client(fake).oauth_v2_access(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=redirected["code"]
    )
    return dict(answer.data)  # type: ignore[arg-type]


async def post(fake: FakeSlack, token: str, channel: str, **extra: Any) -> str:
    """Post and return "ok" or Slack's error code."""
    try:
        await web_client(fake, token).chat_postMessage(channel=channel, text="hi", **extra)
    except SlackApiError as error:
        return str(error.response["error"])
    return "ok"


async def test_workspaces_have_their_own_channels_and_bot(fake: FakeSlack) -> None:
    """Added workspaces list in order, each with its bot user, and channel IDs stay unique."""
    assert [team.id for team in fake.workspaces] == ["T0001", "T0002", "T0301", "T0302"]
    second = fake.team("T0002")
    assert (second.name, second.domain, second.url) == (
        "Second",
        "second",
        "https://second.slack.com/",
    )
    assert (second.bot.user_id, second.bot.bot_id) == ("U0002BOT", "B0002BOT")
    assert fake.team("T0301").enterprise_id == ORG
    assert fake.channel("C0201").name == "general"
    fake.add_channel(Channel(id="C0202", name="random"), team_id="T0002")
    assert fake.channel("C0202").name == "random"
    with pytest.raises(ValueError, match="C0001"):
        fake.add_workspace(team_id="T0009", name="Dup", channels=[Channel(id="C0001", name="x")])
    with pytest.raises(ValueError, match="T0002"):
        fake.add_channel(Channel(id="C0201", name="moved"), team_id="T0001")


async def test_authorize_redirects_with_a_code_and_the_state(
    fake: FakeSlack, session: aiohttp.ClientSession
) -> None:
    """Allow sends the person back to the app's redirect URL with a code and the state."""
    redirected = await allow(session, fake, team="T0002")
    assert redirected["state"] == "st4te"
    assert redirected["code"]
    [call] = fake.calls_to(AUTHORIZE)
    assert call.ok
    assert call.status == 302


async def test_install_answers_in_slacks_v2_shape(
    fake: FakeSlack, session: aiohttp.ClientSession
) -> None:
    """oauth.v2.access (credentials by Basic auth) answers with the bot token of the workspace."""
    answer = await install(session, fake, team="T0002", user="U0ADMIN")
    assert answer["ok"] is True
    assert answer["token_type"] == "bot"
    assert answer["access_token"].startswith("xoxb-")
    assert answer["scope"] == "chat:write,commands"
    assert answer["bot_user_id"] == "U0002BOT"
    assert answer["app_id"] == fake.identity.app_id
    assert answer["team"] == {"id": "T0002", "name": "Second"}
    assert answer["enterprise"] is None
    assert answer["is_enterprise_install"] is False
    assert answer["authed_user"] == {"id": "U0ADMIN"}
    assert "refresh_token" not in answer
    [done] = fake.installs
    assert (done.team_id, done.bot_token, done.user_id) == (
        "T0002",
        answer["access_token"],
        "U0ADMIN",
    )
    [call] = fake.calls_to(OAUTH_ACCESS)
    assert "client_secret" not in call.args


async def test_user_scopes_give_the_installer_a_user_token(
    fake: FakeSlack, session: aiohttp.ClientSession
) -> None:
    """With user scopes, authed_user carries a user token, which auth.test knows as that person."""
    answer = await install(session, fake, team="T0002", user="U0ADMIN", user_scope="search:read")
    user = answer["authed_user"]
    assert user["id"] == "U0ADMIN"
    assert (user["scope"], user["token_type"]) == ("search:read", "user")
    assert user["access_token"].startswith("xoxp-")
    me = await web_client(fake, user["access_token"]).auth_test()
    assert (me["team_id"], me["user_id"]) == ("T0002", "U0ADMIN")
    assert "bot_id" not in me.data  # type: ignore[operator]
    assert me.headers["x-oauth-scopes"] == "search:read"


async def test_tokens_are_confined_to_their_workspace(
    fake: FakeSlack, session: aiohttp.ClientSession
) -> None:
    """A workspace's token posts in its channels only; auth.test names its workspace."""
    token = (await install(session, fake, team="T0002"))["access_token"]
    assert await post(fake, token, "C0201") == "ok"
    assert await post(fake, token, "C0001") == "channel_not_found"
    assert await post(fake, "xoxb-first", "C0201") == "channel_not_found"
    assert await post(fake, "xoxb-first", "C0001") == "ok"
    assert [m.text for m in fake.messages("C0201")] == ["hi"]
    assert fake.messages("C0201")[0].user == "U0002BOT"
    me = await web_client(fake, token).auth_test()
    assert me["team_id"] == "T0002"
    assert me["team"] == "Second"
    assert me["url"] == "https://second.slack.com/"
    assert (me["user_id"], me["bot_id"]) == ("U0002BOT", "B0002BOT")
    assert me["is_enterprise_install"] is False
    assert me.headers["x-oauth-scopes"] == "chat:write,commands"
    teams = [call.team for call in fake.calls_to("chat.postMessage")]
    assert teams == ["T0002", "T0002", "T0001", "T0001"]


async def test_org_wide_install_works_in_every_workspace_of_the_org(
    fake: FakeSlack, session: aiohttp.ClientSession
) -> None:
    """An org-wide token posts in each of the org's workspaces, and nowhere else."""
    answer = await install(session, fake, team="T0301", org="1")
    assert answer["team"] is None
    assert answer["enterprise"] == {"id": ORG, "name": "Acme Corp"}
    assert answer["is_enterprise_install"] is True
    token = answer["access_token"]
    assert await post(fake, token, "C0301") == "ok"
    assert await post(fake, token, "C0302") == "ok"
    assert await post(fake, token, "C0201") == "channel_not_found"
    assert [call.team for call in fake.calls_to("chat.postMessage")[:2]] == ["T0301", "T0302"]
    org = await web_client(fake, token).auth_test()
    assert (org["team_id"], org["enterprise_id"]) == (ORG, ORG)
    assert org["is_enterprise_install"] is True
    assert org["url"] == "https://acme-corp.enterprise.slack.com/"
    there = await web_client(fake, token).auth_test(team_id="T0302")
    assert (there["team_id"], there["enterprise_id"]) == ("T0302", ORG)


async def test_an_org_wide_install_needs_an_org(
    fake: FakeSlack, session: aiohttp.ClientSession
) -> None:
    """Asking for an org-wide install from a workspace outside any org is refused."""
    params = {"client_id": CLIENT_ID, "scope": "commands", "team": "T0002", "org": "1"}
    async with session.get(fake.authorize_url(), params=params, allow_redirects=False) as answer:
        assert answer.status == 400


async def test_choices_in_the_path_survive_a_query_the_app_builds(
    fake: FakeSlack, session: aiohttp.ClientSession
) -> None:
    """authorize_url(team=, user=, org=) works as Bolt's authorization_url (it adds ?state=)."""
    url = fake.authorize_url(team="T0302", user="W0ADMIN", org=True)
    query = f"?state=xyz&client_id={CLIENT_ID}&scope=commands&user_scope="
    async with session.get(url + query, allow_redirects=False) as answer:
        location = answer.headers["Location"]
    code = dict(parse_qsl(location.split("?", 1)[1]))["code"]
    answer = await web_client(fake).oauth_v2_access(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code
    )
    assert answer["is_enterprise_install"] is True
    assert answer["authed_user"] == {"id": "W0ADMIN"}


async def test_a_person_who_cancels_is_sent_back_with_access_denied(
    fake: FakeSlack, session: aiohttp.ClientSession
) -> None:
    """deny=1 redirects with error=access_denied and the state, and no code."""
    redirected = await allow(session, fake, deny="1")
    assert redirected == {"error": "access_denied", "state": "st4te"}


async def test_authorize_refuses_an_unknown_client(
    fake: FakeSlack, session: aiohttp.ClientSession
) -> None:
    """A wrong client_id is an error page, not a redirect."""
    params = {"client_id": "nope", "scope": "commands", "state": "s"}
    async with session.get(fake.authorize_url(), params=params, allow_redirects=False) as answer:
        assert (answer.status, await answer.text()) == (400, "invalid_client_id")


async def test_a_code_works_once(fake: FakeSlack, session: aiohttp.ClientSession) -> None:
    """Exchanging the same code twice is refused with invalid_code."""
    code = (await allow(session, fake))["code"]
    exchange = web_client(fake).oauth_v2_access
    await exchange(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code)
    with pytest.raises(SlackApiError) as refused:
        await exchange(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code)
    assert refused.value.response["error"] == "invalid_code"


async def test_a_code_expires_after_ten_minutes(
    fake: FakeSlack, session: aiohttp.ClientSession, clock: Clock
) -> None:
    """A code older than ten minutes on the fake's clock is invalid_code."""
    code = (await allow(session, fake))["code"]
    clock.now += 601
    with pytest.raises(SlackApiError) as refused:
        await web_client(fake).oauth_v2_access(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code
        )
    assert refused.value.response["error"] == "invalid_code"


@pytest.mark.parametrize(
    ("client_id", "secret", "error"),
    [(CLIENT_ID, "wrong", "bad_client_secret"), ("9999.9999", CLIENT_SECRET, "invalid_client_id")],
)
async def test_wrong_credentials_are_refused(
    fake: FakeSlack, session: aiohttp.ClientSession, client_id: str, secret: str, error: str
) -> None:
    """A wrong secret or client ID is refused, and the code stays usable."""
    code = (await allow(session, fake))["code"]
    exchange = web_client(fake).oauth_v2_access
    with pytest.raises(SlackApiError) as refused:
        await exchange(client_id=client_id, client_secret=secret, code=code)
    assert refused.value.response["error"] == error
    assert (await exchange(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code))["ok"]


async def test_credentials_may_come_as_form_args(
    fake: FakeSlack, session: aiohttp.ClientSession
) -> None:
    """client_id and client_secret in the form body work as well as Basic auth."""
    code = (await allow(session, fake))["code"]
    form = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code}
    async with session.post(fake.api_url + "oauth.v2.access", data=form) as answer:
        body = await answer.json()
    assert body["ok"] is True
    assert body["team"]["id"] == "T0001"


async def test_the_code_is_bound_to_its_redirect_uri(
    fake: FakeSlack, session: aiohttp.ClientSession
) -> None:
    """A code issued for a redirect_uri is exchanged only with that same redirect_uri."""
    chosen = REDIRECT + "/team-two"
    code = (await allow(session, fake, redirect_uri=chosen))["code"]
    exchange = web_client(fake).oauth_v2_access
    with pytest.raises(SlackApiError) as refused:
        await exchange(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code)
    assert refused.value.response["error"] == "bad_redirect_uri"
    answer = await exchange(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code, redirect_uri=chosen
    )
    assert answer["ok"]


async def test_a_redirect_uri_outside_the_apps_is_refused(
    fake: FakeSlack, session: aiohttp.ClientSession
) -> None:
    """authorize will not send the person to a URL the app did not configure."""
    params = {"client_id": CLIENT_ID, "scope": "commands", "redirect_uri": "https://evil.example/"}
    async with session.get(fake.authorize_url(), params=params, allow_redirects=False) as answer:
        assert (answer.status, await answer.text()) == (400, "bad_redirect_uri")


# --- token rotation -------------------------------------------------------------------------


@pytest.fixture
async def rotating(fake: FakeSlack) -> FakeSlack:
    fake.set_oauth(
        OAuthApp(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uri=REDIRECT,
            token_rotation=True,
        )
    )
    return fake


def installation_of(answer: dict[str, Any]) -> Installation:
    """The installation Bolt would store from an oauth.v2.access answer."""
    user = answer["authed_user"]
    return Installation(
        app_id=answer["app_id"],
        team_id=answer["team"]["id"],
        bot_token=answer["access_token"],
        bot_refresh_token=answer["refresh_token"],
        bot_token_expires_in=answer["expires_in"],
        bot_user_id=answer["bot_user_id"],
        bot_scopes=answer["scope"],
        user_id=user["id"],
        user_token=user["access_token"],
        user_refresh_token=user["refresh_token"],
        user_token_expires_in=user["expires_in"],
        user_scopes=user["scope"],
    )


async def test_rotation_issues_expiring_tokens_with_refresh_tokens(
    rotating: FakeSlack, session: aiohttp.ClientSession
) -> None:
    """With token rotation, bot and user tokens expire in 12 hours and come with refresh tokens."""
    answer = await install(session, rotating, team="T0002", user_scope="search:read")
    assert answer["access_token"].startswith("xoxe.xoxb-1-")
    assert answer["refresh_token"].startswith("xoxe-1-")
    assert answer["expires_in"] == 43_200
    user = answer["authed_user"]
    assert user["access_token"].startswith("xoxe.xoxp-1-")
    assert (user["refresh_token"][:7], user["expires_in"]) == ("xoxe-1-", 43_200)
    assert await post(rotating, answer["access_token"], "C0201") == "ok"


async def test_async_token_rotator_refreshes_against_the_fake(
    rotating: FakeSlack, session: aiohttp.ClientSession, clock: Clock
) -> None:
    """slack_sdk's rotator renews both tokens; the old one works until it expires."""
    answer = await install(session, rotating, team="T0002", user_scope="search:read")
    old = installation_of(answer)
    rotator = AsyncTokenRotator(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, client=web_client(rotating)
    )
    clock.now += 40_000  # within the rotator's window once it looks 12 hours ahead
    new = await rotator.perform_token_rotation(installation=old, minutes_before_expiration=720)
    assert new is not None
    assert new.bot_token is not None
    assert new.bot_token != old.bot_token
    assert new.user_token != old.user_token
    assert new.bot_refresh_token != old.bot_refresh_token
    assert await post(rotating, old.bot_token or "", "C0201") == "ok"
    clock.now += 4_000  # past the first tokens' 12 hours, within the new ones'
    assert await post(rotating, old.bot_token or "", "C0201") == "token_expired"
    assert await post(rotating, new.bot_token, "C0201") == "ok"
    me = await web_client(rotating, new.user_token).auth_test()
    assert me["user_id"] == "U0INSTALLER"


async def test_a_refresh_token_works_once(
    rotating: FakeSlack, session: aiohttp.ClientSession
) -> None:
    """Using a refresh token again is invalid_refresh_token."""
    answer = await install(session, rotating, team="T0002")
    refresh = web_client(rotating).oauth_v2_access
    renewed = await refresh(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        grant_type="refresh_token",
        refresh_token=answer["refresh_token"],
    )
    assert renewed["token_type"] == "bot"
    assert renewed["team"] == {"id": "T0002", "name": "Second"}
    assert renewed["bot_user_id"] == "U0002BOT"
    with pytest.raises(SlackApiError) as refused:
        await refresh(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            grant_type="refresh_token",
            refresh_token=answer["refresh_token"],
        )
    assert refused.value.response["error"] == "invalid_refresh_token"
    [call, _] = rotating.calls_to(OAUTH_ACCESS)[1:]
    assert "refresh_token" not in call.args


# --- uninstalling ---------------------------------------------------------------------------


async def test_uninstall_revokes_tokens_and_tells_the_app(
    fake: FakeSlack, session: aiohttp.ClientSession, receiver: Receiver
) -> None:
    """Uninstalling a workspace revokes its tokens and sends both signed events."""
    answer = await install(session, fake, team="T0002", user="U0ADMIN", user_scope="search:read")
    fake.set_events_url(receiver.url, signing_secret=SIGNING_SECRET)
    answers = await fake.uninstall(team_id="T0002")
    assert [sent.status for sent in answers] == [200, 200]
    assert receiver.events() == ["tokens_revoked", "app_uninstalled"]
    revoked, uninstalled = receiver.bodies
    assert revoked["event"]["tokens"] == {"oauth": ["U0ADMIN"], "bot": ["U0002BOT"]}
    for body in (revoked, uninstalled):
        assert (body["type"], body["team_id"], body["api_app_id"]) == (
            "event_callback",
            "T0002",
            fake.identity.app_id,
        )
        assert body["authorizations"][0]["team_id"] == "T0002"
        assert body["is_ext_shared_channel"] is False
    assert revoked["event_id"] != uninstalled["event_id"]
    assert await post(fake, answer["access_token"], "C0201") == "account_inactive"
    user_token = answer["authed_user"]["access_token"]
    with pytest.raises(SlackApiError) as refused:
        await web_client(fake, user_token).auth_test()
    assert refused.value.response["error"] == "token_revoked"
    assert await post(fake, "xoxb-first", "C0001") == "ok"
    with pytest.raises(ValueError, match="not installed"):
        await fake.uninstall(team_id="T0002")


async def test_an_org_wide_uninstall_names_the_org(
    fake: FakeSlack, session: aiohttp.ClientSession, receiver: Receiver
) -> None:
    """Uninstalling an org-wide install revokes it in every workspace; events name the org."""
    token = (await install(session, fake, team="T0301", org="1"))["access_token"]
    fake.set_events_url(receiver.url, signing_secret=SIGNING_SECRET)
    await fake.uninstall(enterprise_id=ORG)
    assert receiver.events() == ["tokens_revoked", "app_uninstalled"]
    body = receiver.bodies[1]
    assert (body["team_id"], body["enterprise_id"]) == (ORG, ORG)
    [authorization] = body["authorizations"]
    assert authorization["team_id"] is None
    assert authorization["is_enterprise_install"] is True
    assert await post(fake, token, "C0301") == "account_inactive"
    assert await post(fake, token, "C0302") == "account_inactive"


async def test_uninstalling_the_first_workspace_ends_its_open_door(
    fake: FakeSlack, session: aiohttp.ClientSession
) -> None:
    """After the first workspace is uninstalled, its tokens and new xoxb- ones stop working,
    until the app is installed there again."""
    assert await post(fake, "xoxb-first", "C0001") == "ok"
    assert await fake.uninstall(team_id="T0001") == []  # no events URL set
    assert await post(fake, "xoxb-first", "C0001") == "account_inactive"
    assert await post(fake, "xoxb-never-seen", "C0001") == "invalid_auth"
    token = (await install(session, fake, team="T0001"))["access_token"]
    assert await post(fake, token, "C0001") == "ok"
