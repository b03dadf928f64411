"""How the fake Slack answers each HTTP request: Web API calls, response_urls, uploads and
OAuth's authorize page.

A Web API call is checked in Slack's order (method known, token, scripted faults, then the
per-channel posting limit for ``chat.postMessage`` and the history limit) before its method runs
in the workspace the token belongs to (``teams``); every request, answered or refused, is
recorded as a ``Call``. ``oauth.v2.access`` takes the app's credentials instead of a token and
goes to ``oauth``.

The history limit is Slack's for apps distributed outside the Marketplace since 2025:
``conversations.history`` and ``conversations.replies`` answer one call per method per
``history_interval`` (a minute at Slack) and 429 with ``Retry-After`` beyond it, and a page holds
at most ``HISTORY_PAGE`` messages whatever ``limit`` asks (also the default).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from bot.fakes.slack.checks import ApiFailure
from bot.fakes.slack.faults import Faults, TokenBucket, retry_after_header
from bot.fakes.slack.hooks import ResponseUrls
from bot.fakes.slack.oauth import OAuth, parse_choices
from bot.fakes.slack.records import Call
from bot.fakes.slack.sockets import SocketMode
from bot.fakes.slack.teams import Teams, Tenant
from bot.fakes.slack.tokens import Grant, Tokens
from bot.fakes.slack.uploads import Uploads
from bot.fakes.slack.wire import (
    Reply,
    basic_credentials,
    channel_of,
    fault_reply,
    json_object,
    read_args,
    read_upload,
)

__all__ = [
    "AUTHORIZE",
    "HISTORY_METHODS",
    "HISTORY_PAGE",
    "OAUTH_ACCESS",
    "RESPONSE_URL",
    "UPLOAD_URL",
    "Endpoints",
]

# Pseudo-method names under which response_url and upload URL requests are recorded and faulted,
# and authorize requests recorded.
RESPONSE_URL = "response_url"
UPLOAD_URL = "upload_url"
AUTHORIZE = "oauth.v2.authorize"
OAUTH_ACCESS = "oauth.v2.access"
# Recorded calls leave out the token; oauth.v2.access args carry the app's and the install's.
_SECRET_ARGS = frozenset({"client_secret", "refresh_token"})
HISTORY_METHODS = frozenset({"conversations.history", "conversations.replies"})
HISTORY_PAGE = 15


class Endpoints:
    """The request handlers behind ``FakeSlack``'s routes; ``calls`` receives every answer."""

    def __init__(
        self,
        *,
        teams: Teams,
        tokens: Tokens,
        oauth: OAuth,
        hooks: ResponseUrls,
        uploads: Uploads,
        sockets: SocketMode,
        root_url: Callable[[], str],
        faults: Faults,
        calls: list[Call],
        post_rate: float | None,
        post_burst: int,
        clock: Callable[[], float],
        history_interval: float | None = None,
    ) -> None:
        self._teams = teams
        self._tokens = tokens
        self._oauth = oauth
        self._hooks = hooks
        self._uploads = uploads
        self._sockets = sockets
        self._root_url = root_url
        self._faults = faults
        self._calls = calls
        self._post_rate = post_rate
        self._post_burst = post_burst
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._history_interval = history_interval
        self._history_calls: dict[tuple[str, str], float] = {}  # (team, method) -> last answer

    async def handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        token: str | None = None
        team: str | None = None
        try:
            args, token = await read_args(request)
            if method == OAUTH_ACCESS:
                reply = self._answer_oauth(args, basic_credentials(request))
                args = {k: v for k, v in args.items() if k not in _SECRET_ARGS}
            else:
                reply, team = self._answer_api(method, args, token)
        except ApiFailure as failure:
            args, reply = {}, Reply(200, failure.body())
        self._record(method, args, reply, caller=token[-4:] if token else None, team=team)
        return reply.to_response()

    def _answer_oauth(self, args: dict[str, Any], basic: tuple[str, str] | None) -> Reply:
        fault = self._faults.pick(OAUTH_ACCESS, None)
        if fault is not None:
            return fault_reply(fault, json_body=True)
        try:
            return Reply(200, self._oauth.access(args, basic))
        except ApiFailure as failure:
            return Reply(200, failure.body())

    def _answer_api(
        self, method: str, args: dict[str, Any], token: str | None
    ) -> tuple[Reply, str | None]:
        """The reply, and the workspace (or org) that served the call."""
        if method == "apps.connections.open":
            # The one method that takes the app-level token (xapp-) rather than the bot's.
            return Reply(200, self._sockets.open(token, root_url=self._root_url())), None
        if method != "auth.test" and method not in self._teams.default.api.handlers:
            return Reply(200, ApiFailure("unknown_method").body()), None
        try:
            grant = self._tokens.authenticate(token)
        except ApiFailure as failure:
            return Reply(200, failure.body()), None
        tenant = self._teams.route(grant, args)
        if tenant is None and method != "auth.test":
            tenant = self._teams.of_key(grant.key)[0]  # an org-wide token, no workspace named
        team = tenant.team.id if tenant is not None else grant.enterprise_id
        return self._serve(method, args, grant, tenant), team

    def _serve(
        self, method: str, args: dict[str, Any], grant: Grant, tenant: Tenant | None
    ) -> Reply:
        fault = self._faults.pick(method, channel_of(args))
        if fault is not None:
            return fault_reply(fault, json_body=True)
        if method == "chat.postMessage":
            wait = self._rate_limit_wait(channel_of(args))
            if wait:
                return _rate_limited(wait)
        home = tenant or self._teams.of_key(grant.key)[0]
        if method in HISTORY_METHODS and self._history_interval is not None:
            wait = self._history_wait(home.team.id, method)
            if wait:
                return _rate_limited(wait)
            args = {**args, "limit": _history_page(args.get("limit"))}
        try:
            if method == "auth.test":
                result = self._teams.auth_test(grant, tenant)
            else:
                result = home.api.handlers[method](args)
        except ApiFailure as failure:
            return Reply(200, failure.body())
        return Reply(200, result.body, result.headers)

    async def handle_authorize(self, request: web.Request) -> web.Response:
        """``GET /oauth/v2/authorize[/<choices>]``: the person installing clicks "Allow"
        (``oauth``); choices in the path are defaults the query string may override."""
        query = parse_choices(request.match_info.get("choices", "")) | dict(request.query.items())
        reply = self._oauth.authorize(query)
        self._record(AUTHORIZE, query, reply)
        return reply.to_response()

    def _rate_limit_wait(self, channel: str | None) -> float:
        if self._post_rate is None or channel is None:
            return 0.0
        bucket = self._buckets.get(channel)
        if bucket is None:
            bucket = TokenBucket(rate=self._post_rate, burst=self._post_burst, clock=self._clock)
            self._buckets[channel] = bucket
        return bucket.take()

    def _history_wait(self, team: str, method: str) -> float:
        """0 and the call counted, or the seconds until `method` may be called again in the
        workspace (Slack's limits are per app and workspace)."""
        assert self._history_interval is not None
        now = self._clock()
        last = self._history_calls.get((team, method))
        if last is not None and now - last < self._history_interval:
            return self._history_interval - (now - last)
        self._history_calls[team, method] = now
        return 0.0

    async def handle_response_url(self, request: web.Request) -> web.Response:
        raw = await request.read()
        payload = json_object(raw)
        reply = self._answer_response_url(request.path, payload)
        self._record(RESPONSE_URL, {"url": str(request.url), **(payload or {})}, reply)
        return reply.to_response()

    def _answer_response_url(self, path: str, payload: dict[str, Any] | None) -> Reply:
        if not self._hooks.knows(path):
            return Reply(404, "no_service")
        fault = self._faults.pick(RESPONSE_URL, None)
        if fault is not None:
            return fault_reply(fault, json_body=False)
        return self._hooks.accept(path, payload)

    async def handle_upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await read_upload(request)
        fault = self._faults.pick(UPLOAD_URL, None)
        if fault is not None:
            reply = fault_reply(fault, json_body=False)
        elif self._uploads.receive(file_id, request.match_info["secret"], data):
            reply = Reply(200, f"OK - {len(data)}")
        else:
            reply = Reply(404, "file_not_found")
        self._record(UPLOAD_URL, {"file_id": file_id, "length": len(data)}, reply)
        return reply.to_response()

    def _record(
        self,
        method: str,
        args: Mapping[str, Any],
        reply: Reply,
        *,
        caller: str | None = None,
        team: str | None = None,
    ) -> None:
        call = Call(
            method=method,
            args=dict(args),
            time=self._clock(),
            status=reply.status,
            ok=reply.ok,
            error=reply.error,
            caller=caller,
            team=team,
        )
        self._calls.append(call)


def _rate_limited(wait: float) -> Reply:
    return Reply(
        429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after_header(wait))}
    )


def _history_page(limit: object) -> object:
    """Slack's cap on a limited app's page: ``HISTORY_PAGE``, also when no limit is asked."""
    try:
        asked = int(str(limit)) if limit else HISTORY_PAGE
    except ValueError:
        return limit  # the method refuses it as Slack does
    return min(asked, HISTORY_PAGE)
