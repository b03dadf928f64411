"""The doctor's Einstein checks: a token (minted, or the ready one) and an answering account."""

from __future__ import annotations

import aiohttp

from bot.credentials import token_source
from bot.doctor import Check
from bot.einstein.client import EinsteinClient
from bot.einstein.models import ApiUsage
from bot.einstein.retry import RetryPolicy
from bot.errors import ConfigError, EinsteinAuthError, EinsteinError
from bot.settings import Settings

__all__ = ["check_einstein"]

# An operator is waiting at the terminal: one retry of a blip, never the follower's patience.
_RETRY = RetryPolicy(attempts=2, budget=15.0)
_TIMEOUT = 10.0
_KEY_FIX = (
    "set EINSTEIN_ACCOUNT_ID and EINSTEIN_PRIVATE_KEY (or EINSTEIN_PRIVATE_KEY_FILE) to the "
    "account and its key, or EINSTEIN_ACCESS_TOKEN to a valid token"
)


async def check_einstein(settings: Settings) -> list[Check]:
    """`einstein token` and `einstein account`."""
    try:
        settings.require_einstein()
    except ConfigError as exc:
        return [Check.failed("einstein token", str(exc), _KEY_FIX), _not_run()]
    async with aiohttp.ClientSession() as session:
        tokens = token_source(settings, session, timeout=_TIMEOUT, retry=_RETRY)
        try:
            await tokens.token()
        except EinsteinError as exc:
            return [_token_failure(exc, settings), _not_run()]
        how = "the ready EINSTEIN_ACCESS_TOKEN" if not tokens.can_refresh else "minted"
        client = EinsteinClient(
            base_url=settings.einstein_api_url,
            tokens=tokens,
            session=session,
            timeout=_TIMEOUT,
            retry=_RETRY,
        )
        try:
            usage = await client.api_usage()
        except EinsteinAuthError as exc:
            fix = "set a valid EINSTEIN_ACCESS_TOKEN" if not tokens.can_refresh else _KEY_FIX
            return [
                Check.failed("einstein token", f"{how}, but refused: {exc.message}", fix),
                _not_run(),
            ]
        except EinsteinError as exc:
            return [
                Check.passed("einstein token", how),
                Check.failed(
                    "einstein account",
                    exc.message,
                    "check EINSTEIN_API_URL; if Einstein is down, try again later",
                ),
            ]
    return [Check.passed("einstein token", how), _account(usage, settings)]


def _token_failure(exc: EinsteinError, settings: Settings) -> Check:
    if isinstance(exc, EinsteinAuthError):
        # The message ends with what to check, by what Einstein said (`bot.einstein.auth`).
        detail, _, hint = exc.message.rpartition("; ")
        return Check.failed("einstein token", detail or exc.message, hint or _KEY_FIX)
    return Check.failed(
        "einstein token",
        exc.message,
        f"check EINSTEIN_API_URL ({settings.einstein_api_url}) and this machine's network",
    )


def _account(months: list[ApiUsage], settings: Settings) -> Check:
    detail = f"{settings.einstein_api_url} answers"
    if months and months[0].predictions_max is not None:
        used = months[0].predictions_used or 0
        detail += f" ({used} of {months[0].predictions_max} predictions used this month)"
    return Check.passed("einstein account", detail)


def _not_run() -> Check:
    return Check.failed("einstein account", "not checked", "fix the token first")
