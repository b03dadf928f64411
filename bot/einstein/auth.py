"""Access tokens for Einstein: a ready token, or one minted with the JWT-bearer grant.

The minted token is cached and replaced shortly before it expires or when a call answers 401.
Concurrent refreshes share one token request, so a burst of 401s costs one mint. A token request
only mints, so it is retried like the reads (see `bot.einstein.client`).

`JwtTokenSource.problem` says, for the operator, why the last mint failed (None once one works);
it is logged when it appears or changes, not on every call. No message, log line or repr holds
the private key, an assertion or a token.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Callable
from typing import Protocol

import aiohttp
import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import ValidationError

from bot.einstein.answers import einstein_message
from bot.einstein.models import TokenResponse
from bot.einstein.retry import DEFAULT_RETRY, RetryPolicy, call_with_retries, parse_retry_after
from bot.errors import ConfigError, EinsteinAuthError, EinsteinError, EinsteinUnavailable
from bot.metrics import Metrics

__all__ = ["JwtTokenSource", "StaticTokenSource", "TokenSource", "load_private_key"]

log = logging.getLogger(__name__)

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Mint a new token this long before the old one expires, so no call goes out with a dying token
# (at most half the lifetime, for the short-lived tokens a test service hands out).
_EXPIRY_MARGIN = 30.0
_ASSERTION_LIFETIME = 60

# What to check, by what Einstein's refusal mentions (its wording is not documented); first match
# wins, so "the signature does not match the account's key" points at the key.
_HINTS = (
    (
        re.compile(r"\b(signature|key|sign\w*)\b", re.IGNORECASE),
        "check EINSTEIN_PRIVATE_KEY (it must be the key registered for the account)",
    ),
    (re.compile(r"\b(sub|account|user(name)?)\b", re.IGNORECASE), "check EINSTEIN_ACCOUNT_ID"),
    (re.compile(r"\b(aud|audience|url)\b", re.IGNORECASE), "check EINSTEIN_API_URL"),
    (re.compile(r"\b(exp|iat|expired|clock)\b", re.IGNORECASE), "check this machine's clock"),
)
_DEFAULT_HINT = "check EINSTEIN_ACCOUNT_ID and EINSTEIN_PRIVATE_KEY"


class TokenSource(Protocol):
    async def token(self, *, stale: str | None = None) -> str:
        """A valid access token; `stale` names one Einstein just refused, to be replaced."""
        ...

    @property
    def can_refresh(self) -> bool: ...


class StaticTokenSource:
    """EINSTEIN_ACCESS_TOKEN: used as is; a 401 cannot be cured by asking again."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "StaticTokenSource(token=<hidden>)"

    async def token(self, *, stale: str | None = None) -> str:
        return self._token

    @property
    def can_refresh(self) -> bool:
        return False

    @property
    def problem(self) -> str | None:
        """Nothing is minted, so nothing can fail here; the client reports a refused token."""
        return None


# Cached: checking an RSA key costs ~50 ms, and a key is loaded again for each token source.
@functools.lru_cache(maxsize=4)
def load_private_key(pem: str) -> object:
    """Parse the PEM once at start-up so a broken key is an operator error, not a user one."""
    try:
        return load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigError("EINSTEIN_PRIVATE_KEY is not a readable RSA private key PEM") from None


class JwtTokenSource:
    """Mints access tokens at `{base}v2/oauth2/token` with an RS256 assertion."""

    def __init__(
        self,
        *,
        base_url: str,
        account_id: str,
        private_key_pem: str,
        session: aiohttp.ClientSession,
        clock: Callable[[], float] = time.time,
        valid_for: int = 3600,
        timeout: float = 15.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._token_url = f"{base_url}v2/oauth2/token"
        self._account_id = account_id
        self._key = load_private_key(private_key_pem)
        self._session = session
        self._clock = clock
        self._valid_for = valid_for
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retry = retry
        self._current: str | None = None
        self._refresh_at = 0.0
        self._minting: asyncio.Task[str] | None = None
        self._problem: str | None = None

    def __repr__(self) -> str:
        return f"JwtTokenSource(account_id={self._account_id!r})"

    @property
    def can_refresh(self) -> bool:
        return True

    @property
    def problem(self) -> str | None:
        """Why the last token request failed, for the operator; None when it worked."""
        return self._problem

    async def token(self, *, stale: str | None = None) -> str:
        fresh = self._current is not None and self._clock() < self._refresh_at
        if fresh and (stale is None or stale != self._current):
            assert self._current is not None
            return self._current
        if self._minting is None or self._minting.done():
            self._minting = asyncio.ensure_future(self._mint())
            # A mint whose every waiter gave up must not log "exception never retrieved".
            self._minting.add_done_callback(_retrieve)
        # shield: one caller giving up must not cancel the mint the others wait on.
        return await asyncio.shield(self._minting)

    async def _mint(self) -> str:
        try:
            parsed = await call_with_retries(
                self._counted,
                policy=self._retry,
                retry_on=lambda exc: isinstance(exc, EinsteinUnavailable),
                what="token request",
            )
        except EinsteinError as exc:
            self._report(exc.message)
            raise
        self._current = parsed.access_token
        lifetime = max(parsed.expires_in, 0.0)
        self._refresh_at = self._clock() + lifetime - min(_EXPIRY_MARGIN, lifetime / 2)
        log.debug("minted an Einstein access token for %s, valid %g s", self._account_id, lifetime)
        self._report(None)
        return parsed.access_token

    def _report(self, problem: str | None) -> None:
        if problem == self._problem:
            return
        if problem is not None:
            log.error("%s", problem)
        else:
            log.warning("Einstein accepts the bot's key for %s again", self._account_id)
        self._problem = problem

    def _assertion(self) -> str:
        now = int(self._clock())
        claims = {
            "sub": self._account_id,
            "aud": self._token_url,
            "iat": now,
            "exp": now + _ASSERTION_LIFETIME,
        }
        return jwt.encode(claims, self._key, algorithm="RS256")  # type: ignore[arg-type]

    async def _counted(self) -> TokenResponse:
        """One token request, counted as `call="token"` in the Einstein calls metric."""
        if self._metrics is None:
            return await self._request_token()
        try:
            parsed = await self._request_token()
        except EinsteinError as exc:
            self._metrics.einstein_call("token", exc.kind)
            raise
        self._metrics.einstein_call("token", "ok")
        return parsed

    async def _request_token(self) -> TokenResponse:
        # A fresh assertion per attempt: a retried one could expire while the retries wait.
        assertion = self._assertion()
        form = {"grant_type": GRANT_TYPE, "assertion": assertion, "valid_for": str(self._valid_for)}
        try:
            async with self._session.post(self._token_url, data=form, timeout=self._timeout) as r:
                body = await r.read()
                status = r.status
                retry_after = r.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise EinsteinUnavailable(
                f"could not reach Einstein's token endpoint ({exc.__class__.__name__})",
                kind="timeout" if isinstance(exc, TimeoutError) else "unreachable",
            ) from None
        if status >= 500 or status == 429:
            raise EinsteinUnavailable(
                f"Einstein's token endpoint is unavailable (HTTP {status})",
                status=status,
                retry_after=parse_retry_after(retry_after),
                kind="rate_limited" if status == 429 else "unavailable",
            )
        if status != 200:
            said = einstein_message(body, secrets=(assertion,))
            detail = f"HTTP {status}: {said}" if said else f"HTTP {status}"
            raise EinsteinAuthError(
                f"Einstein refused the JWT for account {self._account_id} ({detail}); "
                + _hint(said),
                status=status,
                einstein_message=said,
            )
        try:
            return TokenResponse.model_validate_json(body)
        except ValidationError:
            raise EinsteinError(
                "Einstein's token endpoint answered with an unreadable body (HTTP 200)",
                status=status,
            ) from None


def _hint(said: str | None) -> str:
    for pattern, hint in _HINTS:
        if said and pattern.search(said):
            return hint
    return _DEFAULT_HINT


def _retrieve(task: asyncio.Task[str]) -> None:
    if not task.cancelled():
        task.exception()
