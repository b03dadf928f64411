"""The bot's one error tree.

    BotError
    ├── ConfigError            settings missing or malformed (start-up stops with one line)
    ├── UsageError             the user typed something the grammar refuses
    ├── StoreError             the job store failed
    ├── EinsteinError          anything from the Einstein API
    │   ├── EinsteinUnavailable    connection errors, timeouts, 5xx, 429: worth retrying later
    │   ├── EinsteinAuthError      the key or account is refused: an operator must act
    │   └── EinsteinRejected       a 4xx the user can act on (carries Einstein's message)
    │       └── EinsteinNotFound   the model or training is unknown to Einstein
    └── SlackError             a Slack Web API call failed or was not made (`code`, `permanent`)
        └── SlackRefused           Slack refused for good: sending again cannot help

No aiohttp, SQLAlchemy or Slack SDK exception leaves the module that caught it: each is turned
into one of these so callers handle a short, stable list.

An `EinsteinError` also says what went wrong in `kind`, so callers that explain it (see
`bot.einstein.explain`) need not parse messages again:

    unavailable        5xx, or a connection broken after the request may have been sent
    rate_limited       429
    timeout            no answer in time; the request may have reached Einstein
    unreachable        no connection could be made: the request certainly did not reach Einstein
    auth               the credentials were refused
    not_found          the model or dataset is unknown to Einstein
    unknown_label      a feedback example's label is not one of the dataset's labels
    dataset_busy       another training of the dataset is queued or running
    too_many_words     the dataset has more words than training accepts
    dataset_not_ready  the dataset is still being created or updated
    invalid_parameter  a parameter was refused; `einstein_message` says which
    rejected           any other 4xx
    malformed          an answer the client cannot read: HTML, empty, not JSON, wrong shape

`message` is safe to log; `einstein_message` is Einstein's own text (trimmed, control characters
removed, secrets redacted) and still needs escaping before it is shown in Slack.
"""

from __future__ import annotations

from typing import ClassVar, Literal, TypeAlias

__all__ = [
    "BotError",
    "ConfigError",
    "EinsteinAuthError",
    "EinsteinError",
    "EinsteinErrorKind",
    "EinsteinNotFound",
    "EinsteinRejected",
    "EinsteinUnavailable",
    "SlackError",
    "SlackRefused",
    "StoreError",
    "UsageError",
]


EinsteinErrorKind: TypeAlias = Literal[
    "unavailable",
    "rate_limited",
    "timeout",
    "unreachable",
    "auth",
    "not_found",
    "unknown_label",
    "dataset_busy",
    "too_many_words",
    "dataset_not_ready",
    "invalid_parameter",
    "rejected",
    "malformed",
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
    """An Einstein API call failed; raised as such, Einstein's answer could not be read."""

    default_kind: ClassVar[EinsteinErrorKind] = "malformed"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        kind: EinsteinErrorKind | None = None,
        einstein_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.kind: EinsteinErrorKind = kind or self.default_kind
        self.einstein_message = einstein_message


class EinsteinUnavailable(EinsteinError):
    """Einstein could not be reached or answered 5xx/429; the call may succeed later.

    `retry_after` is the wait in seconds Einstein asked for (`Retry-After`), if it gave one.
    """

    default_kind: ClassVar[EinsteinErrorKind] = "unavailable"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        kind: EinsteinErrorKind | None = None,
        einstein_message: str | None = None,
    ) -> None:
        super().__init__(message, status=status, kind=kind, einstein_message=einstein_message)
        self.retry_after = retry_after


class EinsteinAuthError(EinsteinError):
    """Einstein refused our credentials even with a freshly minted token."""

    default_kind: ClassVar[EinsteinErrorKind] = "auth"


class EinsteinRejected(EinsteinError):
    """Einstein refused the request for a reason the user can act on."""

    default_kind: ClassVar[EinsteinErrorKind] = "rejected"


class EinsteinNotFound(EinsteinRejected):
    """Einstein does not know the model or training."""

    default_kind: ClassVar[EinsteinErrorKind] = "not_found"


class SlackError(BotError):
    """A Slack Web API call failed or was not made.

    `code` is Slack's error code ("not_in_channel"), else the HTTP status ("503"), "connection",
    "timeout" or "outbox_closed". `retry_after` is the server's `Retry-After`, in seconds, if sent.
    """

    permanent = False

    def __init__(self, message: str, *, code: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


class SlackRefused(SlackError):
    """Slack refused the call for good (`channel_not_found`, `invalid_blocks`, ...): nothing was
    posted or changed and sending it again would be refused again."""

    permanent = True
