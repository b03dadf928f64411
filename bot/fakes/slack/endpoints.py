"""How the fake Slack answers each HTTP request: Web API calls, response_urls and uploads.

A Web API call is checked in Slack's order (method known, token, scripted faults, then the
per-channel posting limit for ``chat.postMessage`` and the history limit) before its method runs;
every request, answered or refused, is recorded as a ``Call``.

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
from bot.fakes.slack.methods import WebApi
from bot.fakes.slack.records import Call
from bot.fakes.slack.sockets import SocketMode
from bot.fakes.slack.uploads import Uploads
from bot.fakes.slack.wire import (
    Reply,
    channel_of,
    fault_reply,
    json_object,
    read_args,
    read_upload,
)

__all__ = ["HISTORY_METHODS", "HISTORY_PAGE", "RESPONSE_URL", "UPLOAD_URL", "Endpoints"]

# Pseudo-method names under which response_url and upload URL requests are recorded and faulted.
RESPONSE_URL = "response_url"
UPLOAD_URL = "upload_url"
HISTORY_METHODS = frozenset({"conversations.history", "conversations.replies"})
HISTORY_PAGE = 15


class Endpoints:
    """The request handlers behind ``FakeSlack``'s routes; ``calls`` receives every answer."""

    def __init__(
        self,
        *,
        api: WebApi,
        hooks: ResponseUrls,
        uploads: Uploads,
        sockets: SocketMode,
        root_url: Callable[[], str],
        faults: Faults,
        calls: list[Call],
        tokens: frozenset[str] | None,
        post_rate: float | None,
        post_burst: int,
        clock: Callable[[], float],
        history_interval: float | None = None,
    ) -> None:
        self._api = api
        self._hooks = hooks
        self._uploads = uploads
        self._sockets = sockets
        self._root_url = root_url
        self._faults = faults
        self._calls = calls
        self._tokens = tokens
        self._post_rate = post_rate
        self._post_burst = post_burst
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._history_interval = history_interval
        self._history_calls: dict[str, float] = {}  # method -> when it last answered

    async def handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        token: str | None = None
        try:
            args, token = await read_args(request)
            reply = self._answer_api(method, args, token)
        except ApiFailure as failure:
            args, reply = {}, Reply(200, failure.body())
        self._record(method, args, reply, caller=token[-4:] if token else None)
        return reply.to_response()

    def _answer_api(self, method: str, args: dict[str, Any], token: str | None) -> Reply:
        if method == "apps.connections.open":
            # The one method that takes the app-level token (xapp-) rather than the bot's.
            return Reply(200, self._sockets.open(token, root_url=self._root_url()))
        handler = self._api.handlers.get(method)
        if handler is None:
            return Reply(200, ApiFailure("unknown_method").body())
        auth_error = self._auth_error(token)
        if auth_error:
            return Reply(200, ApiFailure(auth_error).body())
        fault = self._faults.pick(method, channel_of(args))
        if fault is not None:
            return fault_reply(fault, json_body=True)
        if method == "chat.postMessage":
            wait = self._rate_limit_wait(channel_of(args))
            if wait:
                return Reply(
                    429,
                    {"ok": False, "error": "ratelimited"},
                    {"Retry-After": str(retry_after_header(wait))},
                )
        if method in HISTORY_METHODS and self._history_interval is not None:
            wait = self._history_wait(method)
            if wait:
                return Reply(
                    429,
                    {"ok": False, "error": "ratelimited"},
                    {"Retry-After": str(retry_after_header(wait))},
                )
            args = {**args, "limit": _history_page(args.get("limit"))}
        try:
            result = handler(args)
        except ApiFailure as failure:
            return Reply(200, failure.body())
        return Reply(200, result.body, result.headers)

    def _auth_error(self, token: str | None) -> str | None:
        if not token:
            return "not_authed"
        valid = token.startswith("xoxb-") if self._tokens is None else token in self._tokens
        return None if valid else "invalid_auth"

    def _rate_limit_wait(self, channel: str | None) -> float:
        if self._post_rate is None or channel is None:
            return 0.0
        bucket = self._buckets.get(channel)
        if bucket is None:
            bucket = TokenBucket(rate=self._post_rate, burst=self._post_burst, clock=self._clock)
            self._buckets[channel] = bucket
        return bucket.take()

    def _history_wait(self, method: str) -> float:
        """0 and the call counted, or the seconds until `method` may be called again."""
        assert self._history_interval is not None
        now = self._clock()
        last = self._history_calls.get(method)
        if last is not None and now - last < self._history_interval:
            return self._history_interval - (now - last)
        self._history_calls[method] = now
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
        self, method: str, args: Mapping[str, Any], reply: Reply, *, caller: str | None = None
    ) -> None:
        call = Call(
            method=method,
            args=dict(args),
            time=self._clock(),
            status=reply.status,
            ok=reply.ok,
            error=reply.error,
            caller=caller,
        )
        self._calls.append(call)


def _history_page(limit: object) -> object:
    """Slack's cap on a limited app's page: ``HISTORY_PAGE``, also when no limit is asked."""
    try:
        asked = int(str(limit)) if limit else HISTORY_PAGE
    except ValueError:
        return limit  # the method refuses it as Slack does
    return min(asked, HISTORY_PAGE)
