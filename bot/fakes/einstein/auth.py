"""The simulator's OAuth: the JWT-bearer grant and the bearer check every other call makes.

Statuses chosen where the live service is undocumented: a request the endpoint cannot read
(missing or unknown `grant_type`, no `assertion`, undecodable JWT, bad `valid_for`) is a 400;
a readable assertion that is refused (unknown account, wrong signature, wrong `aud`, expired,
not RS256) is a 401. Both carry `{"message": ...}`.

Token lifetimes run on the real clock the simulator was given, not on simulated time: the client
measures them with its own clock, and a `time_scale` must not make them lapse early.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.types import Options

from bot.fakes.einstein.requests import ApiError

__all__ = ["INVALID_SCHEME", "INVALID_TOKEN", "JWT_GRANT", "TokenIssuer"]

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
INVALID_SCHEME = "Invalid authentication scheme"
INVALID_TOKEN = "Invalid access token"  # noqa: S105 - an error message, not a secret
_DEFAULT_VALID_FOR = 60
_MAX_VALID_FOR = 30 * 24 * 3600
_TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # noqa: S105 - base32 letters
_TOKEN_LENGTH = 103  # as long as the spec's example token


@dataclass(frozen=True, slots=True)
class _Token:
    account_id: str
    expires_at: float


class TokenIssuer:
    """Registered accounts and the access tokens minted for them."""

    def __init__(
        self, *, clock: Callable[[], float], token_ttl: float | None, rng: random.Random
    ) -> None:
        self._clock = clock
        self._token_ttl = token_ttl
        self._rng = rng
        self._keys: dict[str, RSAPublicKey] = {}
        self._tokens: dict[str, _Token] = {}

    def add_account(self, account_id: str, public_key_pem: str | bytes) -> None:
        pem = public_key_pem.encode() if isinstance(public_key_pem, str) else public_key_pem
        key = load_pem_public_key(pem)
        if not isinstance(key, RSAPublicKey):
            raise ValueError("an Einstein account key must be an RSA public key")
        self._keys[account_id] = key

    def issue(self, account_id: str, *, valid_for: int = _DEFAULT_VALID_FOR) -> tuple[str, int]:
        """A new access token and its lifetime in seconds (`token_ttl`, when set, caps it)."""
        lifetime = valid_for if self._token_ttl is None else min(valid_for, self._token_ttl)
        token = "".join(self._rng.choices(_TOKEN_ALPHABET, k=_TOKEN_LENGTH))
        self._tokens[token] = _Token(account_id, self._clock() + lifetime)
        return token, round(lifetime)

    def revoke_all(self) -> None:
        self._tokens.clear()

    def authenticate(self, authorization: str | None) -> str:
        """The account behind an `Authorization` header, or the documented 401."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, INVALID_SCHEME)
        record = self._tokens.get(token)
        if record is None or record.expires_at <= self._clock():
            raise ApiError(401, INVALID_TOKEN)
        return record.account_id

    def exchange(self, form: Mapping[str, str]) -> dict[str, Any]:
        """`POST /v2/oauth2/token` with the JWT-bearer grant."""
        grant = form.get("grant_type")
        if grant != JWT_GRANT:
            raise ApiError(400, f"Unsupported grant_type '{grant}': use {JWT_GRANT}")
        assertion = form.get("assertion")
        if not assertion:
            raise ApiError(400, "assertion is required")
        valid_for = _parse_valid_for(form.get("valid_for"))
        account_id = self._verify(assertion)
        token, lifetime = self.issue(account_id, valid_for=valid_for)
        return {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}

    def _verify(self, assertion: str) -> str:
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise ApiError(400, "assertion is not a readable JWT") from None
        if header.get("alg") != "RS256":
            raise ApiError(401, "Invalid JWT: it must be signed with RS256")
        account_id = claims.get("sub")
        if not isinstance(account_id, str) or account_id not in self._keys:
            raise ApiError(401, "Invalid JWT: sub is not a registered account")
        self._check_signature(assertion, self._keys[account_id])
        _check_audience(claims.get("aud"))
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or isinstance(expires, bool):
            raise ApiError(401, "Invalid JWT: exp is required")
        if expires <= self._clock():
            raise ApiError(401, "Invalid JWT: the assertion has expired")
        return account_id

    def _check_signature(self, assertion: str, key: RSAPublicKey) -> None:
        # Time claims are checked against the simulator's clock, not PyJWT's wall clock.
        options: Options = {
            "verify_exp": False,
            "verify_iat": False,
            "verify_nbf": False,
            "verify_aud": False,
        }
        try:
            jwt.decode(assertion, key, algorithms=["RS256"], options=options)
        except jwt.PyJWTError:
            raise ApiError(
                401, "Invalid JWT: the signature does not match the account's public key"
            ) from None


def _check_audience(audience: Any) -> None:
    audiences = audience if isinstance(audience, list) else [audience]
    if not any(isinstance(a, str) and a.endswith("v2/oauth2/token") for a in audiences):
        raise ApiError(401, "Invalid JWT: aud must be the token endpoint URL (.../v2/oauth2/token)")


def _parse_valid_for(raw: str | None) -> int:
    if raw is None or raw == "":
        return _DEFAULT_VALID_FOR
    try:
        valid_for = int(raw)
    except ValueError:
        valid_for = 0
    if not 1 <= valid_for <= _MAX_VALID_FOR:
        raise ApiError(
            400, f"valid_for must be a whole number of seconds from 1 to {_MAX_VALID_FOR}"
        )
    return valid_for
