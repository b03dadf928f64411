"""Access tokens for Einstein: a ready token, or one minted with the JWT-bearer grant.

The minted token is cached and replaced shortly before it expires or when a call answers 401.
Concurrent refreshes share one token request, so a burst of 401s costs one mint.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

import aiohttp
import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import ValidationError

from bot.einstein.models import TokenResponse
from bot.errors import ConfigError, EinsteinAuthError, EinsteinUnavailable

__all__ = ["JwtTokenSource", "StaticTokenSource", "TokenSource", "load_private_key"]

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Mint a new token this long before the old one expires, so no call goes out with a dying token.
_EXPIRY_MARGIN = 30.0
_ASSERTION_LIFETIME = 60


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

    async def token(self, *, stale: str | None = None) -> str:
        return self._token

    @property
    def can_refresh(self) -> bool:
        return False


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
    ) -> None:
        self._token_url = f"{base_url}v2/oauth2/token"
        self._account_id = account_id
        self._key = load_private_key(private_key_pem)
        self._session = session
        self._clock = clock
        self._valid_for = valid_for
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._current: str | None = None
        self._expires_at = 0.0
        self._minting: asyncio.Task[str] | None = None

    @property
    def can_refresh(self) -> bool:
        return True

    async def token(self, *, stale: str | None = None) -> str:
        fresh = self._current is not None and self._clock() < self._expires_at - _EXPIRY_MARGIN
        if fresh and (stale is None or stale != self._current):
            assert self._current is not None
            return self._current
        if self._minting is None or self._minting.done():
            self._minting = asyncio.ensure_future(self._mint())
        # shield: one caller giving up must not cancel the mint the others wait on.
        return await asyncio.shield(self._minting)

    def _assertion(self) -> str:
        now = int(self._clock())
        claims = {
            "sub": self._account_id,
            "aud": self._token_url,
            "iat": now,
            "exp": now + _ASSERTION_LIFETIME,
        }
        return jwt.encode(claims, self._key, algorithm="RS256")  # type: ignore[arg-type]

    async def _mint(self) -> str:
        form = {
            "grant_type": GRANT_TYPE,
            "assertion": self._assertion(),
            "valid_for": str(self._valid_for),
        }
        try:
            async with self._session.post(self._token_url, data=form, timeout=self._timeout) as r:
                body = await r.read()
                status = r.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise EinsteinUnavailable(
                f"could not reach Einstein's token endpoint ({exc.__class__.__name__})"
            ) from None
        if status >= 500 or status == 429:
            raise EinsteinUnavailable(f"token endpoint answered HTTP {status}", status=status)
        if status != 200:
            raise EinsteinAuthError(
                f"Einstein refused the account's key (HTTP {status}); check EINSTEIN_ACCOUNT_ID "
                "and EINSTEIN_PRIVATE_KEY",
                status=status,
            )
        try:
            parsed = TokenResponse.model_validate_json(body)
        except ValidationError:
            raise EinsteinUnavailable("token endpoint answered with an unreadable body") from None
        self._current = parsed.access_token
        self._expires_at = self._clock() + parsed.expires_in
        return parsed.access_token
