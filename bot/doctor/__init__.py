"""`python -m bot doctor`: is this bot ready to serve? One line per check, a fix for each failure.

    ok    configuration    every setting parsed (HTTP mode)
    FAIL  slack scopes     the token lacks im:write → fix: add them under OAuth & Permissions …

Checks, in order: the configuration (parsed as start-up parses it), Slack (`auth.test` with the
bot token; the scopes Slack says it granted against `manifest.yml`; the signing secret or app
token of the chosen mode), Einstein (a token minted or the ready one accepted; a cheap call
answered), the database (connects within a few seconds; the bot's schema is there) and the
policy file (loaded as start-up loads it, with its line numbers). A check whose input is
missing (no settings, no token) says it was not run. The exit code is 0 when every check
passes, 1 otherwise.

Nothing here prints a secret: messages come from `ConfigError` and `EinsteinError` (which
never hold one), from Slack's error codes, and from URLs with the password hidden.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = ["Check", "all_passed", "render", "run_doctor"]

_NAME_WIDTH = 17


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """The outcome of one check: what was found, and on failure what to do about it."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None

    @classmethod
    def passed(cls, name: str, detail: str) -> Check:
        return cls(name=name, ok=True, detail=detail)

    @classmethod
    def failed(cls, name: str, detail: str, fix: str) -> Check:
        return cls(name=name, ok=False, detail=detail, fix=fix)


def render(check: Check) -> str:
    """One line: `ok` or `FAIL`, the check's name, what was found, and the fix."""
    mark = "ok  " if check.ok else "FAIL"
    line = f"{mark}  {check.name:<{_NAME_WIDTH}} {check.detail}"
    return f"{line} → fix: {check.fix}" if check.fix else line


async def run_doctor() -> list[Check]:
    """Run every check; the configuration first, since the others read it."""
    # Imported here: `python -m bot --help` need not load the checks' dependencies.
    from bot.doctor.database import check_database
    from bot.doctor.einstein import check_einstein
    from bot.doctor.slack import check_slack
    from bot.errors import ConfigError
    from bot.settings import load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        config = Check.failed(
            "configuration", str(exc), "set it as the README's Configuration table says"
        )
        skipped = ("slack", "einstein", "database", "policy file")
        return [config, *(_not_run(name) for name in skipped)]
    mode = "Socket Mode" if settings.socket_mode else "HTTP mode"
    # Side by side: an operator waits for the slowest check, not for the sum of their timeouts.
    slack, einstein, database = await asyncio.gather(
        check_slack(settings), check_einstein(settings), check_database(settings.database_url)
    )
    configuration = Check.passed("configuration", f"every setting parsed ({mode})")
    return [configuration, *slack, *einstein, database, _check_policy(settings)]


def _check_policy(settings: Settings) -> Check:
    from bot.errors import ConfigError

    try:
        policy = settings.access_policy()
    except ConfigError as exc:
        return Check.failed(
            "policy file",
            str(exc),
            "correct what the message names (see the README's Who may retrain what)",
        )
    where = f"{settings.retrain_policy_file}: " if settings.retrain_policy_file else ""
    return Check.passed("policy file", where + policy.describe())


def _not_run(name: str) -> Check:
    return Check.failed(name, "not checked", "fix the configuration first")


def all_passed(checks: Iterable[Check]) -> bool:
    return all(check.ok for check in checks)
