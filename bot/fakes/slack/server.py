"""``FakeSlack``: a real aiohttp server on a loopback port that plays Slack for the bot.

It serves three kinds of URL, as Slack does:

- ``/api/<method>``: the Web API (GET or POST; args from the query string, a JSON body or a form
  body, merged), token checked, every call recorded;
- ``/commands/<team>/<id>/<secret>``: response_urls minted by ``response_url()``, 5 uses each;
- ``/upload/v1/<file>/<secret>``: upload URLs handed out by ``files.getUploadURLExternal``;
- ``/link/?ticket=…``: Socket Mode's WebSocket, from ``apps.connections.open`` (``sockets``).

How each request is checked, answered and recorded lives in ``endpoints``; the rules for
response_urls in ``hooks``, for channels and threads in ``workspace``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TypeVar

from aiohttp import web

from bot.fakes.slack.checks import ApiFailure
from bot.fakes.slack.endpoints import Endpoints
from bot.fakes.slack.faults import Faults
from bot.fakes.slack.hooks import ResponseUrls
from bot.fakes.slack.methods import WebApi
from bot.fakes.slack.records import (
    BotIdentity,
    Call,
    Channel,
    Ephemeral,
    Message,
    ResponsePost,
    SlackEvent,
    UploadedFile,
    View,
)
from bot.fakes.slack.sockets import LINK_PATH, SocketMode
from bot.fakes.slack.uploads import Uploads
from bot.fakes.slack.views import Views
from bot.fakes.slack.workspace import Workspace

__all__ = ["DEFAULT_CHANNELS", "DEFAULT_SCOPES", "FakeSlack"]

log = logging.getLogger(__name__)

DEFAULT_CHANNELS = (Channel(id="C0001", name="general"),)
DEFAULT_SCOPES = (
    "channels:history",
    "channels:join",
    "channels:read",
    "chat:write",
    "chat:write.public",
    "commands",
    "files:write",
    "groups:history",
    "groups:read",
    "im:history",
    "im:write",
    "reactions:write",
    "usergroups:read",
    "users:read",
)
# Large enough for a chart image; aiohttp's 1 MiB default would refuse realistic uploads.
MAX_REQUEST_BYTES = 50 * 1024 * 1024

_T = TypeVar("_T")


class FakeSlack:
    """A recording fake of the Slack Web API, response_urls and file uploads.

    ``channels`` sets up the workspace (default: ``#general``, bot a member); ``tokens`` limits the
    accepted tokens (default: any ``xoxb-``); ``users`` maps ids to names for ``users.info``
    (default: any U/W id exists); ``usergroups`` maps group ids to member ids; ``scopes`` are
    reported by ``auth.test`` and drive ``chat:write.public``; ``app_tokens`` limits the
    app-level tokens ``apps.connections.open`` accepts (default: any ``xapp-``), and
    ``socket_mode`` delivers envelopes to the connected app; ``post_rate_per_channel`` turns on
    Slack's per-channel posting limit (``post_burst`` messages may go at once);
    ``history_limits`` turns on Slack's 2025 limits for apps outside the Marketplace:
    ``conversations.history`` and ``conversations.replies`` once per ``history_interval``
    seconds each (Slack's minute by default), 429 with ``Retry-After`` beyond, 15 messages a
    page; ``clock`` drives the limits, response_url expiry and recorded times; ``on_event`` sees
    every state change.

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
        self._workspace = Workspace(
            channels=channels, identity=self.identity, scopes=scopes, clock=clock, emit=self._emit
        )
        self._uploads = Uploads(workspace=self._workspace, clock=clock, emit=self._emit)
        self._views = Views(identity=self.identity, clock=clock, emit=self._emit)
        self._api = WebApi(
            workspace=self._workspace,
            uploads=self._uploads,
            views=self._views,
            users=users,
            usergroups=usergroups if usergroups is not None else {},
            root_url=lambda: self.root_url,
        )
        self.socket_mode = SocketMode(app_tokens=app_tokens)
        self._endpoints = Endpoints(
            api=self._api,
            hooks=self._hooks,
            uploads=self._uploads,
            sockets=self.socket_mode,
            root_url=lambda: self.root_url,
            faults=self._faults,
            calls=self._calls,
            tokens=frozenset(tokens) if tokens is not None else None,
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

    def response_url(self, *, team_id: str | None = None) -> str:
        """Mint a response_url that records what is POSTed to it (5 uses, 30 minutes)."""
        return self._hooks.mint(root_url=self.root_url, team_id=team_id or self.identity.team_id)

    # --- workspace setup ------------------------------------------------------------------

    def add_channel(self, channel: Channel) -> None:
        """Add a channel, or replace the one with the same id (e.g. to invite the bot)."""
        self._workspace.add_channel(channel)

    def channel(self, channel_id: str) -> Channel:
        """The channel as it stands now (``KeyError`` if unknown)."""
        return self._workspace.channel(channel_id)

    def add_message(
        self, channel: str, *, text: str, user: str, thread_ts: str | None = None
    ) -> Message:
        """Seed a message from a human (no permission checks; it emits an event like any post)."""
        return self._workspace.post(channel, text=text, blocks=None, thread_ts=thread_ts, user=user)

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

    # --- what happened --------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """Every request answered, in order (Web API, response_url and upload)."""
        return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        """The calls to one method."""
        return [call for call in self._calls if call.method == method]

    @property
    def events(self) -> list[SlackEvent]:
        """Every state change, in order."""
        return list(self._events)

    def messages(self, channel: str) -> list[Message]:
        """The channel's messages and replies in their current state, in ts order."""
        return self._workspace.messages(channel)

    def message(self, channel: str, ts: str) -> Message:
        """One message in its current state (``KeyError`` if unknown)."""
        try:
            return self._workspace.message(channel, ts)
        except ApiFailure:
            raise KeyError((channel, ts)) from None

    def thread(self, channel: str, ts: str) -> list[Message]:
        """A parent and its replies in order (empty until the parent exists)."""
        return self._workspace.thread(channel, ts)

    @property
    def ephemerals(self) -> list[Ephemeral]:
        """Ephemeral messages, in order."""
        return list(self._workspace.ephemerals)

    @property
    def responses(self) -> dict[str, list[ResponsePost]]:
        """What was POSTed to each minted response_url (every minted URL is a key)."""
        return self._hooks.posts()

    @property
    def files(self) -> list[UploadedFile]:
        """Completed uploads, in order."""
        return list(self._uploads.completed)

    @property
    def views(self) -> list[View]:
        """Every view opened, updated or published, in order."""
        return list(self._views.records)

    async def wait_for(
        self,
        predicate: Callable[[], _T],
        *,
        timeout: float = 2.0,  # noqa: ASYNC109 - a polling deadline, as in asyncio.wait_for
        interval: float = 0.005,
        what: str | None = None,
    ) -> _T:
        """Poll ``predicate`` until it returns something truthy, and return that."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if asyncio.get_running_loop().time() >= deadline:
                raise TimeoutError(self._timeout_message(predicate, timeout, what))
            await asyncio.sleep(interval)

    def _timeout_message(
        self, predicate: Callable[[], object], timeout: float, what: str | None
    ) -> str:
        name = what or getattr(predicate, "__name__", "predicate")
        recent = self._calls[-8:]
        lines = [f"  {c.method} -> {c.status} {'ok' if c.ok else c.error}" for c in recent]
        summary = "\n".join(lines) or "  (no calls)"
        total = len(self._calls)
        return f"{name} not true after {timeout:.3f}s; last calls ({total} total):\n{summary}"

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
