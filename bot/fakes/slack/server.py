"""``FakeSlack``: a real aiohttp server on a loopback port that plays Slack for the bot.

It serves these kinds of URL, as Slack does:

- ``/api/<method>``: the Web API (GET or POST; args from the query string, a JSON body or a form
  body, merged), token checked and the call served in the token's workspace, every call
  recorded; ``oauth.v2.access`` among them (``oauth``);
- ``/oauth/v2/authorize``: Slack's "Allow" page of the OAuth v2 install flow (``oauth``);
- ``/commands/<team>/<id>/<secret>``: response_urls minted by ``response_url()``, 5 uses each;
- ``/upload/v1/<file>/<secret>``: upload URLs handed out by ``files.getUploadURLExternal``;
- ``/link/?ticket=…``: Socket Mode's WebSocket, from ``apps.connections.open`` (``sockets``).

It also sends what Slack sends the app unasked: the Events API callbacks of an uninstall
(``installs``). How each request is checked, answered and recorded lives in ``endpoints``; the
workspaces and who serves a call in ``teams``; tokens in ``tokens``; the rules for
response_urls in ``hooks``, for channels and threads in ``workspace``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from aiohttp import web

from bot.fakes.slack.endpoints import Endpoints
from bot.fakes.slack.faults import Faults
from bot.fakes.slack.hooks import ResponseUrls
from bot.fakes.slack.installs import Uninstaller
from bot.fakes.slack.oauth import OAuth, OAuthApp, choices_path
from bot.fakes.slack.observed import Observed
from bot.fakes.slack.records import BotIdentity, Call, Channel
from bot.fakes.slack.reports import SlackEvent
from bot.fakes.slack.signing import SentRequest
from bot.fakes.slack.sockets import LINK_PATH, SocketMode
from bot.fakes.slack.teams import DEFAULT_CHANNELS, DEFAULT_SCOPES, Team, Teams
from bot.fakes.slack.tokens import Tokens
from bot.fakes.slack.uploads import Uploads
from bot.fakes.slack.views import Views
from bot.fakes.slack.workspaces import WorkspaceSetup

__all__ = ["DEFAULT_CHANNELS", "DEFAULT_SCOPES", "FakeSlack"]

log = logging.getLogger(__name__)

# Large enough for a chart image; aiohttp's 1 MiB default would refuse realistic uploads.
MAX_REQUEST_BYTES = 50 * 1024 * 1024


class FakeSlack(WorkspaceSetup, Observed):
    """A recording fake of the Slack Web API, response_urls, file uploads and OAuth installs.

    ``channels`` sets up the first workspace (default: ``#general``, bot a member); ``tokens``
    limits the tokens accepted there (default: any ``xoxb-``); ``users`` maps ids to names for
    ``users.info`` (default: any U/W id exists); ``usergroups`` maps group ids to member ids;
    ``scopes`` are reported by ``auth.test`` and drive ``chat:write.public``; ``identity`` is
    the bot there, and names the workspace (``T0001``, domain ``fake``); ``app_tokens`` limits
    the app-level tokens ``apps.connections.open`` accepts (default: any ``xapp-``), and
    ``socket_mode`` delivers envelopes to the connected app; ``post_rate_per_channel`` turns on
    Slack's per-channel posting limit (``post_burst`` messages may go at once);
    ``history_limits`` turns on Slack's 2025 limits for apps outside the Marketplace:
    ``conversations.history`` and ``conversations.replies`` once per ``history_interval``
    seconds each and workspace (Slack's minute by default), 429 with ``Retry-After`` beyond, 15
    messages a page; ``clock`` drives the limits, response_url expiry, OAuth code and token
    expiry and recorded times; ``on_event`` sees every state change.

    More workspaces: ``add_workspace(team_id=..., name=..., channels=[...], users=...,
    usergroups=..., enterprise_id=..., enterprise_name=..., tokens=[...])`` adds one, with its
    own channels, people and bot user (``team(team_id).bot``); workspaces sharing an
    ``enterprise_id`` form an Enterprise org. Channel IDs are unique across the fake, so
    ``messages``, ``channel``, ``add_channel``, ``wait_for`` and the other readers find a
    channel's workspace by its ID. A call is served in its token's workspace (``Call.team``):
    another workspace's channel is ``channel_not_found``; an org-wide install's token works in
    every workspace of its org (``teams``).

    OAuth v2: with ``oauth=OAuthApp(client_id=..., client_secret=..., redirect_uri=...,
    token_rotation=..., token_lifetime=...)`` (or ``set_oauth``), ``authorize_url()`` plays the
    person who clicks "Allow" (who installs where: its arguments, or fake-only query args
    ``team``, ``user``, ``org=1``, ``deny=1``) and ``oauth.v2.access`` exchanges its one-time
    code for tokens of that workspace or org, or a refresh token for new ones (``oauth``).
    ``installs`` lists what was installed.
    ``await uninstall(team_id=...)`` (or ``enterprise_id=...`` alone for an org-wide install)
    revokes that installation's tokens and sends ``tokens_revoked`` and ``app_uninstalled`` to
    the URL given to ``set_events_url`` (``installs``, ``tokens``).

        async with FakeSlack() as fake:
            client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)
            await client.chat_postMessage(channel="C0001", text="hi")
            assert fake.messages("C0001")[0].text == "hi"
    """

    def __init__(
        self,
        *,
        channels: Iterable[Channel] = DEFAULT_CHANNELS,
        tokens: Collection[str] | None = None,
        users: Mapping[str, str] | None = None,
        usergroups: Mapping[str, Sequence[str]] | None = None,
        identity: BotIdentity | None = None,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        post_rate_per_channel: float | None = None,
        post_burst: int = 3,
        app_tokens: Collection[str] | None = None,
        history_limits: bool = False,
        history_interval: float = 60.0,
        oauth: OAuthApp | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_event: Callable[[SlackEvent], None] | None = None,
    ) -> None:
        self.identity = identity or BotIdentity()
        self.on_event = on_event
        self._clock = clock
        self._faults = Faults()
        self._calls: list[Call] = []
        self._events: list[SlackEvent] = []
        self._hooks = ResponseUrls(clock=clock, emit=self._emit)
        self._runner: web.AppRunner | None = None
        self._root_url: str | None = None
        self._uploads = Uploads(clock=clock, emit=self._emit)
        self._views = Views(clock=clock, emit=self._emit)
        self._teams = Teams(
            uploads=self._uploads,
            views=self._views,
            clock=clock,
            emit=self._emit,
            root_url=lambda: self.root_url,
        )
        first = Team(self.identity.team_id, self.identity.team_name, "fake", self.identity)
        self._teams.add(
            first,
            channels=channels,
            scopes=scopes,
            users=users,
            usergroups=usergroups if usergroups is not None else {},
        )
        self._tokens = Tokens(clock=clock, default_key=first.install_key, accepted=tokens)
        app_id = self.identity.app_id
        self._oauth = OAuth(
            app=oauth, app_id=app_id, teams=self._teams, tokens=self._tokens, clock=clock
        )
        self._uninstaller = Uninstaller(teams=self._teams, tokens=self._tokens, app_id=app_id)
        self.socket_mode = SocketMode(app_tokens=app_tokens)
        self._endpoints = Endpoints(
            teams=self._teams,
            tokens=self._tokens,
            oauth=self._oauth,
            hooks=self._hooks,
            uploads=self._uploads,
            sockets=self.socket_mode,
            root_url=lambda: self.root_url,
            faults=self._faults,
            calls=self._calls,
            post_rate=post_rate_per_channel,
            post_burst=post_burst,
            clock=clock,
            history_interval=history_interval if history_limits else None,
        )

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (port 0 picks a free one)."""
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_route("*", "/api/{method}", self._endpoints.handle_api)
        app.router.add_get("/oauth/v2/authorize", self._endpoints.handle_authorize)
        app.router.add_get("/oauth/v2/authorize/{choices}", self._endpoints.handle_authorize)
        app.router.add_post("/commands/{team}/{id}/{secret}", self._endpoints.handle_response_url)
        app.router.add_post("/upload/v1/{file_id}/{secret}", self._endpoints.handle_upload)
        app.router.add_get(LINK_PATH, self.socket_mode.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self._root_url = f"http://{bound_host}:{bound_port}"

    async def stop(self) -> None:
        """Stop listening; recorded state stays readable."""
        await self.socket_mode.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if self._root_url is None:
            raise RuntimeError("FakeSlack is not started")
        return self._root_url

    @property
    def api_url(self) -> str:
        """The Web API base URL, for ``AsyncWebClient(base_url=...)`` / ``SLACK_API_URL``."""
        return f"{self.root_url}/api/"

    def authorize_url(
        self,
        *,
        team: str | None = None,
        user: str | None = None,
        org: bool = False,
        deny: bool = False,
    ) -> str:
        """Slack's "Allow" page, for Bolt's ``OAuthSettings(authorization_url=...)``: the
        person ``user`` (default ``DEFAULT_INSTALLER``) installs in ``team`` (default: the
        first workspace), org-wide with ``org``, or cancels with ``deny``."""
        choices = choices_path(team=team, user=user, org=org, deny=deny)
        return f"{self.root_url}/oauth/v2/authorize" + (f"/{choices}" if choices else "")

    def response_url(self, *, team_id: str | None = None) -> str:
        """Mint a response_url that records what is POSTed to it (5 uses, 30 minutes)."""
        return self._hooks.mint(root_url=self.root_url, team_id=team_id or self.identity.team_id)

    # --- OAuth and uninstalling -----------------------------------------------------------

    def set_oauth(self, app: OAuthApp | None) -> None:
        """Set the app's OAuth credentials and settings (``None``: no OAuth)."""
        self._oauth.app = app

    def set_events_url(self, url: str | None, *, signing_secret: str = "") -> None:
        """Where Slack sends the app's Events API callbacks, signed with ``signing_secret``."""
        self._uninstaller.events_url = url
        self._uninstaller.signing_secret = signing_secret

    async def uninstall(
        self, *, team_id: str | None = None, enterprise_id: str | None = None
    ) -> list[SentRequest]:
        """Uninstall the app from a workspace, or org-wide with ``enterprise_id`` alone: its
        tokens revoked, ``tokens_revoked`` and ``app_uninstalled`` delivered to the events URL.
        Returns the app's answers to the two events (none without an events URL)."""
        return await self._uninstaller.uninstall(team_id=team_id, enterprise_id=enterprise_id)

    # --- faults ---------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
        channel: str | None = None,
    ) -> None:
        """Fail the next ``times`` calls of ``method`` (also ``RESPONSE_URL`` / ``UPLOAD_URL``).

        ``status=200`` answers ``{"ok": false, "error": error or "internal_error"}``; 429 adds a
        ``Retry-After`` (default 1 s); 5xx sends ``fatal_error``. ``channel`` limits the fault to
        calls naming that channel.
        """
        self._faults.fail_next(
            method,
            error=error,
            status=status,
            retry_after=retry_after,
            times=times,
            channel=channel,
        )

    def fault_rate(
        self,
        rate: float,
        *,
        methods: Collection[str] | None = None,
        statuses: tuple[int, ...] = (500, 503),
        seed: int | None = None,
    ) -> None:
        """Fail a ``rate`` fraction of calls (to ``methods``, or all) with one of ``statuses``."""
        self._faults.fault_rate(rate, methods=methods, statuses=statuses, seed=seed)

    def clear_faults(self) -> None:
        """Drop scripted faults and the random fault rate."""
        self._faults.clear()

    # --- bookkeeping ----------------------------------------------------------------------

    def _emit(self, event: SlackEvent) -> None:
        self._events.append(event)
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:
            # A broken observer (say, the demo's renderer) must not turn into a Slack failure
            # the bot then has to handle; log it and keep serving.
            log.exception("on_event observer failed for %s", type(event).__name__)
