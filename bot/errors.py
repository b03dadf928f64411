"""The bot's one error tree.

    BotError
    ├── ConfigError            settings missing or malformed (start-up stops with one line)
    ├── UsageError             the user typed something the grammar refuses
    ├── StoreError             the job store failed
    └── EinsteinError          anything from the Einstein API
        ├── EinsteinUnavailable    connection errors, timeouts, 5xx, 429: worth retrying later
        ├── EinsteinAuthError      the key or account is refused: an operator must act
        └── EinsteinRejected       a 4xx the user can act on (carries Einstein's message)
            └── EinsteinNotFound   the model or training is unknown to Einstein

No aiohttp, SQLAlchemy or Slack SDK exception leaves the module that caught it: each is turned
into one of these so callers handle a short, stable list.
"""

from __future__ import annotations

__all__ = [
    "BotError",
    "ConfigError",
    "EinsteinAuthError",
    "EinsteinError",
    "EinsteinNotFound",
    "EinsteinRejected",
    "EinsteinUnavailable",
    "StoreError",
    "UsageError",
]


class BotError(Exception):
    """Base of every error the bot raises on purpose."""


class ConfigError(BotError):
    """Configuration is missing or malformed; the message names the variable, never its value."""


class UsageError(BotError):
    """The command text does not follow the grammar; the message is shown to the user as is."""


class StoreError(BotError):
    """The job store could not be read or written."""


class EinsteinError(BotError):
    """An Einstein API call failed."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class EinsteinUnavailable(EinsteinError):
    """Einstein could not be reached or answered 5xx/429; the call may succeed later."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class EinsteinAuthError(EinsteinError):
    """Einstein refused our credentials even with a freshly minted token."""


class EinsteinRejected(EinsteinError):
    """Einstein refused the request for a reason the user can act on."""


class EinsteinNotFound(EinsteinRejected):
    """Einstein does not know the model or training."""
