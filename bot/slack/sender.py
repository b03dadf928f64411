"""One attempt of a queued Slack call, made with its workspace's token, and counted.

Each call carries the token of the workspace it was queued for (`bot.slack.tokens`: the
workspace is read when the call is queued, and its token when it is sent, so a rotated or
revoked token is never sent from the queue). Each token gets a client of its own, all on the
one HTTP session.

When Slack answers that a workspace's token no longer works (`invalid_auth`, `token_revoked`,
`account_inactive`, `token_expired`) and the token source takes it back (`Tokens.refused`), the
attempt fails as transient (`token_refused`), and the next one looks the token up again: a
renewed one, or `NotInstalled`.

Every attempt is counted in `retrain_slack_calls_total{method,outcome}` (`bot.metrics`), a 429
as `rate_limited`.
"""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import SlackError
from bot.metrics import Metrics
from bot.slack.failures import Response, api_name, outcome_of, send_once
from bot.slack.lanes import Request
from bot.slack.tokens import Team, Tokens

__all__ = ["Sender"]

# Slack's answers for a token that no longer works: the workspace's token is looked up again.
_REVOKED = frozenset({"invalid_auth", "token_revoked", "account_inactive", "token_expired"})
_MAX_CLIENTS = 1000


class Sender:
    """Sends one attempt of a call with the client of its workspace's token.

    `client` carries the one bot token, or none, and lends its base URL and session to the
    clients of workspace tokens; `call_timeout` bounds each attempt.
    """

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        tokens: Tokens,
        call_timeout: float,
        metrics: Metrics | None = None,
    ) -> None:
        self._client = client
        self._tokens = tokens
        self._clients: dict[str, AsyncWebClient] = {}  # per workspace token
        self._metrics = metrics
        self._methods: dict[str, str] = {}  # slack_sdk's name -> the Web API's, for labels
        self._call_timeout = call_timeout

    async def send(self, request: Request) -> Response:
        """One attempt (`send_once`) with the client of `request`'s workspace."""
        outcome: str | None = None
        client = self._client
        try:
            client = await self._client_for(request.team)
            response = await send_once(
                client, request.method, request.kwargs, call_timeout=self._call_timeout
            )
            outcome = "ok"
            return response
        except SlackError as exc:
            outcome = outcome_of(exc)
            team = request.team
            if (
                team is not None
                and exc.code in _REVOKED
                and self._tokens.refused(team, client.token)
            ):
                # Looked up again on the next attempt: a renewed token, or NotInstalled.
                raise SlackError(
                    f"Slack refused {request.method}'s token ({exc.code})", code="token_refused"
                ) from None
            raise
        finally:
            if self._metrics is not None and outcome is not None:
                self._metrics.slack_call(self._api_name(request.method), outcome)

    async def _client_for(self, team: Team | None) -> AsyncWebClient:
        """The client carrying `team`'s token; one per token, all on the same session."""
        token = await self._tokens.token(team)
        if token is None:
            return self._client
        client = self._clients.get(token)
        if client is None:
            if len(self._clients) > _MAX_CLIENTS:
                self._clients.clear()  # rotated tokens leave old clients behind
            client = self._clients[token] = AsyncWebClient(
                token=token, base_url=self._client.base_url, session=self._client.session
            )
        return client

    def _api_name(self, method: str) -> str:
        name = self._methods.get(method)
        if name is None:
            name = self._methods[method] = api_name(method)
        return name
