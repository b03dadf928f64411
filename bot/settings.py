"""Settings from the environment (and a `.env` file), validated once at start-up.

Every secret is a `SecretStr`; errors name the variable, never its value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.access import AccessPolicy
from bot.core.schedule import Timing
from bot.einstein.auth import load_private_key
from bot.errors import ConfigError

__all__ = ["Settings", "load_settings", "timing_from"]

_DEFAULT_EINSTEIN_URL = "https://api.einstein.ai/"


class Settings(BaseSettings):
    """The bot's configuration; field names map to the upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    # Installable with Slack's OAuth flow (many workspaces) instead of one SLACK_BOT_TOKEN.
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_state_secret: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    # Slack accepts about one message per second per channel; tests and the demo go faster.
    slack_post_interval: float = Field(default=1.0, ge=0, le=60)

    einstein_api_url: str = Field(
        default=_DEFAULT_EINSTEIN_URL,
        validation_alias=AliasChoices("EINSTEIN_API_URL", "EINSTEIN_VISION_URL"),
    )
    einstein_account_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices("EINSTEIN_ACCOUNT_ID", "EINSTEIN_VISION_ACCOUNT_ID"),
    )
    einstein_private_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("EINSTEIN_PRIVATE_KEY", "EINSTEIN_VISION_PRIVATE_KEY"),
    )
    einstein_private_key_file: Path | None = None
    einstein_access_token: SecretStr | None = None
    # Seconds one Einstein request may take before it counts as failed (and is retried).
    einstein_timeout: float = Field(default=20.0, gt=0, le=300)

    database_url: str = "sqlite:///retrain-bot.sqlite3"
    retrain_channel: str | None = None
    retrain_poll_interval: float = Field(default=10.0, gt=0, le=3600)
    port: int = Field(default=3000, ge=1, le=65535)
    retrain_stall_after: float = Field(default=1800.0, gt=0)
    retrain_queue_stall_after: float = Field(default=1800.0, gt=0)
    retrain_unreachable_after: float = Field(default=600.0, gt=0)
    retrain_lease_seconds: float = Field(default=30.0, ge=1, le=3600)

    # Access control: raw comma-separated text, parsed by bot.policy (empty means open).
    retrain_allowed_users: str | None = None
    retrain_allowed_groups: str | None = None
    retrain_allowed_channels: str | None = None
    retrain_policy_file: Path | None = None
    retrain_user_rate: str | None = None
    retrain_approval_ttl: float = Field(default=3600.0, gt=0)
    retrain_trigger_interval: float = Field(default=900.0, gt=0)
    retrain_regression_alert: float = Field(default=2.0, ge=0, le=100)
    log_format: Literal["text", "json"] = "text"

    @field_validator("slack_api_url", "einstein_api_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        # Both APIs are addressed as base + path; a missing slash would glue them together.
        return value if value.endswith("/") else value + "/"

    @field_validator("retrain_channel")
    @classmethod
    def _channel_id(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not value.isalnum() or value[0] not in "CGD":
            raise ValueError("must be a channel ID such as C0123ABCD (not a #name)")
        return value

    @field_validator(
        "slack_bot_token",
        "slack_app_token",
        "slack_signing_secret",
        "slack_client_id",
        "slack_client_secret",
        "slack_state_secret",
        "einstein_access_token",
        "einstein_private_key",
        # A config var left empty (as Heroku's deploy form may set it) means not set, not `.`.
        "einstein_private_key_file",
        "retrain_policy_file",
        "retrain_allowed_users",
        "retrain_allowed_groups",
        "retrain_allowed_channels",
        "retrain_user_rate",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    def access_policy(self) -> AccessPolicy:
        """The access rules from RETRAIN_ALLOWED_*, RETRAIN_POLICY_FILE and RETRAIN_USER_RATE."""
        return AccessPolicy.from_config(
            allowed_users=self.retrain_allowed_users,
            allowed_groups=self.retrain_allowed_groups,
            allowed_channels=self.retrain_allowed_channels,
            policy_file=self.retrain_policy_file,
            user_rate=self.retrain_user_rate,
        )

    def private_key_pem(self) -> str | None:
        """The RSA key PEM, from the variable or the file; Heroku may store it with literal \\n."""
        if self.einstein_private_key is not None:
            return self.einstein_private_key.get_secret_value().replace("\\n", "\n").strip() + "\n"
        if self.einstein_private_key_file is not None:
            try:
                return self.einstein_private_key_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(
                    f"EINSTEIN_PRIVATE_KEY_FILE: cannot read {self.einstein_private_key_file}"
                    f" ({exc.strerror or exc.__class__.__name__})"
                ) from None
        return None

    @property
    def has_accounts(self) -> bool:
        """Whether any Slack or Einstein credential is configured at all."""
        return any(
            value is not None
            for value in (
                self.slack_bot_token,
                self.slack_app_token,
                self.slack_signing_secret,
                self.slack_client_id,
                self.einstein_access_token,
                self.einstein_private_key,
                self.einstein_private_key_file,
                self.einstein_account_id,
            )
        )

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def oauth(self) -> bool:
        """Whether the bot is installed with Slack's OAuth flow rather than one bot token (a
        state secret alone does not say so: Heroku's deploy button generates one anyway)."""
        return self.slack_client_id is not None or self.slack_client_secret is not None

    def require_serving(self) -> None:
        """Check what `python -m bot` needs to serve Slack; raise ConfigError naming the gap."""
        if self.oauth:
            self._require_oauth()
        else:
            token = _secret(self.slack_bot_token)
            if token is None:
                raise ConfigError(
                    "SLACK_BOT_TOKEN is not set (the bot token, xoxb-...; or SLACK_CLIENT_ID, "
                    "SLACK_CLIENT_SECRET and SLACK_STATE_SECRET to install with OAuth)"
                )
            if not token.startswith("xoxb-"):
                raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
        app_token = _secret(self.slack_app_token)
        if app_token is not None and not app_token.startswith("xapp-"):
            raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
        if app_token is None and self.slack_signing_secret is None:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is not set (needed in HTTP mode; set SLACK_APP_TOKEN "
                "to use Socket Mode instead)"
            )
        self.require_einstein()

    def _require_oauth(self) -> None:
        missing = [
            name
            for name, value in (
                ("SLACK_CLIENT_ID", self.slack_client_id),
                ("SLACK_CLIENT_SECRET", self.slack_client_secret),
                ("SLACK_STATE_SECRET", self.slack_state_secret),
            )
            if value is None
        ]
        if missing:
            raise ConfigError(
                f"{' and '.join(missing)} not set: installing with Slack's OAuth flow needs "
                "SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_STATE_SECRET"
            )
        if self.slack_bot_token is not None:
            raise ConfigError(
                "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set: use the bot token for one "
                "workspace, or the OAuth variables to be installable, not both"
            )
        state_secret = _secret(self.slack_state_secret) or ""
        if len(state_secret) < 16:
            raise ConfigError(
                "SLACK_STATE_SECRET must be at least 16 characters (a random string: it signs "
                "the install links)"
            )

    def require_einstein(self) -> None:
        if self.einstein_access_token is not None:
            return
        if not self.einstein_account_id:
            raise ConfigError(
                "EINSTEIN_ACCOUNT_ID is not set (or set EINSTEIN_ACCESS_TOKEN to use a ready token)"
            )
        pem = self.private_key_pem()
        if pem is None:
            raise ConfigError(
                "EINSTEIN_PRIVATE_KEY is not set (the RSA key PEM; or EINSTEIN_PRIVATE_KEY_FILE)"
            )
        load_private_key(pem)  # a broken key stops start-up, not the first retrain


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value().strip() if value is not None else None


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning pydantic's report into one line without any input value."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "configuration"
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{name}: {message}") from None


def timing_from(settings: Settings, **overrides: float) -> Timing:
    """The follower's timing from settings; tests and the demo override single values."""
    values: dict[str, float] = {
        "poll_interval": settings.retrain_poll_interval,
        "lease_seconds": settings.retrain_lease_seconds,
        "claim_interval": min(5.0, settings.retrain_lease_seconds / 4),
        "stall_after": settings.retrain_stall_after,
        "queue_stall_after": settings.retrain_queue_stall_after,
        "unreachable_after": settings.retrain_unreachable_after,
        "trigger_interval": settings.retrain_trigger_interval,
        "regression_alert": settings.retrain_regression_alert,
    }
    return Timing(**(values | overrides))
