"""The per-user rate limit: `RETRAIN_USER_RATE` (e.g. `5/hour`) and the pure decision on it.

The count of recent retrains comes from the job store; here is only the arithmetic, on a
sliding window: a retrain started exactly one window ago no longer counts.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from bot.access.decision import Decision
from bot.errors import ConfigError

__all__ = ["MAX_RATE_COUNT", "MAX_RATE_PERIOD", "RateLimit", "parse_rate", "rate_decision"]

MAX_RATE_COUNT: Final = 1000  # the store is asked for this many recent times at most
MAX_RATE_PERIOD: Final = 365 * 86400  # a longer window is a typo, and overflows dates
_DAY, _HOUR, _MINUTE = 86400, 3600, 60
_UNITS: Final = {
    **dict.fromkeys(("s", "sec", "second"), 1),
    **dict.fromkeys(("m", "min", "minute"), _MINUTE),
    **dict.fromkeys(("h", "hour"), _HOUR),
    **dict.fromkeys(("d", "day"), _DAY),
}
_OFF: Final = frozenset({"", "off", "none"})
_PERIOD: Final = re.compile(r"([0-9]*)\s*([A-Za-z]*)")
_EXAMPLES: Final = "e.g. 5/hour, 10/day or 3/30m"

# (seconds, word for one, suffix for several, plural noun) from the largest unit down.
_SCALE: Final = (
    (_DAY, "day", "d", "days"),
    (_HOUR, "hour", "h", "hours"),
    (_MINUTE, "min", "m", "minutes"),
    (1, "second", "s", "seconds"),
)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `count` retrains per user in any `per_seconds` window."""

    count: int
    per_seconds: int

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_RATE_COUNT or not 1 <= self.per_seconds <= MAX_RATE_PERIOD:
            raise ValueError(f"rate limit out of range: {self.count}/{self.per_seconds}s")

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.per_seconds)

    def __str__(self) -> str:
        """The short form, which parses back: `5/hour`, `3/30m`, `10/day`."""
        size, one, suffix, _ = _unit_of(self.per_seconds)
        amount = self.per_seconds // size
        return f"{self.count}/{one}" if amount == 1 else f"{self.count}/{amount}{suffix}"

    def window_words(self) -> str:
        """The window for people: `the last hour`, `the last 30 minutes`."""
        size, one, _, plural = _unit_of(self.per_seconds)
        amount = self.per_seconds // size
        noun = {"min": "minute"}.get(one, one)
        return f"the last {noun}" if amount == 1 else f"the last {amount} {plural}"


def _unit_of(seconds: int) -> tuple[int, str, str, str]:
    return next(unit for unit in _SCALE if seconds % unit[0] == 0)


# --- parsing -----------------------------------------------------------------------------------


def _unit_seconds(unit: str, *, variable: str) -> int:
    word = unit.lower()
    if word not in _UNITS and len(word) > 2 and word.endswith("s"):
        word = word[:-1]  # `hours`, `mins`; but `ms` is not minutes
    if word in _UNITS:
        return _UNITS[word]
    guess = difflib.get_close_matches(word, list(_UNITS), n=1, cutoff=0.6)
    hint = f"; did you mean `{guess[0]}`?" if guess else f" ({_EXAMPLES})"
    raise ConfigError(f"{variable}: unknown time unit `{unit}`; use s, m, h or d{hint}")


def _parse_count(text: str, *, variable: str) -> int:
    if not text:
        raise ConfigError(f"{variable}: a count must come before `/` ({_EXAMPLES})")
    if not text.isascii() or not text.isdigit():
        raise ConfigError(f"{variable}: the count `{text}` must be a whole number ({_EXAMPLES})")
    count = int(text)
    if count < 1:
        raise ConfigError(f"{variable}: the count must be at least 1; leave it empty for no limit")
    if count > MAX_RATE_COUNT:
        raise ConfigError(f"{variable}: the count must be at most {MAX_RATE_COUNT}")
    return count


def _parse_period(text: str, *, variable: str) -> int:
    if not text:
        raise ConfigError(f"{variable}: a period must follow `/` ({_EXAMPLES})")
    found = _PERIOD.fullmatch(text)
    if found is None:
        raise ConfigError(
            f"{variable}: the period `{text}` must be a unit, optionally after a whole number"
            f" ({_EXAMPLES})"
        )
    amount, unit = found.groups()
    if not unit:
        raise ConfigError(f"{variable}: the period `{text}` needs a unit: s, m, h or d")
    seconds = (int(amount) if amount else 1) * _unit_seconds(unit, variable=variable)
    if seconds < 1:
        raise ConfigError(f"{variable}: the period must be at least one second")
    if seconds > MAX_RATE_PERIOD:
        raise ConfigError(f"{variable}: the period must be at most 365 days")
    return seconds


def parse_rate(raw: str | None, *, variable: str = "RETRAIN_USER_RATE") -> RateLimit | None:
    """`5/hour`, `10/day`, `3/30m`, `1/min` into a `RateLimit`; unset, blank or `off` is None."""
    if raw is None or raw.strip().lower() in _OFF:
        return None
    count, slash, period = raw.strip().partition("/")
    if not slash or "/" in period:
        raise ConfigError(f"{variable}: write it as <count>/<period>, {_EXAMPLES}")
    return RateLimit(
        _parse_count(count.strip(), variable=variable),
        _parse_period(period.strip(), variable=variable),
    )


# --- deciding ----------------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    # The job store hands back UTC; a naive time is read as UTC the way the store writes it.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _when(moment: datetime, *, now: datetime) -> str:
    wait = math.ceil((moment - now).total_seconds())
    if wait < _MINUTE:
        return f"in {wait} second{'s' if wait != 1 else ''}"
    # Rounded up: telling people a minute too early only earns them a second refusal.
    shown = moment.replace(second=0, microsecond=0)
    if shown < moment:
        shown += timedelta(minutes=1)
    if shown.date() == now.date():
        return f"at {shown:%H:%M} UTC"
    return f"at {shown:%H:%M} UTC on {shown:%Y-%m-%d}"


def rate_decision(limit: RateLimit, recent_times: Sequence[datetime], now: datetime) -> Decision:
    """Whether one more retrain fits in the window ending `now`, given this user's recent starts.

    Starts later than `now` (clock skew) count too. A refusal says when the next one fits.
    """
    now = _utc(now)
    start = now - limit.window
    counted = sorted(moment for moment in map(_utc, recent_times) if moment > start)
    if len(counted) < limit.count:
        return Decision.allow()
    # The retrain whose expiry brings the count below the limit.
    frees_at = counted[len(counted) - limit.count] + limit.window
    started = f"{len(counted)} retrain{'s' if len(counted) != 1 else ''}"
    return Decision.deny(
        f"You have started {started} in {limit.window_words()} (limit {limit});"
        f" the next one is possible {_when(frees_at, now=now)}."
    )
